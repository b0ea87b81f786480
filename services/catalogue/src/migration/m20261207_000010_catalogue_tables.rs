//! Items with their versions, orders with their steps and comments, and the series of order numbers.

use kommune_platform::migration::columns::{id, instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Items {
    Table,
    Id,
    LatestVersion,
    State,
    WithdrawalReason,
    Category,
    NameDa,
    Revision,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ItemVersions {
    Table,
    ItemId,
    Version,
    Content,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    Number,
    ItemId,
    ItemVersion,
    ItemNameDa,
    MunicipalityId,
    OrderedBy,
    Quantity,
    Answers,
    State,
    AmountOre,
    Quote,
    PromisedDeliveryDate,
    DeliveredDate,
    InvoicingRunId,
    DebtorNumber,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderSteps {
    Table,
    Id,
    OrderId,
    State,
    Actor,
    At,
    Reason,
}

#[derive(DeriveIden)]
enum OrderComments {
    Table,
    Id,
    OrderId,
    Author,
    Text,
    CreatedAt,
}

const ITEMS_BY_CATEGORY: &str = "items_by_state_category_name";
const ORDERS_BY_MUNICIPALITY: &str = "orders_by_municipality";
const ORDERS_BY_STATE: &str = "orders_by_state";
const ORDERS_BY_ITEM: &str = "orders_by_item";
const STEPS_BY_ORDER: &str = "order_steps_by_order";
const COMMENTS_BY_ORDER: &str = "order_comments_by_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Items::Table)
                    .col(id(Items::Id))
                    .col(ColumnDef::new(Items::LatestVersion).integer().not_null())
                    .col(short(Items::State))
                    .col(text(Items::WithdrawalReason))
                    .col(short(Items::Category))
                    .col(short(Items::NameDa))
                    .col(version(Items::Revision))
                    .col(instant(Items::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ITEMS_BY_CATEGORY)
                    .table(Items::Table)
                    .col(Items::State)
                    .col(Items::Category)
                    .col(Items::NameDa)
                    .col(Items::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ItemVersions::Table)
                    .col(short(ItemVersions::ItemId))
                    .col(ColumnDef::new(ItemVersions::Version).integer().not_null())
                    .col(text(ItemVersions::Content))
                    .col(instant(ItemVersions::PublishedAt))
                    .primary_key(
                        Index::create()
                            .col(ItemVersions::ItemId)
                            .col(ItemVersions::Version),
                    )
                    .foreign_key(&mut fk(
                        "item_versions_item",
                        (ItemVersions::Table, ItemVersions::ItemId),
                        (Items::Table, Items::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(id(Orders::Id))
                    .col(short(Orders::Number).unique_key())
                    .col(short(Orders::ItemId))
                    .col(ColumnDef::new(Orders::ItemVersion).integer().not_null())
                    .col(short(Orders::ItemNameDa))
                    .col(short(Orders::MunicipalityId))
                    .col(short(Orders::OrderedBy))
                    .col(version(Orders::Quantity))
                    .col(text(Orders::Answers))
                    .col(short(Orders::State))
                    .col(ColumnDef::new(Orders::AmountOre).big_integer().null())
                    .col(ColumnDef::new(Orders::Quote).text().null())
                    .col(ColumnDef::new(Orders::PromisedDeliveryDate).date().null())
                    .col(ColumnDef::new(Orders::DeliveredDate).date().null())
                    .col(ColumnDef::new(Orders::InvoicingRunId).string().null())
                    .col(ColumnDef::new(Orders::DebtorNumber).string().null())
                    .col(version(Orders::Version))
                    .col(instant(Orders::CreatedAt))
                    .col(instant(Orders::UpdatedAt))
                    .foreign_key(&mut fk(
                        "orders_item",
                        (Orders::Table, Orders::ItemId),
                        (Items::Table, Items::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (ORDERS_BY_MUNICIPALITY, Orders::MunicipalityId),
            (ORDERS_BY_STATE, Orders::State),
            (ORDERS_BY_ITEM, Orders::ItemId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Orders::Table)
                        .col(column)
                        .col(Orders::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OrderSteps::Table)
                    .col(id(OrderSteps::Id))
                    .col(short(OrderSteps::OrderId))
                    .col(short(OrderSteps::State))
                    .col(short(OrderSteps::Actor))
                    .col(instant(OrderSteps::At))
                    .col(text(OrderSteps::Reason))
                    .foreign_key(&mut fk(
                        "order_steps_order",
                        (OrderSteps::Table, OrderSteps::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderComments::Table)
                    .col(id(OrderComments::Id))
                    .col(short(OrderComments::OrderId))
                    .col(short(OrderComments::Author))
                    .col(text(OrderComments::Text))
                    .col(instant(OrderComments::CreatedAt))
                    .foreign_key(&mut fk(
                        "order_comments_order",
                        (OrderComments::Table, OrderComments::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, table, column) in [
            (
                STEPS_BY_ORDER,
                OrderSteps::Table.into_iden(),
                OrderSteps::OrderId.into_iden(),
            ),
            (
                COMMENTS_BY_ORDER,
                OrderComments::Table.into_iden(),
                OrderComments::OrderId.into_iden(),
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        kommune_platform::numbers::create(manager.get_connection(), "order").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        kommune_platform::numbers::drop(manager.get_connection(), "order").await?;
        for table in [
            OrderComments::Table.into_iden(),
            OrderSteps::Table.into_iden(),
            Orders::Table.into_iden(),
            ItemVersions::Table.into_iden(),
            Items::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
