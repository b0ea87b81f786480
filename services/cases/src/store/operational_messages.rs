//! Operational messages.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::{IncidentScope, OperationalMessageState};
use kommune_proto::common::v1::PageResponse;

/// An operational message as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operational_messages")]
pub struct Model {
    /// UUID (v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// State (proto name).
    pub state: Named<OperationalMessageState>,
    /// Danish headline.
    pub title_da: String,
    /// Danish text.
    pub text_da: String,
    /// Danish workaround.
    pub workaround_da: String,
    /// English headline.
    pub title_en: String,
    /// English text.
    pub text_en: String,
    /// English workaround.
    pub workaround_en: String,
    /// Affected system ids as a JSON list.
    pub system_ids: String,
    /// Scope (proto name).
    pub scope: Named<IncidentScope>,
    /// The incident it is about.
    pub incident_id: Option<String>,
    /// When the fault began.
    pub start_at: DateTimeUtc,
    /// When it is expected to end.
    pub expected_end_at: Option<DateTimeUtc>,
    /// Danish closing words.
    pub resolution_da: String,
    /// English closing words.
    pub resolution_en: String,
    /// First published.
    pub published_at: Option<DateTimeUtc>,
    /// Resolved.
    pub resolved_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The affected systems.
    pub fn system_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.system_ids).unwrap_or_default()
    }
}

/// Inserts a message.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One message.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of messages, newest first, optionally in one state (proto name).
pub async fn list(
    db: &impl ConnectionTrait,
    state: Option<OperationalMessageState>,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(state) = state {
        query = query.filter(Column::State.eq(Named(state)));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |m| m.id.clone()))
}

/// The messages that may be on the public list: public ones, and those resolved since `resolved_since`.
pub async fn public(
    db: &impl ConnectionTrait,
    resolved_since: DateTimeUtc,
) -> Result<Vec<Model>, Error> {
    use sea_orm::Condition;
    let active = [
        Named(OperationalMessageState::Published),
        Named(OperationalMessageState::Updated),
    ];
    Ok(Entity::find()
        .filter(
            Condition::any()
                .add(Column::State.is_in(active))
                .add(Column::ResolvedAt.gte(resolved_since)),
        )
        .order_by_desc(Column::StartAt)
        .all(db)
        .await?)
}

impl Versioned for Model {
    const NAME: &'static str = "operational message";
}
