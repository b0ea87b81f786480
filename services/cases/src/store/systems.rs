//! Systems cases are filed about.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// A system as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "systems")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Covered by the consortium's chain responsibility.
    pub chain_responsibility: bool,
    /// Where to turn when outside the chain.
    pub where_to_turn: String,
    /// Reports of one cause within the window that indicate an outage (0: off).
    pub outage_report_threshold: i32,
    /// Outage detection window in minutes.
    pub outage_window_minutes: i32,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Outage detection: from how many different reporters (at least 1).
    pub outage_distinct_reporters: i32,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a system.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let name = model.name.clone();
    ActiveModel::from(model)
        .insert(txn)
        .await
        .map_err(|e| super::unique(e, "system.name", || format!("a system named {name} exists")))
}

/// One system.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every system by name.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find().order_by_asc(Column::Name).all(db).await?)
}

/// Writes `changed` if the stored version is still `changed.version - 1`; ABORTED otherwise.
pub async fn update(txn: &impl ConnectionTrait, changed: Model) -> Result<Model, Error> {
    let name = changed.name.clone();
    let result = Entity::update_many()
        .set(ActiveModel::from(changed.clone()).reset_all())
        .filter(Column::Id.eq(changed.id.as_str()))
        .filter(Column::Version.eq(changed.version - 1))
        .exec(txn)
        .await
        .map_err(|e| super::unique(e, "system.name", || format!("the name {name} is taken")))?;
    if result.rows_affected == 0 {
        return Err(Error::Aborted(
            "the system was changed concurrently; read it again".into(),
        ));
    }
    Ok(changed)
}
