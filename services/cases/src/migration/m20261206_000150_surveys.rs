//! The periodic survey: surveys, who answered (to answer once), the answers (anonymous: a random
//! response id and the municipality, never the respondent nor a time), and focus areas.

use kommune_platform::migration::columns::{id, instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Surveys {
    Table,
    Id,
    Title,
    Questions,
    OpenAt,
    CloseAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SurveyRespondents {
    Table,
    SurveyId,
    UserId,
}

#[derive(DeriveIden)]
enum SurveyAnswers {
    Table,
    ResponseId,
    QuestionIndex,
    SurveyId,
    MunicipalityId,
    Score,
    Text,
}

#[derive(DeriveIden)]
enum FocusAreas {
    Table,
    Id,
    SurveyId,
    Title,
    OwnerUserId,
    Actions,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
}

const ANSWERS_BY_SURVEY: &str = "survey_answers_by_survey";
const FOCUS_BY_SURVEY: &str = "focus_areas_by_survey";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Surveys::Table)
                    .col(id(Surveys::Id))
                    .col(short(Surveys::Title))
                    .col(text(Surveys::Questions))
                    .col(instant(Surveys::OpenAt))
                    .col(instant(Surveys::CloseAt))
                    .col(instant(Surveys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyRespondents::Table)
                    .col(short(SurveyRespondents::SurveyId))
                    .col(short(SurveyRespondents::UserId))
                    .primary_key(
                        Index::create()
                            .col(SurveyRespondents::SurveyId)
                            .col(SurveyRespondents::UserId),
                    )
                    .foreign_key(&mut fk(
                        "survey_respondents_survey",
                        (SurveyRespondents::Table, SurveyRespondents::SurveyId),
                        (Surveys::Table, Surveys::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyAnswers::Table)
                    .col(short(SurveyAnswers::ResponseId))
                    .col(
                        ColumnDef::new(SurveyAnswers::QuestionIndex)
                            .integer()
                            .not_null(),
                    )
                    .col(short(SurveyAnswers::SurveyId))
                    .col(short(SurveyAnswers::MunicipalityId))
                    .col(ColumnDef::new(SurveyAnswers::Score).integer().not_null())
                    .col(text(SurveyAnswers::Text))
                    .primary_key(
                        Index::create()
                            .col(SurveyAnswers::ResponseId)
                            .col(SurveyAnswers::QuestionIndex),
                    )
                    .foreign_key(&mut fk(
                        "survey_answers_survey",
                        (SurveyAnswers::Table, SurveyAnswers::SurveyId),
                        (Surveys::Table, Surveys::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ANSWERS_BY_SURVEY)
                    .table(SurveyAnswers::Table)
                    .col(SurveyAnswers::SurveyId)
                    .col(SurveyAnswers::MunicipalityId)
                    .col(SurveyAnswers::QuestionIndex)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FocusAreas::Table)
                    .col(id(FocusAreas::Id))
                    .col(short(FocusAreas::SurveyId))
                    .col(short(FocusAreas::Title))
                    .col(short(FocusAreas::OwnerUserId))
                    .col(text(FocusAreas::Actions))
                    .col(short(FocusAreas::Status))
                    .col(version(FocusAreas::Version))
                    .col(instant(FocusAreas::CreatedAt))
                    .col(instant(FocusAreas::UpdatedAt))
                    .foreign_key(&mut fk(
                        "focus_areas_survey",
                        (FocusAreas::Table, FocusAreas::SurveyId),
                        (Surveys::Table, Surveys::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(FOCUS_BY_SURVEY)
                    .table(FocusAreas::Table)
                    .col(FocusAreas::SurveyId)
                    .col(FocusAreas::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FocusAreas::Table.into_iden(),
            SurveyAnswers::Table.into_iden(),
            SurveyRespondents::Table.into_iden(),
            Surveys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
