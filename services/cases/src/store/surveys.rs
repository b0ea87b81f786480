//! Surveys, their respondents and anonymous answers, and focus areas.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::{Named, Versioned};
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A survey as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "surveys")]
pub struct Model {
    /// UUID (v7, so ids sort by writing).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Title.
    pub title: String,
    /// Its questions as JSON (`Question`).
    pub questions: String,
    /// Opens.
    pub open_at: DateTimeUtc,
    /// Closes.
    pub close_at: DateTimeUtc,
    /// Written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A question as kept with its survey.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Question {
    /// Danish text.
    pub text_da: String,
    /// English text.
    pub text_en: String,
    /// `SURVEY_QUESTION_KIND_SCORE` or `_TEXT`.
    pub kind: Named<kommune_proto::cases::v1::SurveyQuestionKind>,
}

impl Model {
    /// Its questions, in order.
    pub fn questions(&self) -> Vec<Question> {
        serde_json::from_str(&self.questions).unwrap_or_default()
    }
}

/// Who answered a survey (to answer once); kept apart from the answers.
pub mod respondents {
    use sea_orm::entity::prelude::*;

    /// A respondent.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_respondents")]
    pub struct Model {
        /// The survey.
        #[sea_orm(primary_key, auto_increment = false)]
        pub survey_id: String,
        /// The user.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The answers: a random response id and the respondent's municipality, never who or when.
pub mod answers {
    use sea_orm::entity::prelude::*;

    /// One answer to one question.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_answers")]
    pub struct Model {
        /// The response (random, version 4).
        #[sea_orm(primary_key, auto_increment = false)]
        pub response_id: String,
        /// The question's place.
        #[sea_orm(primary_key, auto_increment = false)]
        pub question_index: i32,
        /// The survey.
        pub survey_id: String,
        /// The respondent's municipality.
        pub municipality_id: String,
        /// The score (0 for a text question).
        pub score: i32,
        /// The text (empty for a score question).
        pub text: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Focus areas chosen from a survey.
pub mod focus_areas {
    use sea_orm::entity::prelude::*;

    use kommune_platform::db::Named;
    use kommune_proto::cases::v1::FocusAreaStatus;

    /// A focus area as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "focus_areas")]
    pub struct Model {
        /// UUID (v7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The survey.
        pub survey_id: String,
        /// What to improve.
        pub title: String,
        /// Its owner.
        pub owner_user_id: String,
        /// What is done about it.
        pub actions: String,
        /// Status (proto name).
        pub status: Named<FocusAreaStatus>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Recorded.
        pub created_at: DateTimeUtc,
        /// Last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl Versioned for focus_areas::Model {
    const NAME: &'static str = "focus area";
}

/// Inserts a survey.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(db).await?)
}

/// One survey.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of surveys, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |s| s.id.clone()))
}

/// Records that `user_id` answered; ALREADY_EXISTS when they had.
pub async fn record_respondent(
    db: &impl ConnectionTrait,
    survey_id: &str,
    user_id: &str,
) -> Result<(), Error> {
    respondents::ActiveModel::from(respondents::Model {
        survey_id: survey_id.to_owned(),
        user_id: user_id.to_owned(),
    })
    .insert(db)
    .await
    .map_err(|e| {
        kommune_platform::db::unique(e, "survey_id", || "the survey was answered already".into())
    })?;
    Ok(())
}

/// How many answered a survey.
pub async fn respondent_count(db: &impl ConnectionTrait, survey_id: &str) -> Result<u64, Error> {
    Ok(respondents::Entity::find()
        .filter(respondents::Column::SurveyId.eq(survey_id))
        .count(db)
        .await?)
}

/// How many answered each of `survey_ids`, in one count: (survey, respondents), none for a survey
/// nobody answered.
pub async fn respondent_counts(
    db: &impl ConnectionTrait,
    survey_ids: &[String],
) -> Result<Vec<(String, i64)>, Error> {
    Ok(respondents::Entity::find()
        .select_only()
        .column(respondents::Column::SurveyId)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(respondents::Column::SurveyId.is_in(survey_ids.iter().map(String::as_str)))
        .group_by(respondents::Column::SurveyId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Stores one response's answers.
pub async fn insert_answers(
    db: &impl ConnectionTrait,
    rows: Vec<answers::Model>,
) -> Result<(), Error> {
    answers::Entity::insert_many(rows.into_iter().map(answers::ActiveModel::from))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// How many responded per municipality, counted in the database.
pub async fn respondents_per_municipality(
    db: &impl ConnectionTrait,
    survey_id: &str,
) -> Result<Vec<(String, i64)>, Error> {
    Ok(answers::Entity::find()
        .select_only()
        .column(answers::Column::MunicipalityId)
        .column_as(Expr::cust("COUNT(DISTINCT \"response_id\")"), "count")
        .filter(answers::Column::SurveyId.eq(survey_id))
        .group_by(answers::Column::MunicipalityId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Score counts per municipality and question: (municipality, question, score, how many), counted in
/// the database.
pub async fn score_counts(
    db: &impl ConnectionTrait,
    survey_id: &str,
) -> Result<Vec<(String, i32, i32, i64)>, Error> {
    Ok(answers::Entity::find()
        .select_only()
        .column(answers::Column::MunicipalityId)
        .column(answers::Column::QuestionIndex)
        .column(answers::Column::Score)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(answers::Column::SurveyId.eq(survey_id))
        .filter(answers::Column::Score.gt(0))
        .group_by(answers::Column::MunicipalityId)
        .group_by(answers::Column::QuestionIndex)
        .group_by(answers::Column::Score)
        .into_tuple()
        .all(db)
        .await?)
}

/// The most texts a question's results show.
pub const MAX_TEXTS: u64 = 1_000;

/// The texts given to a question (not empty), of one municipality or all, at most [`MAX_TEXTS`].
pub async fn texts(
    db: &impl ConnectionTrait,
    survey_id: &str,
    question_index: i32,
    municipality_id: Option<&str>,
) -> Result<Vec<String>, Error> {
    let mut query = answers::Entity::find()
        .select_only()
        .column(answers::Column::Text)
        .filter(answers::Column::SurveyId.eq(survey_id))
        .filter(answers::Column::QuestionIndex.eq(question_index))
        .filter(answers::Column::Text.ne(""))
        .order_by_asc(answers::Column::ResponseId)
        .limit(MAX_TEXTS);
    if let Some(municipality) = municipality_id {
        query = query.filter(answers::Column::MunicipalityId.eq(municipality));
    }
    Ok(query.into_tuple().all(db).await?)
}

/// Inserts a focus area.
pub async fn insert_focus_area(
    db: &impl ConnectionTrait,
    model: focus_areas::Model,
) -> Result<focus_areas::Model, Error> {
    Ok(focus_areas::ActiveModel::from(model).insert(db).await?)
}

/// One focus area.
pub async fn find_focus_area(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<focus_areas::Model>, Error> {
    Ok(focus_areas::Entity::find_by_id(id).one(db).await?)
}

/// A page of a survey's focus areas, oldest first.
pub async fn focus_areas_of(
    db: &impl ConnectionTrait,
    survey_id: &str,
    page: &Page,
) -> Result<(Vec<focus_areas::Model>, PageResponse), Error> {
    let mut query = focus_areas::Entity::find()
        .filter(focus_areas::Column::SurveyId.eq(survey_id))
        .order_by_asc(focus_areas::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(focus_areas::Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |f| f.id.clone()))
}
