//! Filings are counted per hour, place **and system**: a filing already holds its system's turn, so
//! its count row is one no filing of another system waits for. Counted per place alone, every filing
//! of a municipality and area in one hour updated one row, and concurrent filings of different systems
//! queued on it until each other's commits (4 ms of a filing's 5 at sixteen in flight on PostgreSQL).
//! The counts so far keep their place, with no system.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FilingsByHour {
    Table,
    Hour,
    MunicipalityId,
    AreaId,
    SystemId,
    Filed,
}

/// Where the counts per place wait while the table is made again (SQLite cannot change a primary key).
const PER_PLACE: &str = "filings_by_hour_per_place";

fn counts(with_system: bool) -> TableCreateStatement {
    let mut key = Index::create();
    key.col(FilingsByHour::Hour)
        .col(FilingsByHour::MunicipalityId)
        .col(FilingsByHour::AreaId);
    let mut table = Table::create();
    table
        .table(FilingsByHour::Table)
        .col(ColumnDef::new(FilingsByHour::Hour).big_integer().not_null())
        .col(
            ColumnDef::new(FilingsByHour::MunicipalityId)
                .string()
                .not_null(),
        )
        .col(ColumnDef::new(FilingsByHour::AreaId).string().not_null());
    if with_system {
        table.col(ColumnDef::new(FilingsByHour::SystemId).string().not_null());
        // Named: on PostgreSQL the renamed table keeps its key's name (`filings_by_hour_pkey`).
        key.name("filings_by_hour_by_system")
            .col(FilingsByHour::SystemId);
    }
    table
        .col(
            ColumnDef::new(FilingsByHour::Filed)
                .big_integer()
                .not_null(),
        )
        .primary_key(&mut key)
        .to_owned()
}

/// Makes the table again as `counts(with_system)`, its rows copied by `copy` (reading `PER_PLACE`).
async fn remake(manager: &SchemaManager<'_>, with_system: bool, copy: &str) -> Result<(), DbErr> {
    manager
        .rename_table(
            Table::rename()
                .table(FilingsByHour::Table, Alias::new(PER_PLACE))
                .to_owned(),
        )
        .await?;
    manager.create_table(counts(with_system)).await?;
    manager.get_connection().execute_unprepared(copy).await?;
    manager
        .drop_table(Table::drop().table(Alias::new(PER_PLACE)).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let copy = format!(
            "INSERT INTO filings_by_hour (hour, municipality_id, area_id, system_id, filed) \
             SELECT hour, municipality_id, area_id, '', filed FROM {PER_PLACE}"
        );
        remake(manager, true, &copy).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let copy = format!(
            "INSERT INTO filings_by_hour (hour, municipality_id, area_id, filed) \
             SELECT hour, municipality_id, area_id, SUM(filed) FROM {PER_PLACE} GROUP BY 1, 2, 3"
        );
        remake(manager, false, &copy).await
    }
}
