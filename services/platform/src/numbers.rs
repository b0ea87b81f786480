//! The numbers people read (`SAG-000123`, `BEST-000012`): from a sequence on PostgreSQL, which locks
//! nothing until the commit (numbers a rolled-back transaction took are skipped); from a counter row on
//! SQLite, which writes one transaction at a time anyway. [`create`] makes both in a migration.
//! Series that must never skip a number (invoicing runs) take it from a counter row on both
//! ([`next_gapless`], made by [`create_gapless`]): the row stays locked until the taker commits or
//! rolls back, so takers queue.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::Error;

/// The next number of the series `name` (`case`): `nextval('case_number_sequence')` on PostgreSQL,
/// the counter row of `case_numbers` on SQLite.
pub async fn next(txn: &impl ConnectionTrait, name: &str) -> Result<i64, Error> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT nextval('{name}_number_sequence') AS last"),
        _ => format!("UPDATE {name}_numbers SET last = last + 1 WHERE id = 1 RETURNING last"),
    };
    let row = txn
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| Error::internal(format!("the counter of {name} numbers is missing")))?;
    Ok(row.try_get::<i64>("", "last")?)
}

/// The next number of the gapless series `name`: the counter row of `{name}_numbers`, locked until
/// the transaction ends (a rollback gives the number back).
pub async fn next_gapless(txn: &impl ConnectionTrait, name: &str) -> Result<i64, Error> {
    let backend = txn.get_database_backend();
    let sql = format!("UPDATE {name}_numbers SET last = last + 1 WHERE id = 1 RETURNING last");
    let row = txn
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| Error::internal(format!("the counter of {name} numbers is missing")))?;
    Ok(row.try_get::<i64>("", "last")?)
}

/// Creates the gapless series `name`, starting at 1, for [`next_gapless`].
pub async fn create_gapless(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    for sql in counter(name) {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// The counter table of the series `name`, with its one row.
fn counter(name: &str) -> [String; 2] {
    [
        format!(
            "CREATE TABLE {name}_numbers (id INTEGER NOT NULL PRIMARY KEY, last BIGINT NOT NULL)"
        ),
        format!("INSERT INTO {name}_numbers (id, last) VALUES (1, 0)"),
    ]
}

/// Creates the series `name`, starting at 1, for [`next`] (in a service's migration).
pub async fn create(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    let statements = match db.get_database_backend() {
        DbBackend::Postgres => vec![format!("CREATE SEQUENCE {name}_number_sequence")],
        _ => vec![
            format!(
                "CREATE TABLE {name}_numbers (id INTEGER NOT NULL PRIMARY KEY, last BIGINT NOT NULL)"
            ),
            format!("INSERT INTO {name}_numbers (id, last) VALUES (1, 0)"),
        ],
    };
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Drops the series `name` (a migration's `down`).
pub async fn drop(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => format!("DROP SEQUENCE {name}_number_sequence"),
        _ => format!("DROP TABLE {name}_numbers"),
    };
    db.execute_unprepared(&sql).await.map(|_| ())
}

/// Drops the gapless series `name` (a migration's `down`).
pub async fn drop_gapless(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("DROP TABLE {name}_numbers"))
        .await
        .map(|_| ())
}
