//! What each public operational message said at each step, so its page shows its updates in order.
//! Messages published before this start their history at their next step.

use kommune_platform::migration::columns::{id, instant, optional_instant, short, text};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OperationalMessages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OperationalMessageUpdates {
    Table,
    Id,
    MessageId,
    State,
    TitleDa,
    TextDa,
    WorkaroundDa,
    TitleEn,
    TextEn,
    WorkaroundEn,
    ExpectedEndAt,
    ResolutionDa,
    ResolutionEn,
    CreatedAt,
}

const INDEX: &str = "operational_message_updates_by_message";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OperationalMessageUpdates as Updates;
        manager
            .create_table(
                Table::create()
                    .table(Updates::Table)
                    .col(id(Updates::Id))
                    .col(short(Updates::MessageId))
                    .col(short(Updates::State))
                    .col(short(Updates::TitleDa))
                    .col(text(Updates::TextDa))
                    .col(text(Updates::WorkaroundDa))
                    .col(short(Updates::TitleEn))
                    .col(text(Updates::TextEn))
                    .col(text(Updates::WorkaroundEn))
                    .col(optional_instant(Updates::ExpectedEndAt))
                    .col(text(Updates::ResolutionDa))
                    .col(text(Updates::ResolutionEn))
                    .col(instant(Updates::CreatedAt))
                    .foreign_key(&mut fk(
                        "operational_message_updates_message",
                        (Updates::Table, Updates::MessageId),
                        (OperationalMessages::Table, OperationalMessages::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Updates::Table)
                    .col(Updates::MessageId)
                    .col(Updates::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(OperationalMessageUpdates::Table)
                    .to_owned(),
            )
            .await
    }
}
