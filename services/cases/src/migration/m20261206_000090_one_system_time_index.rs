//! Cases were indexed twice by system and filing time (`cases_by_system_and_time`, made with incidents,
//! and `cases_by_system_filing`, made again with stored symptoms): every filing wrote both. The later
//! one goes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    SystemId,
    CreatedAt,
}

const DUPLICATE: &str = "cases_by_system_filing";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(DUPLICATE).table(Cases::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(DUPLICATE)
                    .table(Cases::Table)
                    .col(Cases::SystemId)
                    .col(Cases::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
