//! Reporters' ratings of how their cases were handled, and when each case's reporter was invited to
//! rate it (once).

use kommune_platform::migration::columns::{instant, optional_instant, text};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    RatingInvitedAt,
}

#[derive(DeriveIden)]
enum CaseRatings {
    Table,
    CaseId,
    Rating,
    Comment,
    CreatedAt,
}

const BY_TIME: &str = "case_ratings_by_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(optional_instant(Cases::RatingInvitedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CaseRatings::Table)
                    .col(
                        ColumnDef::new(CaseRatings::CaseId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CaseRatings::Rating).integer().not_null())
                    .col(text(CaseRatings::Comment))
                    .col(instant(CaseRatings::CreatedAt))
                    .foreign_key(&mut fk(
                        "case_ratings_case",
                        (CaseRatings::Table, CaseRatings::CaseId),
                        (Cases::Table, Cases::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_TIME)
                    .table(CaseRatings::Table)
                    .col(CaseRatings::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CaseRatings::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::RatingInvitedAt)
                    .to_owned(),
            )
            .await
    }
}
