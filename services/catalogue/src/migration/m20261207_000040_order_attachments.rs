//! Files attached to orders, stored in the database so SQLite and PostgreSQL deployments work alike.

use kommune_platform::migration::columns::{id, instant, short, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderAttachments {
    Table,
    Id,
    OrderId,
    FileName,
    ContentType,
    SizeBytes,
    Content,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

const ATTACHMENTS_BY_ORDER: &str = "order_attachments_by_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderAttachments::Table)
                    .col(id(OrderAttachments::Id))
                    .col(short(OrderAttachments::OrderId))
                    .col(short(OrderAttachments::FileName))
                    .col(short(OrderAttachments::ContentType))
                    .col(version(OrderAttachments::SizeBytes))
                    .col(ColumnDef::new(OrderAttachments::Content).blob().not_null())
                    .col(short(OrderAttachments::UploadedBy))
                    .col(instant(OrderAttachments::CreatedAt))
                    .foreign_key(&mut fk(
                        "order_attachments_order",
                        (OrderAttachments::Table, OrderAttachments::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ATTACHMENTS_BY_ORDER)
                    .table(OrderAttachments::Table)
                    .col(OrderAttachments::OrderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderAttachments::Table).to_owned())
            .await
    }
}
