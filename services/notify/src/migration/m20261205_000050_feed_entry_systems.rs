//! Which systems each feed entry is about, so a feed of one system reads only its entries. Entries
//! written before this join their systems' feeds at their message's next step.

use kommune_platform::migration::columns::short;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FeedEntries {
    Table,
    SystemIds,
}

#[derive(DeriveIden)]
enum FeedEntrySystems {
    Table,
    SystemId,
    MessageId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(FeedEntries::Table)
                    .add_column(
                        ColumnDef::new(FeedEntries::SystemIds)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeedEntrySystems::Table)
                    .col(short(FeedEntrySystems::SystemId))
                    .col(short(FeedEntrySystems::MessageId))
                    .primary_key(
                        Index::create()
                            .col(FeedEntrySystems::SystemId)
                            .col(FeedEntrySystems::MessageId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeedEntrySystems::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FeedEntries::Table)
                    .drop_column(FeedEntries::SystemIds)
                    .to_owned(),
            )
            .await
    }
}
