//! Retention finds what is due by when it was made.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Suggestions {
    Table,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UnansweredSearches {
    Table,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("unanswered_searches_at")
                    .table(UnansweredSearches::Table)
                    .col(UnansweredSearches::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("suggestions_created_at")
                    .table(Suggestions::Table)
                    .col(Suggestions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("unanswered_searches_at")
                    .table(UnansweredSearches::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("suggestions_created_at")
                    .table(Suggestions::Table)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
