//! Debtor numbers, invoicing runs and their gapless series, and the indexes a run and the basis read by.

use kommune_platform::migration::columns::{id, instant, short, version};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Debtors {
    Table,
    MunicipalityId,
    DebtorNumber,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoicingRuns {
    Table,
    Id,
    Number,
    DeliveredFrom,
    DeliveredThrough,
    OrderCount,
    AmountOre,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    State,
    DeliveredDate,
    InvoicingRunId,
    MunicipalityId,
}

/// What a run and the basis select: delivered orders by delivery day.
const ORDERS_DUE: &str = "orders_by_state_delivered";
/// A run's lines by municipality.
const ORDERS_BY_RUN: &str = "orders_by_run_municipality";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Debtors::Table)
                    .col(id(Debtors::MunicipalityId))
                    .col(short(Debtors::DebtorNumber))
                    .col(instant(Debtors::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InvoicingRuns::Table)
                    .col(id(InvoicingRuns::Id))
                    .col(version(InvoicingRuns::Number).unique_key())
                    .col(
                        ColumnDef::new(InvoicingRuns::DeliveredFrom)
                            .date()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InvoicingRuns::DeliveredThrough)
                            .date()
                            .not_null(),
                    )
                    .col(version(InvoicingRuns::OrderCount))
                    .col(version(InvoicingRuns::AmountOre))
                    .col(short(InvoicingRuns::CreatedBy))
                    .col(instant(InvoicingRuns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ORDERS_DUE)
                    .table(Orders::Table)
                    .col(Orders::State)
                    .col(Orders::DeliveredDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ORDERS_BY_RUN)
                    .table(Orders::Table)
                    .col(Orders::InvoicingRunId)
                    .col(Orders::MunicipalityId)
                    .col(Orders::Id)
                    .to_owned(),
            )
            .await?;
        kommune_platform::numbers::create_gapless(manager.get_connection(), "invoicing_run").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        kommune_platform::numbers::drop_gapless(manager.get_connection(), "invoicing_run").await?;
        for index in [ORDERS_BY_RUN, ORDERS_DUE] {
            manager
                .drop_index(Index::drop().name(index).table(Orders::Table).to_owned())
                .await?;
        }
        for table in [InvoicingRuns::Table.into_iden(), Debtors::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
