//! Files attached to orders, stored in the database so SQLite and PostgreSQL deployments work alike.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, FromQueryResult, PaginatorTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// An attachment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_attachments")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The order.
    pub order_id: String,
    /// File name.
    pub file_name: String,
    /// Content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The content.
    pub content: Vec<u8>,
    /// Who attached it.
    pub uploaded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// An attachment without its content.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Listed {
    /// UUIDv7.
    pub id: String,
    /// The order.
    pub order_id: String,
    /// File name.
    pub file_name: String,
    /// Content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Who attached it.
    pub uploaded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

impl From<&Model> for Listed {
    fn from(m: &Model) -> Self {
        Self {
            id: m.id.clone(),
            order_id: m.order_id.clone(),
            file_name: m.file_name.clone(),
            content_type: m.content_type.clone(),
            size_bytes: m.size_bytes,
            uploaded_by: m.uploaded_by.clone(),
            created_at: m.created_at,
        }
    }
}

/// Inserts an attachment.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One attachment with its content.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// How many files an order has.
pub async fn count(db: &impl ConnectionTrait, order_id: &str) -> Result<u64, Error> {
    Ok(Entity::find()
        .filter(Column::OrderId.eq(order_id))
        .count(db)
        .await?)
}

/// An order's attachments, oldest first, without their content (at most `limit`).
pub async fn of_order(
    db: &impl ConnectionTrait,
    order_id: &str,
    limit: u64,
) -> Result<Vec<Listed>, Error> {
    Ok(Entity::find()
        .select_only()
        .columns([
            Column::Id,
            Column::OrderId,
            Column::FileName,
            Column::ContentType,
            Column::SizeBytes,
            Column::UploadedBy,
            Column::CreatedAt,
        ])
        .filter(Column::OrderId.eq(order_id))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_model::<Listed>()
        .all(db)
        .await?)
}
