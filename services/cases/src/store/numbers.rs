//! The numbers people read (`SAG-000123`, `DRIFT-000012`): from a sequence on PostgreSQL, which locks
//! nothing until the commit (numbers a rolled-back transaction took are skipped); from a counter row on
//! SQLite, which writes one transaction at a time anyway.

use sea_orm::{ConnectionTrait, DbBackend};

use kommune_platform::Error;

/// What is numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbered {
    /// Cases.
    Case,
    /// Incidents.
    Incident,
}

/// The next number of `what`.
pub async fn next(txn: &impl ConnectionTrait, what: Numbered) -> Result<i64, Error> {
    let (sequence, counter) = match what {
        Numbered::Case => ("case_number_sequence", "case_numbers"),
        Numbered::Incident => ("incident_number_sequence", "incident_numbers"),
    };
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT nextval('{sequence}') AS last"),
        _ => format!("UPDATE {counter} SET last = last + 1 WHERE id = 1 RETURNING last"),
    };
    let row = txn
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| Error::internal(format!("the counter {counter} is missing")))?;
    Ok(row.try_get::<i64>("", "last")?)
}
