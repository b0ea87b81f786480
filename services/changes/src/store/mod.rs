//! The changes storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod change_requests;
pub mod publications;
pub mod reference;
pub mod releases;
