//! The versions of items: what each offers, as JSON ([`ItemContent`]). A version never changes once
//! published, so orders placed against it keep their terms.

use sea_orm::entity::prelude::*;
use sea_orm::{Condition, ConnectionTrait};

use kommune_platform::Error;

use crate::domain::ItemContent;

/// A version as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "item_versions")]
pub struct Model {
    /// The item.
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: String,
    /// The version, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// What it offers, JSON.
    pub content: String,
    /// Published.
    pub published_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What the version offers.
    pub fn content(&self) -> Result<ItemContent, Error> {
        serde_json::from_str(&self.content).map_err(Error::internal)
    }
}

/// Inserts a version of `content`.
pub async fn insert(
    txn: &impl ConnectionTrait,
    item_id: &str,
    version: i32,
    content: &ItemContent,
    published_at: DateTimeUtc,
) -> Result<Model, Error> {
    let model = Model {
        item_id: item_id.to_owned(),
        version,
        content: serde_json::to_string(content).map_err(Error::internal)?,
        published_at,
    };
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One version of an item.
pub async fn find(
    db: &impl ConnectionTrait,
    item_id: &str,
    version: i32,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id((item_id.to_owned(), version))
        .one(db)
        .await?)
}

/// The named versions (item, version) of several items, in one query.
pub async fn find_many(
    db: &impl ConnectionTrait,
    wanted: impl IntoIterator<Item = (String, i32)>,
) -> Result<Vec<Model>, Error> {
    let mut any = Condition::any();
    let mut none = true;
    for (item_id, version) in wanted {
        none = false;
        any = any.add(
            Condition::all()
                .add(Column::ItemId.eq(item_id))
                .add(Column::Version.eq(version)),
        );
    }
    if none {
        return Ok(Vec::new());
    }
    Ok(Entity::find().filter(any).all(db).await?)
}
