//! Extra support-eligible users: which item bills them, the month an order bills, the registrations
//! behind it, and the months already settled.

use kommune_platform::migration::columns::{instant, short};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Items {
    Table,
    ExtraEligibleUsers,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    MunicipalityId,
    BillingMonth,
}

#[derive(DeriveIden)]
enum OrderRegistrations {
    Table,
    OrderId,
    RegistrationId,
}

#[derive(DeriveIden)]
enum SettledMonths {
    Table,
    Month,
    SettledAt,
}

/// A municipality's orders of one month of extra users.
const ORDERS_BY_MONTH: &str = "orders_by_municipality_month";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .add_column(
                        ColumnDef::new(Items::ExtraEligibleUsers)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(ColumnDef::new(Orders::BillingMonth).date().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ORDERS_BY_MONTH)
                    .table(Orders::Table)
                    .col(Orders::MunicipalityId)
                    .col(Orders::BillingMonth)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderRegistrations::Table)
                    .col(short(OrderRegistrations::OrderId))
                    .col(short(OrderRegistrations::RegistrationId))
                    .primary_key(
                        Index::create()
                            .col(OrderRegistrations::OrderId)
                            .col(OrderRegistrations::RegistrationId),
                    )
                    .foreign_key(&mut fk(
                        "order_registrations_order",
                        (OrderRegistrations::Table, OrderRegistrations::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SettledMonths::Table)
                    .col(
                        ColumnDef::new(SettledMonths::Month)
                            .date()
                            .not_null()
                            .primary_key(),
                    )
                    .col(instant(SettledMonths::SettledAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SettledMonths::Table.into_iden(),
            OrderRegistrations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(ORDERS_BY_MONTH)
                    .table(Orders::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::BillingMonth)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .drop_column(Items::ExtraEligibleUsers)
                    .to_owned(),
            )
            .await
    }
}
