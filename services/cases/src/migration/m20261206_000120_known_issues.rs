//! Known issues per system, and the cases and incidents linked to them.

use kommune_platform::migration::columns::{id, instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Systems {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KnownIssues {
    Table,
    Id,
    SystemId,
    TitleDa,
    SymptomDa,
    WorkaroundDa,
    TitleEn,
    SymptomEn,
    WorkaroundEn,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KnownIssueLinks {
    Table,
    KnownIssueId,
    Kind,
    TargetId,
    CreatedAt,
}

const BY_SYSTEM: &str = "known_issues_by_system";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnownIssues::Table)
                    .col(id(KnownIssues::Id))
                    .col(short(KnownIssues::SystemId))
                    .col(short(KnownIssues::TitleDa))
                    .col(text(KnownIssues::SymptomDa))
                    .col(text(KnownIssues::WorkaroundDa))
                    .col(short(KnownIssues::TitleEn))
                    .col(text(KnownIssues::SymptomEn))
                    .col(text(KnownIssues::WorkaroundEn))
                    .col(short(KnownIssues::Status))
                    .col(version(KnownIssues::Version))
                    .col(instant(KnownIssues::CreatedAt))
                    .col(instant(KnownIssues::UpdatedAt))
                    .foreign_key(&mut fk(
                        "known_issues_system",
                        (KnownIssues::Table, KnownIssues::SystemId),
                        (Systems::Table, Systems::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_SYSTEM)
                    .table(KnownIssues::Table)
                    .col(KnownIssues::SystemId)
                    .col(KnownIssues::Status)
                    .col(KnownIssues::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnownIssueLinks::Table)
                    .col(short(KnownIssueLinks::KnownIssueId))
                    .col(short(KnownIssueLinks::Kind))
                    .col(short(KnownIssueLinks::TargetId))
                    .col(instant(KnownIssueLinks::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(KnownIssueLinks::KnownIssueId)
                            .col(KnownIssueLinks::Kind)
                            .col(KnownIssueLinks::TargetId),
                    )
                    .foreign_key(&mut fk(
                        "known_issue_links_issue",
                        (KnownIssueLinks::Table, KnownIssueLinks::KnownIssueId),
                        (KnownIssues::Table, KnownIssues::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KnownIssueLinks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(KnownIssues::Table).to_owned())
            .await
    }
}
