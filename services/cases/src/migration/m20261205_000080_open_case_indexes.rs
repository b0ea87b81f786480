//! Partial indexes of open cases only, so a team's queue reads and counts its open cases without
//! passing over the resolved and closed ones that pile up over the years: the unassigned cases of an
//! area in filing order, and a team's cases by resolution due time. The filing-time index also holds
//! the municipality and area, so the monthly counts are answered from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    AreaId,
    TeamId,
    ResolutionDue,
    CreatedAt,
    MunicipalityId,
}

const UNASSIGNED: &str = "open_unassigned_cases_by_area";
const BY_TEAM: &str = "open_cases_by_team";
const BY_FILING: &str = "cases_by_filing";
const BY_FILING_PLACE: &str = "cases_by_filing_place";

/// The cases these indexes hold, as the queries write it (with literals: a planner matches a query
/// to a partial index only by the same literal condition).
const OPEN: &str = "\"state\" NOT IN ('CASE_STATE_RESOLVED', 'CASE_STATE_CLOSED')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(UNASSIGNED)
                    .table(Cases::Table)
                    .col(Cases::AreaId)
                    .col(Cases::Id)
                    .and_where(Expr::cust(OPEN))
                    .and_where(Expr::col(Cases::TeamId).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_TEAM)
                    .table(Cases::Table)
                    .col(Cases::TeamId)
                    .col(Cases::ResolutionDue)
                    .col(Cases::Id)
                    .and_where(Expr::cust(OPEN))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_FILING_PLACE)
                    .table(Cases::Table)
                    .col(Cases::CreatedAt)
                    .col(Cases::MunicipalityId)
                    .col(Cases::AreaId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(BY_FILING).table(Cases::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_FILING)
                    .table(Cases::Table)
                    .col(Cases::CreatedAt)
                    .to_owned(),
            )
            .await?;
        for name in [UNASSIGNED, BY_TEAM, BY_FILING_PLACE] {
            manager
                .drop_index(Index::drop().name(name).table(Cases::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
