//! Projects, waves, enrolments, templates with versions and review comments, tasks, packages and items.

use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Name,
    Description,
    FrozenZoneDays,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Waves {
    Table,
    Id,
    ProjectId,
    Name,
    GoLive,
    Published,
    Version,
}

#[derive(DeriveIden)]
enum Enrolments {
    Table,
    Id,
    ProjectId,
    MunicipalityId,
    WaveId,
    ProjectLeaderUserId,
    DebtorSystem,
    Version,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Templates {
    Table,
    Id,
    ProjectId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TemplateVersions {
    Table,
    TemplateId,
    Version,
    Published,
    Content,
    Note,
    Initials,
    PublishedAt,
    Revision,
}

#[derive(DeriveIden)]
enum ReviewComments {
    Table,
    Id,
    TemplateId,
    Version,
    Author,
    Text,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    ProjectId,
    TemplateId,
    TemplateVersion,
    MunicipalityId,
    Title,
    Theme,
    Phase,
    Priority,
    Schedule,
    Status,
    StartDate,
    EndDate,
    Version,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Packages {
    Table,
    Id,
    TaskId,
    MunicipalityId,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PackageItems {
    Table,
    Id,
    PackageId,
    Reference,
    Attributes,
    State,
    CaseReference,
    Reason,
    ResolvedBy,
    ResolvedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(
                        ColumnDef::new(Projects::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Projects::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Projects::Description).text().not_null())
                    .col(
                        ColumnDef::new(Projects::FrozenZoneDays)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Projects::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Waves::Table)
                    .col(ColumnDef::new(Waves::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Waves::ProjectId).string().not_null())
                    .col(ColumnDef::new(Waves::Name).string().not_null())
                    .col(ColumnDef::new(Waves::GoLive).date().not_null())
                    .col(ColumnDef::new(Waves::Published).boolean().not_null())
                    .col(ColumnDef::new(Waves::Version).big_integer().not_null())
                    .foreign_key(&mut fk(
                        "waves_project",
                        (Waves::Table, Waves::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Enrolments::Table)
                    .col(
                        ColumnDef::new(Enrolments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Enrolments::ProjectId).string().not_null())
                    .col(
                        ColumnDef::new(Enrolments::MunicipalityId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Enrolments::WaveId).string().not_null())
                    .col(
                        ColumnDef::new(Enrolments::ProjectLeaderUserId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Enrolments::DebtorSystem).string().not_null())
                    .col(ColumnDef::new(Enrolments::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Enrolments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "enrolments_project",
                        (Enrolments::Table, Enrolments::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut fk(
                        "enrolments_wave",
                        (Enrolments::Table, Enrolments::WaveId),
                        (Waves::Table, Waves::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("enrolments_once_per_project")
                    .table(Enrolments::Table)
                    .col(Enrolments::ProjectId)
                    .col(Enrolments::MunicipalityId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Templates::Table)
                    .col(
                        ColumnDef::new(Templates::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Templates::ProjectId).string().not_null())
                    .col(
                        ColumnDef::new(Templates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "templates_project",
                        (Templates::Table, Templates::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TemplateVersions::Table)
                    .col(
                        ColumnDef::new(TemplateVersions::TemplateId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateVersions::Published)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TemplateVersions::Content).text().not_null())
                    .col(ColumnDef::new(TemplateVersions::Note).text().not_null())
                    .col(
                        ColumnDef::new(TemplateVersions::Initials)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateVersions::PublishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TemplateVersions::Revision)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TemplateVersions::TemplateId)
                            .col(TemplateVersions::Version),
                    )
                    .foreign_key(&mut fk(
                        "template_versions_template",
                        (TemplateVersions::Table, TemplateVersions::TemplateId),
                        (Templates::Table, Templates::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReviewComments::Table)
                    .col(
                        ColumnDef::new(ReviewComments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReviewComments::TemplateId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ReviewComments::Version).integer().not_null())
                    .col(ColumnDef::new(ReviewComments::Author).string().not_null())
                    .col(ColumnDef::new(ReviewComments::Text).text().not_null())
                    .col(
                        ColumnDef::new(ReviewComments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "review_comments_template",
                        (ReviewComments::Table, ReviewComments::TemplateId),
                        (Templates::Table, Templates::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(ColumnDef::new(Tasks::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Tasks::ProjectId).string().not_null())
                    .col(ColumnDef::new(Tasks::TemplateId).string().not_null())
                    .col(ColumnDef::new(Tasks::TemplateVersion).integer().not_null())
                    .col(ColumnDef::new(Tasks::MunicipalityId).string().not_null())
                    .col(ColumnDef::new(Tasks::Title).string().not_null())
                    .col(ColumnDef::new(Tasks::Theme).string().not_null())
                    .col(ColumnDef::new(Tasks::Phase).string().not_null())
                    .col(ColumnDef::new(Tasks::Priority).string().not_null())
                    .col(ColumnDef::new(Tasks::Schedule).text().not_null())
                    .col(ColumnDef::new(Tasks::Status).string().not_null())
                    .col(ColumnDef::new(Tasks::StartDate).date().null())
                    .col(ColumnDef::new(Tasks::EndDate).date().null())
                    .col(ColumnDef::new(Tasks::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Tasks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "tasks_template",
                        (Tasks::Table, Tasks::TemplateId),
                        (Templates::Table, Templates::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tasks_once_per_municipality")
                    .table(Tasks::Table)
                    .col(Tasks::TemplateId)
                    .col(Tasks::MunicipalityId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tasks_by_project")
                    .table(Tasks::Table)
                    .col(Tasks::ProjectId)
                    .col(Tasks::MunicipalityId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Packages::Table)
                    .col(
                        ColumnDef::new(Packages::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Packages::TaskId)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Packages::MunicipalityId).string().not_null())
                    .col(ColumnDef::new(Packages::Description).text().not_null())
                    .col(
                        ColumnDef::new(Packages::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "packages_task",
                        (Packages::Table, Packages::TaskId),
                        (Tasks::Table, Tasks::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PackageItems::Table)
                    .col(
                        ColumnDef::new(PackageItems::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PackageItems::PackageId).string().not_null())
                    .col(ColumnDef::new(PackageItems::Reference).string().not_null())
                    .col(ColumnDef::new(PackageItems::Attributes).text().not_null())
                    .col(ColumnDef::new(PackageItems::State).string().not_null())
                    .col(
                        ColumnDef::new(PackageItems::CaseReference)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PackageItems::Reason).text().not_null())
                    .col(ColumnDef::new(PackageItems::ResolvedBy).string().not_null())
                    .col(
                        ColumnDef::new(PackageItems::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut fk(
                        "package_items_package",
                        (PackageItems::Table, PackageItems::PackageId),
                        (Packages::Table, Packages::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("package_items_reference")
                    .table(PackageItems::Table)
                    .col(PackageItems::PackageId)
                    .col(PackageItems::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("package_items_by_state")
                    .table(PackageItems::Table)
                    .col(PackageItems::PackageId)
                    .col(PackageItems::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PackageItems::Table.into_iden(),
            Packages::Table.into_iden(),
            Tasks::Table.into_iden(),
            ReviewComments::Table.into_iden(),
            TemplateVersions::Table.into_iden(),
            Templates::Table.into_iden(),
            Enrolments::Table.into_iden(),
            Waves::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
