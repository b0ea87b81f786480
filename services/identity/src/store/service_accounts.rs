//! Service accounts.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;

/// A service account as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_accounts")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The municipality it acts for, if any.
    pub municipality_id: Option<String>,
    /// Roles (see `store::encode_roles`).
    pub roles: String,
    /// Whether it may exchange keys.
    pub active: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a new service account.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let name = model.name.clone();
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "name", || {
            format!("a service account named {name} exists")
        })
    })
}

/// One service account.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// The service account of a name.
pub async fn find_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find().filter(Column::Name.eq(name)).one(db).await?)
}

/// A page of service accounts by name.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_asc(Column::Name)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Name.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |a| a.name.clone()))
}

/// How many service accounts exist.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, Error> {
    Ok(Entity::find().count(db).await?)
}
