//! Which SLA alerts were announced, so each is announced once.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use kommune_platform::Error;

/// An announced alert.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_notices")]
pub struct Model {
    /// The case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: String,
    /// `response` or `resolution`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub target: String,
    /// Missed (else due soon).
    #[sea_orm(primary_key, auto_increment = false)]
    pub breached: bool,
    /// When it was announced.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records an announcement; false when it was announced before.
pub async fn record(txn: &impl ConnectionTrait, model: Model) -> Result<bool, Error> {
    if Entity::find_by_id((model.case_id.clone(), model.target.clone(), model.breached))
        .one(txn)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    ActiveModel::from(model).insert(txn).await?;
    Ok(true)
}
