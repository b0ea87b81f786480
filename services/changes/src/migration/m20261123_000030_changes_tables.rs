//! Themes, subthemes, statuses (seeded with the default set), releases, change requests and the key counter.

use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

use crate::domain::DEFAULT_STATUSES;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Themes {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum Subthemes {
    Table,
    Id,
    ThemeId,
    Name,
}

#[derive(DeriveIden)]
enum Statuses {
    Table,
    Code,
    Name,
    NextCodes,
}

#[derive(DeriveIden)]
enum Releases {
    Table,
    Id,
    Name,
    ReleaseDate,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KeyCounter {
    Table,
    Id,
    Last,
}

#[derive(DeriveIden)]
enum ChangeRequests {
    Table,
    Id,
    Key,
    ThemeId,
    SubthemeId,
    Title,
    Description,
    Workaround,
    StatusCode,
    AskingMunicipalityId,
    Supporters,
    Related,
    SourceCaseId,
    ReleaseId,
    DropReason,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Themes::Table)
                    .col(ColumnDef::new(Themes::Id).string().not_null().primary_key())
                    .col(
                        ColumnDef::new(Themes::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Subthemes::Table)
                    .col(
                        ColumnDef::new(Subthemes::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Subthemes::ThemeId).string().not_null())
                    .col(ColumnDef::new(Subthemes::Name).string().not_null())
                    .foreign_key(&mut fk(
                        "subthemes_theme",
                        (Subthemes::Table, Subthemes::ThemeId),
                        (Themes::Table, Themes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("subthemes_unique")
                    .table(Subthemes::Table)
                    .col(Subthemes::ThemeId)
                    .col(Subthemes::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Statuses::Table)
                    .col(
                        ColumnDef::new(Statuses::Code)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Statuses::Name).string().not_null())
                    .col(ColumnDef::new(Statuses::NextCodes).string().not_null())
                    .to_owned(),
            )
            .await?;
        for (code, name, next) in DEFAULT_STATUSES {
            let next = serde_json::to_string(next).map_err(|e| DbErr::Custom(e.to_string()))?;
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(Statuses::Table)
                        .columns([Statuses::Code, Statuses::Name, Statuses::NextCodes])
                        .values_panic([code.into(), name.into(), next.into()])
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Releases::Table)
                    .col(
                        ColumnDef::new(Releases::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Releases::Name)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Releases::ReleaseDate).date().not_null())
                    .col(
                        ColumnDef::new(Releases::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KeyCounter::Table)
                    .col(
                        ColumnDef::new(KeyCounter::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(KeyCounter::Last).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(KeyCounter::Table)
                    .columns([KeyCounter::Id, KeyCounter::Last])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChangeRequests::Table)
                    .col(
                        ColumnDef::new(ChangeRequests::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::Key)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ChangeRequests::ThemeId).string().not_null())
                    .col(ColumnDef::new(ChangeRequests::SubthemeId).string().null())
                    .col(ColumnDef::new(ChangeRequests::Title).string().not_null())
                    .col(
                        ColumnDef::new(ChangeRequests::Description)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeRequests::Workaround).text().not_null())
                    .col(
                        ColumnDef::new(ChangeRequests::StatusCode)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::AskingMunicipalityId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChangeRequests::Supporters).text().not_null())
                    .col(ColumnDef::new(ChangeRequests::Related).text().not_null())
                    .col(
                        ColumnDef::new(ChangeRequests::SourceCaseId)
                            .string()
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ChangeRequests::ReleaseId).string().null())
                    .col(ColumnDef::new(ChangeRequests::DropReason).text().not_null())
                    .col(
                        ColumnDef::new(ChangeRequests::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChangeRequests::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "change_requests_theme",
                        (ChangeRequests::Table, ChangeRequests::ThemeId),
                        (Themes::Table, Themes::Id),
                    ))
                    .foreign_key(&mut fk(
                        "change_requests_release",
                        (ChangeRequests::Table, ChangeRequests::ReleaseId),
                        (Releases::Table, Releases::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChangeRequests::Table.into_iden(),
            KeyCounter::Table.into_iden(),
            Releases::Table.into_iden(),
            Statuses::Table.into_iden(),
            Subthemes::Table.into_iden(),
            Themes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
