//! The cases storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod areas;
pub mod attachments;
pub mod cases;
pub mod comments;
pub mod filings;
pub mod held_mails;
pub mod incident_updates;
pub mod incidents;
pub mod known_issues;
pub mod numbers;
pub mod operational_message_updates;
pub mod operational_messages;
pub mod queues;
pub mod ratings;
pub mod sla_notices;
pub mod supplier_mails;
pub mod surveys;
pub mod systems;
pub mod teams;
