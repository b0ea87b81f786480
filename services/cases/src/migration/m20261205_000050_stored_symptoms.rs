//! Each case keeps the symptom outage detection compares (its trigrams, computed once when filed), and
//! a system's reports are found by system and filing time, so a filing reads only the ids, reporters
//! and symptoms of its window. Cases filed before this have no stored symptom; detection computes
//! theirs from their texts while they are still inside a window.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Symptom,
    SystemId,
    CreatedAt,
}

const INDEX: &str = "cases_by_system_filing";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::Symptom).blob().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Cases::Table)
                    .col(Cases::SystemId)
                    .col(Cases::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Cases::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::Symptom)
                    .to_owned(),
            )
            .await
    }
}
