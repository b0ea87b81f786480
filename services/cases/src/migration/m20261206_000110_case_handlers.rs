//! A case's handler (the team member who has it), and the indexes the handler's queue and the team's
//! stand-up read from: open cases only, so the years of resolved ones never slow them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    TeamId,
    HandlerUserId,
    ResolutionDue,
    AwaitingSince,
}

#[derive(DeriveIden)]
enum SlaNotices {
    Table,
    Breached,
    CreatedAt,
    CaseId,
}

const BY_HANDLER: &str = "open_cases_by_handler";
const HANDLED_BY_TEAM: &str = "open_handled_cases_by_team";
const UNHANDLED_BY_TEAM: &str = "open_unhandled_cases_by_team";
const AWAITING_BY_TEAM: &str = "awaiting_cases_by_team";
const NOTICES_BY_TIME: &str = "sla_notices_by_time";

/// The cases these indexes hold, as the queries write it (with literals: a planner matches a query
/// to a partial index only by the same literal condition).
const OPEN: &str = "\"state\" NOT IN ('CASE_STATE_RESOLVED', 'CASE_STATE_CLOSED')";
const AWAITING: &str = "\"state\" = 'CASE_STATE_AWAITING_MUNICIPALITY'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::HandlerUserId).string().null())
                    .to_owned(),
            )
            .await?;
        let open_cases = |name: &str| {
            Index::create()
                .name(name)
                .table(Cases::Table)
                .and_where(Expr::cust(OPEN))
                .to_owned()
        };
        let indexes = [
            open_cases(BY_HANDLER)
                .col(Cases::HandlerUserId)
                .col(Cases::ResolutionDue)
                .col(Cases::Id)
                .and_where(Expr::col(Cases::HandlerUserId).is_not_null())
                .to_owned(),
            open_cases(HANDLED_BY_TEAM)
                .col(Cases::TeamId)
                .col(Cases::HandlerUserId)
                .col(Cases::ResolutionDue)
                .col(Cases::Id)
                .and_where(Expr::col(Cases::HandlerUserId).is_not_null())
                .to_owned(),
            open_cases(UNHANDLED_BY_TEAM)
                .col(Cases::TeamId)
                .col(Cases::Id)
                .and_where(Expr::col(Cases::HandlerUserId).is_null())
                .to_owned(),
            Index::create()
                .name(AWAITING_BY_TEAM)
                .table(Cases::Table)
                .col(Cases::TeamId)
                .col(Cases::AwaitingSince)
                .col(Cases::Id)
                .and_where(Expr::cust(AWAITING))
                .to_owned(),
            Index::create()
                .name(NOTICES_BY_TIME)
                .table(SlaNotices::Table)
                .col(SlaNotices::Breached)
                .col(SlaNotices::CreatedAt)
                .col(SlaNotices::CaseId)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NOTICES_BY_TIME)
                    .table(SlaNotices::Table)
                    .to_owned(),
            )
            .await?;
        for name in [
            BY_HANDLER,
            HANDLED_BY_TEAM,
            UNHANDLED_BY_TEAM,
            AWAITING_BY_TEAM,
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Cases::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::HandlerUserId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
