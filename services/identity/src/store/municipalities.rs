//! Municipalities.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::identity::v1::DebtorSystem;

/// A municipality as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "municipalities")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Three-digit code, unique.
    pub code: String,
    /// Name.
    pub name: String,
    /// CVR number.
    pub cvr_number: String,
    /// Debtor system, by its proto name.
    pub debtor_system: Named<DebtorSystem>,
    /// Whether it still uses the systems.
    pub active: bool,
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

/// Inserts a new municipality.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let code = model.code.clone();
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "code", || {
            format!("a municipality with code {code} exists")
        })
    })
}

/// One municipality.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of municipalities by code.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_asc(Column::Code)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Code.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |m| m.code.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "municipality";
}
