//! What each publication's rows can be filtered by (themes, subthemes, statuses, municipalities) with
//! their counts, kept when it is published so the operations site's filters cost one small read; the
//! publications made before this are counted now.

use kommune_platform::migration::columns::{short, text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PublicationFacets {
    Table,
    PublicationId,
    Kind,
    Value,
    Name,
    ItemCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PublicationFacets::Table)
                    .col(short(PublicationFacets::PublicationId))
                    .col(short(PublicationFacets::Kind))
                    .col(short(PublicationFacets::Value))
                    .col(text(PublicationFacets::Name))
                    .col(
                        ColumnDef::new(PublicationFacets::ItemCount)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PublicationFacets::PublicationId)
                            .col(PublicationFacets::Kind)
                            .col(PublicationFacets::Value),
                    )
                    .to_owned(),
            )
            .await?;
        crate::store::publications::count_facets(manager.get_connection(), None).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PublicationFacets::Table).to_owned())
            .await
    }
}
