//! Publications of the change-request list and their frozen rows.

use kommune_platform::migration::columns::{id, instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Publications {
    Table,
    Id,
    Number,
    Note,
    ItemCount,
    PublishedBy,
    PublishedAt,
}

#[derive(DeriveIden)]
enum PublicationItems {
    Table,
    PublicationId,
    Key,
    KeyNumber,
    ChangeTheme,
    Subtheme,
    Title,
    Description,
    Workaround,
    Status,
    MunicipalityName,
    Created,
    RelatedCases,
    ThemeId,
    SubthemeId,
    StatusCode,
    MunicipalityId,
    SearchText,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Publications::Table)
                    .col(id(Publications::Id))
                    .col(version(Publications::Number).unique_key())
                    .col(text(Publications::Note))
                    .col(version(Publications::ItemCount))
                    .col(short(Publications::PublishedBy))
                    .col(instant(Publications::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PublicationItems::Table)
                    .col(short(PublicationItems::PublicationId))
                    .col(short(PublicationItems::Key))
                    .col(version(PublicationItems::KeyNumber))
                    .col(text(PublicationItems::ChangeTheme))
                    .col(text(PublicationItems::Subtheme))
                    .col(text(PublicationItems::Title))
                    .col(text(PublicationItems::Description))
                    .col(text(PublicationItems::Workaround))
                    .col(text(PublicationItems::Status))
                    .col(text(PublicationItems::MunicipalityName))
                    .col(short(PublicationItems::Created))
                    .col(text(PublicationItems::RelatedCases))
                    .col(short(PublicationItems::ThemeId))
                    .col(short(PublicationItems::SubthemeId))
                    .col(
                        ColumnDef::new(PublicationItems::StatusCode)
                            .integer()
                            .not_null(),
                    )
                    .col(short(PublicationItems::MunicipalityId))
                    .col(text(PublicationItems::SearchText))
                    .primary_key(
                        Index::create()
                            .col(PublicationItems::PublicationId)
                            .col(PublicationItems::Key),
                    )
                    .foreign_key(&mut fk(
                        "publication_items_publication",
                        (PublicationItems::Table, PublicationItems::PublicationId),
                        (Publications::Table, Publications::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Rows are read in key order within a publication.
        manager
            .create_index(
                Index::create()
                    .name("publication_items_in_order")
                    .table(PublicationItems::Table)
                    .col(PublicationItems::PublicationId)
                    .col(PublicationItems::KeyNumber)
                    .col(PublicationItems::Key)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PublicationItems::Table.into_iden(),
            Publications::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
