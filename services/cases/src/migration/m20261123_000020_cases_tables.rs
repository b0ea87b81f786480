//! Systems, teams, areas, cases with their comments, and the case number counter.

use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Systems {
    Table,
    Id,
    Name,
    ChainResponsibility,
    WhereToTurn,
    OutageReportThreshold,
    OutageWindowMinutes,
    Version,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Name,
    Line,
    Members,
    Version,
}

#[derive(DeriveIden)]
enum Areas {
    Table,
    Id,
    Name,
    TeamId,
    Version,
}

#[derive(DeriveIden)]
enum CaseNumbers {
    Table,
    Id,
    Last,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Number,
    MunicipalityId,
    ReporterUserId,
    Title,
    Description,
    Kind,
    QuestionSubject,
    Severity,
    SystemId,
    AreaId,
    GuideSections,
    PersonalId,
    State,
    TeamId,
    Line,
    Resolution,
    ChangeRequestId,
    ChangeRequestWanted,
    MergedInto,
    IncidentFlag,
    ResponseDue,
    FirstResponseAt,
    ResolutionDue,
    PausedSeconds,
    AwaitingSince,
    ResolvedAt,
    Related,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SlaNotices {
    Table,
    CaseId,
    Target,
    Breached,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    CaseId,
    FileName,
    ContentType,
    SizeBytes,
    Content,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    CaseId,
    Author,
    Text,
    Visibility,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Systems::Table)
                    .col(
                        ColumnDef::new(Systems::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Systems::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Systems::ChainResponsibility)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Systems::WhereToTurn).text().not_null())
                    .col(
                        ColumnDef::new(Systems::OutageReportThreshold)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Systems::OutageWindowMinutes)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Systems::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(ColumnDef::new(Teams::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Teams::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(Teams::Line).string().not_null())
                    .col(ColumnDef::new(Teams::Members).text().not_null())
                    .col(ColumnDef::new(Teams::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Areas::Table)
                    .col(ColumnDef::new(Areas::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Areas::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(Areas::TeamId).string().not_null())
                    .col(ColumnDef::new(Areas::Version).big_integer().not_null())
                    .foreign_key(&mut fk(
                        "areas_team",
                        (Areas::Table, Areas::TeamId),
                        (Teams::Table, Teams::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CaseNumbers::Table)
                    .col(
                        ColumnDef::new(CaseNumbers::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CaseNumbers::Last).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CaseNumbers::Table)
                    .columns([CaseNumbers::Id, CaseNumbers::Last])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(ColumnDef::new(Cases::Id).string().not_null().primary_key())
                    .col(
                        ColumnDef::new(Cases::Number)
                            .big_integer()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Cases::MunicipalityId).string().not_null())
                    .col(ColumnDef::new(Cases::ReporterUserId).string().not_null())
                    .col(ColumnDef::new(Cases::Title).string().not_null())
                    .col(ColumnDef::new(Cases::Description).text().not_null())
                    .col(ColumnDef::new(Cases::Kind).string().not_null())
                    .col(ColumnDef::new(Cases::QuestionSubject).string().not_null())
                    .col(ColumnDef::new(Cases::Severity).string().not_null())
                    .col(ColumnDef::new(Cases::SystemId).string().not_null())
                    .col(ColumnDef::new(Cases::AreaId).string().not_null())
                    .col(ColumnDef::new(Cases::GuideSections).text().not_null())
                    .col(ColumnDef::new(Cases::PersonalId).text().null())
                    .col(ColumnDef::new(Cases::State).string().not_null())
                    .col(ColumnDef::new(Cases::TeamId).string().null())
                    .col(ColumnDef::new(Cases::Line).string().not_null())
                    .col(ColumnDef::new(Cases::Resolution).string().not_null())
                    .col(ColumnDef::new(Cases::ChangeRequestId).string().not_null())
                    .col(
                        ColumnDef::new(Cases::ChangeRequestWanted)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Cases::MergedInto).string().null())
                    .col(ColumnDef::new(Cases::IncidentFlag).boolean().not_null())
                    .col(
                        ColumnDef::new(Cases::ResponseDue)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Cases::FirstResponseAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Cases::ResolutionDue)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Cases::PausedSeconds)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Cases::AwaitingSince)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Cases::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Cases::Related).text().not_null())
                    .col(ColumnDef::new(Cases::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Cases::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Cases::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "cases_system",
                        (Cases::Table, Cases::SystemId),
                        (Systems::Table, Systems::Id),
                    ))
                    .foreign_key(&mut fk(
                        "cases_area",
                        (Cases::Table, Cases::AreaId),
                        (Areas::Table, Areas::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cases_by_municipality")
                    .table(Cases::Table)
                    .col(Cases::MunicipalityId)
                    .col(Cases::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(
                        ColumnDef::new(Comments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Comments::CaseId).string().not_null())
                    .col(ColumnDef::new(Comments::Author).string().not_null())
                    .col(ColumnDef::new(Comments::Text).text().not_null())
                    .col(ColumnDef::new(Comments::Visibility).string().not_null())
                    .col(
                        ColumnDef::new(Comments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "comments_case",
                        (Comments::Table, Comments::CaseId),
                        (Cases::Table, Cases::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(
                        ColumnDef::new(Attachments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Attachments::CaseId).string().not_null())
                    .col(ColumnDef::new(Attachments::FileName).string().not_null())
                    .col(ColumnDef::new(Attachments::ContentType).string().not_null())
                    .col(
                        ColumnDef::new(Attachments::SizeBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Attachments::Content).blob().not_null())
                    .col(ColumnDef::new(Attachments::UploadedBy).string().not_null())
                    .col(
                        ColumnDef::new(Attachments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "attachments_case",
                        (Attachments::Table, Attachments::CaseId),
                        (Cases::Table, Cases::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SlaNotices::Table)
                    .col(ColumnDef::new(SlaNotices::CaseId).string().not_null())
                    .col(ColumnDef::new(SlaNotices::Target).string().not_null())
                    .col(ColumnDef::new(SlaNotices::Breached).boolean().not_null())
                    .col(
                        ColumnDef::new(SlaNotices::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(SlaNotices::CaseId)
                            .col(SlaNotices::Target)
                            .col(SlaNotices::Breached),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SlaNotices::Table.into_iden(),
            Attachments::Table.into_iden(),
            Comments::Table.into_iden(),
            Cases::Table.into_iden(),
            CaseNumbers::Table.into_iden(),
            Areas::Table.into_iden(),
            Teams::Table.into_iden(),
            Systems::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
