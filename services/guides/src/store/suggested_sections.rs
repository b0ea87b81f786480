//! The sections each suggestion named, in rank order.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use kommune_platform::Error;

/// A suggested section as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suggested_sections")]
pub struct Model {
    /// The suggestion.
    #[sea_orm(primary_key, auto_increment = false)]
    pub suggestion_id: String,
    /// The section.
    #[sea_orm(primary_key, auto_increment = false)]
    pub section_id: String,
    /// 1 for the best.
    pub rank: i32,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records a suggestion's sections, best first.
pub async fn insert_all(
    txn: &impl ConnectionTrait,
    suggestion_id: &str,
    section_ids: &[String],
) -> Result<(), Error> {
    if section_ids.is_empty() {
        return Ok(());
    }
    let rows = section_ids.iter().enumerate().map(|(i, section_id)| {
        ActiveModel::from(Model {
            suggestion_id: suggestion_id.to_owned(),
            section_id: section_id.clone(),
            rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
        })
    });
    Entity::insert_many(rows).exec(txn).await?;
    Ok(())
}

/// Whether the suggestion named the section.
pub async fn named(
    db: &impl ConnectionTrait,
    suggestion_id: &str,
    section_id: &str,
) -> Result<bool, Error> {
    Ok(
        Entity::find_by_id((suggestion_id.to_owned(), section_id.to_owned()))
            .one(db)
            .await?
            .is_some(),
    )
}
