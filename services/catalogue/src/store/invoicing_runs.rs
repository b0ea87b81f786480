//! Numbered invoicing runs; the orders a run includes name it.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoicing_runs")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// From 1.
    pub number: i64,
    /// First delivery day covered.
    pub delivered_from: NaiveDate,
    /// Last delivery day covered.
    pub delivered_through: NaiveDate,
    /// Orders included.
    pub order_count: i64,
    /// Their total in øre.
    pub amount_ore: i64,
    /// Who started it.
    pub created_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a run.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// Writes a run's totals.
pub async fn set_totals(
    txn: &impl ConnectionTrait,
    mut run: Model,
    (order_count, amount_ore): (i64, i64),
) -> Result<Model, Error> {
    run.order_count = order_count;
    run.amount_ore = amount_ore;
    Ok(ActiveModel::from(run).reset_all().update(txn).await?)
}

/// One run.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of runs, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |r| r.id.clone()))
}
