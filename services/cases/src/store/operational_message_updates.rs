//! What each public operational message said at each step (published, updated, resolved), for its page.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_proto::cases::v1::OperationalMessageState;

/// One step as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operational_message_updates")]
pub struct Model {
    /// UUID (v7, so ids sort by time).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The message.
    pub message_id: String,
    /// The message's state after the step (proto name).
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
    /// When it was then expected to end.
    pub expected_end_at: Option<DateTimeUtc>,
    /// Danish closing words.
    pub resolution_da: String,
    /// English closing words.
    pub resolution_en: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a step.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// The steps of a message, oldest first.
pub async fn of_message(db: &impl ConnectionTrait, message_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::MessageId.eq(message_id))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}
