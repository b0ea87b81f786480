//! The months whose extra support-eligible users are settled.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// A settled month as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settled_months")]
pub struct Model {
    /// Its first day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: NaiveDate,
    /// When.
    pub settled_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The latest settled month.
pub async fn latest(db: &impl ConnectionTrait) -> Result<Option<NaiveDate>, Error> {
    Ok(Entity::find()
        .order_by_desc(Column::Month)
        .one(db)
        .await?
        .map(|m| m.month))
}

/// Records that `month` is settled; false when another replica did first.
pub async fn record(
    txn: &impl ConnectionTrait,
    month: NaiveDate,
    settled_at: DateTimeUtc,
) -> Result<bool, Error> {
    let inserted = Entity::insert(ActiveModel::from(Model { month, settled_at }))
        .on_conflict_do_nothing_on([Column::Month])
        .exec(txn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(_)))
}
