//! The events already turned into notifications: each event is handled once, whichever replica or
//! retry sees it again.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use kommune_platform::Error;

/// A handled event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handled_events")]
pub struct Model {
    /// The event's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// The feed it came from.
    pub feed: String,
    /// When it was handled.
    pub handled_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Whether the event was handled.
pub async fn handled(db: &impl ConnectionTrait, event_id: &str) -> Result<bool, Error> {
    Ok(Entity::find_by_id(event_id).one(db).await?.is_some())
}

/// Records the event as handled; false when it already was (another replica got there first).
pub async fn record(txn: &impl ConnectionTrait, model: Model) -> Result<bool, Error> {
    match ActiveModel::from(model).insert(txn).await {
        Ok(_) => Ok(true),
        Err(err) if kommune_platform::db::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
}
