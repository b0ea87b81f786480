//! The orders a person placed, found by the index (and in id order): a data subject's export and an
//! anonymised person's erasure read them in pages instead of every order of the catalogue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    OrderedBy,
}

const ORDERS_BY_ORDERER: &str = "orders_by_orderer";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(ORDERS_BY_ORDERER)
                    .table(Orders::Table)
                    .col(Orders::OrderedBy)
                    .col(Orders::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(ORDERS_BY_ORDERER)
                    .table(Orders::Table)
                    .to_owned(),
            )
            .await
    }
}
