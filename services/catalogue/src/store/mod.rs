//! The catalogue's storage: sea-orm entities and plain async queries, run inside the caller's
//! transaction.

pub mod debtors;
pub mod invoicing_runs;
pub mod item_versions;
pub mod items;
pub mod order_attachments;
pub mod order_comments;
pub mod order_registrations;
pub mod order_steps;
pub mod orders;
pub mod settled_months;
