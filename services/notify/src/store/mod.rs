//! The notify storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod feed_entries;
pub mod handled_events;
pub mod notifications;
pub mod subscriptions;
