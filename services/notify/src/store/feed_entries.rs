//! The operational messages of the public feed, as last told by cases.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Set};

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
    /// The affected systems' ids as a JSON list, in the order of their names.
    pub system_ids: String,
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

/// Inserts or replaces an entry, and which systems it is about.
pub async fn put(txn: &impl ConnectionTrait, model: Model) -> Result<(), Error> {
    let system_ids: Vec<String> = serde_json::from_str(&model.system_ids).unwrap_or_default();
    systems::Entity::delete_many()
        .filter(systems::Column::MessageId.eq(&model.message_id))
        .exec(txn)
        .await?;
    if !system_ids.is_empty() {
        systems::Entity::insert_many(system_ids.into_iter().map(|system_id| {
            systems::ActiveModel {
                system_id: Set(system_id),
                message_id: Set(model.message_id.clone()),
            }
        }))
        .exec(txn)
        .await?;
    }
    Entity::insert(ActiveModel::from(model))
        .on_conflict(
            OnConflict::column(Column::MessageId)
                .update_columns([
                    Column::Texts,
                    Column::Systems,
                    Column::SystemIds,
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

/// The newest entries, most recently changed first; only those about `system_id` when given.
pub async fn latest(
    db: &impl ConnectionTrait,
    limit: u64,
    system_id: Option<&str>,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find().order_by_desc(Column::UpdatedAt).limit(limit);
    if let Some(system_id) = system_id {
        query = query.filter(
            Column::MessageId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(systems::Column::MessageId)
                    .from(systems::Entity)
                    .and_where(systems::Column::SystemId.eq(system_id))
                    .to_owned(),
            ),
        );
    }
    Ok(query.all(db).await?)
}

/// Which systems each entry is about.
pub mod systems {
    use sea_orm::entity::prelude::*;

    /// One system of one entry.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_entry_systems")]
    pub struct Model {
        /// The system.
        #[sea_orm(primary_key, auto_increment = false)]
        pub system_id: String,
        /// The operational message.
        #[sea_orm(primary_key, auto_increment = false)]
        pub message_id: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
