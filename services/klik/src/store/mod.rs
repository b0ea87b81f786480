//! klik's storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod enrolments;
pub mod package_items;
pub mod packages;
pub mod projects;
pub mod review_comments;
pub mod tasks;
pub mod template_versions;
pub mod templates;
pub mod waves;
