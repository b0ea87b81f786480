//! Guides with their versions, files and sections; suggestions, answers, citations and the counts the
//! report reads.

use kommune_platform::migration::columns::{id, instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Guides {
    Table,
    Id,
    SystemId,
    SystemName,
    Title,
    Audience,
    Language,
    Version,
    State,
    WithdrawnReason,
    Revision,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GuideVersions {
    Table,
    GuideId,
    Version,
    FileName,
    FileFormat,
    FileSize,
    FileSha256,
    SectionCount,
    PageCount,
    ImportedBy,
    ImportedAt,
}

#[derive(DeriveIden)]
enum GuideFileChunks {
    Table,
    GuideId,
    Version,
    Chunk,
    Bytes,
}

#[derive(DeriveIden)]
enum Sections {
    Table,
    Id,
    SectionId,
    GuideId,
    Version,
    Position,
    Number,
    Heading,
    HeadingPath,
    Level,
    Text,
    Anchor,
    Page,
}

#[derive(DeriveIden)]
enum Suggestions {
    Table,
    Id,
    Subject,
    SystemId,
    Month,
    CreatedAt,
    HitCount,
    AnsweredSectionId,
    FiledCaseId,
}

#[derive(DeriveIden)]
enum SuggestedSections {
    Table,
    SuggestionId,
    SectionId,
    Rank,
}

#[derive(DeriveIden)]
enum Citations {
    Table,
    CaseId,
    SectionId,
    SuggestionId,
    SystemId,
    Month,
    CitedAt,
}

#[derive(DeriveIden)]
enum SectionMonths {
    Table,
    SectionId,
    Month,
    GuideId,
    SystemId,
    Suggested,
    Answered,
    ReadAndFiled,
}

#[derive(DeriveIden)]
enum UnansweredSearches {
    Table,
    Id,
    Query,
    SystemId,
    Month,
    At,
}

fn int(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Guides::Table)
                    .col(id(Guides::Id))
                    .col(short(Guides::SystemId))
                    .col(short(Guides::SystemName))
                    .col(short(Guides::Title))
                    .col(short(Guides::Audience))
                    .col(short(Guides::Language))
                    .col(int(Guides::Version))
                    .col(short(Guides::State))
                    .col(text(Guides::WithdrawnReason))
                    .col(version(Guides::Revision))
                    .col(instant(Guides::CreatedAt))
                    .col(instant(Guides::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "guides_by_state_title",
            Guides::Table,
            [Guides::State, Guides::Title, Guides::Id],
        )
        .await?;
        index(
            manager,
            "guides_by_system_title",
            Guides::Table,
            [Guides::SystemId, Guides::Title, Guides::Id],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuideVersions::Table)
                    .col(short(GuideVersions::GuideId))
                    .col(int(GuideVersions::Version))
                    .col(short(GuideVersions::FileName))
                    .col(short(GuideVersions::FileFormat))
                    .col(version(GuideVersions::FileSize))
                    .col(short(GuideVersions::FileSha256))
                    .col(int(GuideVersions::SectionCount))
                    .col(int(GuideVersions::PageCount))
                    .col(short(GuideVersions::ImportedBy))
                    .col(instant(GuideVersions::ImportedAt))
                    .primary_key(
                        Index::create()
                            .col(GuideVersions::GuideId)
                            .col(GuideVersions::Version),
                    )
                    .foreign_key(&mut fk(
                        "guide_versions_guide",
                        (GuideVersions::Table, GuideVersions::GuideId),
                        (Guides::Table, Guides::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuideFileChunks::Table)
                    .col(short(GuideFileChunks::GuideId))
                    .col(int(GuideFileChunks::Version))
                    .col(int(GuideFileChunks::Chunk))
                    .col(ColumnDef::new(GuideFileChunks::Bytes).binary().not_null())
                    .primary_key(
                        Index::create()
                            .col(GuideFileChunks::GuideId)
                            .col(GuideFileChunks::Version)
                            .col(GuideFileChunks::Chunk),
                    )
                    .foreign_key(&mut fk(
                        "guide_file_chunks_guide",
                        (GuideFileChunks::Table, GuideFileChunks::GuideId),
                        (Guides::Table, Guides::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sections::Table)
                    .col(id(Sections::Id))
                    .col(short(Sections::SectionId))
                    .col(short(Sections::GuideId))
                    .col(int(Sections::Version))
                    .col(int(Sections::Position))
                    .col(short(Sections::Number))
                    .col(text(Sections::Heading))
                    .col(text(Sections::HeadingPath))
                    .col(int(Sections::Level))
                    .col(text(Sections::Text))
                    .col(short(Sections::Anchor))
                    .col(int(Sections::Page))
                    .foreign_key(&mut fk(
                        "sections_guide",
                        (Sections::Table, Sections::GuideId),
                        (Guides::Table, Guides::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sections_by_guide_version_position")
                    .table(Sections::Table)
                    .col(Sections::GuideId)
                    .col(Sections::Version)
                    .col(Sections::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "sections_by_section_version",
            Sections::Table,
            [Sections::SectionId, Sections::Version],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Suggestions::Table)
                    .col(id(Suggestions::Id))
                    .col(short(Suggestions::Subject))
                    .col(short(Suggestions::SystemId))
                    .col(short(Suggestions::Month))
                    .col(instant(Suggestions::CreatedAt))
                    .col(int(Suggestions::HitCount))
                    .col(short(Suggestions::AnsweredSectionId))
                    .col(short(Suggestions::FiledCaseId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "suggestions_by_month_system",
            Suggestions::Table,
            [Suggestions::Month, Suggestions::SystemId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SuggestedSections::Table)
                    .col(short(SuggestedSections::SuggestionId))
                    .col(short(SuggestedSections::SectionId))
                    .col(int(SuggestedSections::Rank))
                    .primary_key(
                        Index::create()
                            .col(SuggestedSections::SuggestionId)
                            .col(SuggestedSections::SectionId),
                    )
                    .foreign_key(&mut fk(
                        "suggested_sections_suggestion",
                        (SuggestedSections::Table, SuggestedSections::SuggestionId),
                        (Suggestions::Table, Suggestions::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Citations::Table)
                    .col(short(Citations::CaseId))
                    .col(short(Citations::SectionId))
                    .col(short(Citations::SuggestionId))
                    .col(short(Citations::SystemId))
                    .col(short(Citations::Month))
                    .col(instant(Citations::CitedAt))
                    .primary_key(
                        Index::create()
                            .col(Citations::CaseId)
                            .col(Citations::SectionId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SectionMonths::Table)
                    .col(short(SectionMonths::SectionId))
                    .col(short(SectionMonths::Month))
                    .col(short(SectionMonths::GuideId))
                    .col(short(SectionMonths::SystemId))
                    .col(version(SectionMonths::Suggested))
                    .col(version(SectionMonths::Answered))
                    .col(version(SectionMonths::ReadAndFiled))
                    .primary_key(
                        Index::create()
                            .col(SectionMonths::SectionId)
                            .col(SectionMonths::Month),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "section_months_by_month",
            SectionMonths::Table,
            [SectionMonths::Month, SectionMonths::SystemId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnansweredSearches::Table)
                    .col(id(UnansweredSearches::Id))
                    .col(text(UnansweredSearches::Query))
                    .col(short(UnansweredSearches::SystemId))
                    .col(short(UnansweredSearches::Month))
                    .col(instant(UnansweredSearches::At))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "unanswered_searches_by_month",
            UnansweredSearches::Table,
            [UnansweredSearches::Month, UnansweredSearches::SystemId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before the tables their foreign keys name.
        let tables: [DynIden; 9] = [
            UnansweredSearches::Table.into_iden(),
            SectionMonths::Table.into_iden(),
            Citations::Table.into_iden(),
            SuggestedSections::Table.into_iden(),
            Suggestions::Table.into_iden(),
            Sections::Table.into_iden(),
            GuideFileChunks::Table.into_iden(),
            GuideVersions::Table.into_iden(),
            Guides::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + 'static, C: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(column);
    }
    manager.create_index(index).await
}
