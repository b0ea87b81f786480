//! The changes storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod change_requests;
pub mod publications;
pub mod reference;
pub mod releases;

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
