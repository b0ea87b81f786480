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

use kommune_platform::Error;
use sea_orm::DbErr;

/// Maps a unique violation to ALREADY_EXISTS on `field`, other errors to INTERNAL.
fn unique(err: DbErr, field: &'static str, description: impl FnOnce() -> String) -> Error {
    if kommune_platform::db::is_unique_violation(&err) {
        Error::AlreadyExists {
            field,
            description: description(),
        }
    } else {
        err.into()
    }
}

/// Maps an update that matched no row (a stale version) to ABORTED.
fn require_updated(rows: u64, what: &str) -> Result<(), Error> {
    if rows == 0 {
        Err(Error::Aborted(format!(
            "the {what} was changed concurrently; read it again"
        )))
    } else {
        Ok(())
    }
}
