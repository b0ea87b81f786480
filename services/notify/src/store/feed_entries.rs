//! The operational messages of the public feed, as last told by cases.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// A feed entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feed_entries")]
pub struct Model {
    /// The operational message's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: String,
    /// Its texts as JSON (`templates::MessageTexts`).
    pub texts: String,
    /// The affected systems' names as a JSON list.
    pub systems: String,
    /// Resolved.
    pub resolved: bool,
    /// First published.
    pub published_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts or replaces an entry.
pub async fn put(txn: &impl ConnectionTrait, model: Model) -> Result<(), Error> {
    Entity::insert(ActiveModel::from(model))
        .on_conflict(
            OnConflict::column(Column::MessageId)
                .update_columns([
                    Column::Texts,
                    Column::Systems,
                    Column::Resolved,
                    Column::PublishedAt,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// The newest entries, most recently changed first.
pub async fn latest(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .order_by_desc(Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?)
}
