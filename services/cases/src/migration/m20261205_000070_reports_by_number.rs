//! A system's reports found by case number, so a filing reads only the reports filed since the last
//! one its replica saw (detection keeps the rest of the window in memory).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    SystemId,
    Number,
}

const INDEX: &str = "cases_by_system_number";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Cases::Table)
                    .col(Cases::SystemId)
                    .col(Cases::Number)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Cases::Table).to_owned())
            .await
    }
}
