//! A text index for the word search of published lists, so a word few rows hold is found without
//! reading every row: on SQLite an FTS5 table with the trigram tokenizer (substring matches, as the
//! search promises), filled at publication; on PostgreSQL a trigram GIN index (`pg_trgm`, a trusted
//! extension a database owner may create) that the search's `LIKE` uses as it is.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE publication_search USING fts5(search_text, \
                     publication_id UNINDEXED, key UNINDEXED, tokenize = 'trigram')",
                )
                .await?;
                db.execute_unprepared(
                    "INSERT INTO publication_search (search_text, publication_id, key) \
                     SELECT search_text, publication_id, key FROM publication_items",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    .await?;
                db.execute_unprepared(
                    "CREATE INDEX publication_items_search ON publication_items \
                     USING gin (search_text gin_trgm_ops)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared("DROP TABLE publication_search")
                    .await?
            }
            _ => {
                db.execute_unprepared("DROP INDEX publication_items_search")
                    .await?
            }
        };
        Ok(())
    }
}
