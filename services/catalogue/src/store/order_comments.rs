//! Comments on orders, oldest first by their UUIDv7 ids.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A comment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_comments")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The order.
    pub order_id: String,
    /// `user:<uuid>`.
    pub author: String,
    /// The text.
    pub text: String,
    /// Written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a comment.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// A page of an order's comments, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    order_id: &str,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}

/// Who wrote each comment, the words and their order: what erasing an anonymised person's words needs.
pub const AUTHORED: kommune_platform::db::AuthoredText<Entity> =
    kommune_platform::db::AuthoredText {
        what: "order comments",
        author: Column::Author,
        text: Column::Text,
        owner: Column::OrderId,
    };
