//! On PostgreSQL, case numbers come from a sequence, so that taking one no longer locks a row until
//! the filing commits (filings of different systems then run in parallel; those of one system queue on
//! the system's row, see `store::systems::lock_for_filing`). It continues from the counter row, which
//! SQLite, writing one transaction at a time, keeps using.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("CREATE SEQUENCE case_number_sequence")
            .await?;
        db.execute_unprepared(
            "SELECT setval('case_number_sequence', GREATEST(last, 1), last > 0) \
             FROM case_numbers WHERE id = 1",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE case_numbers SET last = (SELECT last_value FROM case_number_sequence) WHERE id = 1",
        )
        .await?;
        db.execute_unprepared("DROP SEQUENCE case_number_sequence")
            .await?;
        Ok(())
    }
}
