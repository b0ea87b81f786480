//! What the desk's reports read at a backlog of hundreds of thousands: a partial index of open cases by
//! place, state and filing time, so the backlog by municipality and area (filed before a date) is
//! counted from the index in its grouping order; and filings counted per hour and place as they
//! happen, so the monthly counts sum a few rows per place instead of counting every case of a month.
//! The counts start from the cases already filed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    MunicipalityId,
    AreaId,
    State,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FilingsByHour {
    Table,
    Hour,
    MunicipalityId,
    AreaId,
    Filed,
}

const OPEN_BY_PLACE: &str = "open_cases_by_place";

/// The cases the index holds, as the queries write it (with literals: a planner matches a query to a
/// partial index only by the same literal condition).
const OPEN: &str = "\"state\" NOT IN ('CASE_STATE_RESOLVED', 'CASE_STATE_CLOSED')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OPEN_BY_PLACE)
                    .table(Cases::Table)
                    .col(Cases::MunicipalityId)
                    .col(Cases::AreaId)
                    .col(Cases::State)
                    .col(Cases::CreatedAt)
                    .and_where(Expr::cust(OPEN))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FilingsByHour::Table)
                    .col(ColumnDef::new(FilingsByHour::Hour).big_integer().not_null())
                    .col(
                        ColumnDef::new(FilingsByHour::MunicipalityId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(FilingsByHour::AreaId).string().not_null())
                    .col(
                        ColumnDef::new(FilingsByHour::Filed)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(FilingsByHour::Hour)
                            .col(FilingsByHour::MunicipalityId)
                            .col(FilingsByHour::AreaId),
                    )
                    .to_owned(),
            )
            .await?;
        // Hours since the Unix epoch, as `store::filings::hour_of` counts them.
        let hour = match manager.get_database_backend() {
            DbBackend::Postgres => "FLOOR(EXTRACT(EPOCH FROM created_at) / 3600)::BIGINT",
            _ => "CAST(strftime('%s', created_at) AS INTEGER) / 3600",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO filings_by_hour (hour, municipality_id, area_id, filed) \
                 SELECT {hour}, municipality_id, area_id, COUNT(*) FROM cases \
                 GROUP BY 1, 2, 3"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FilingsByHour::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OPEN_BY_PLACE)
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await
    }
}
