//! Support teams.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// A team as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The line it serves (proto name).
    pub line: String,
    /// Member user ids as a JSON list.
    pub members: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The member user ids.
    pub fn members(&self) -> Vec<String> {
        serde_json::from_str(&self.members).unwrap_or_default()
    }
}

/// Inserts a team.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let name = model.name.clone();
    ActiveModel::from(model)
        .insert(txn)
        .await
        .map_err(|e| super::unique(e, "team.name", || format!("a team named {name} exists")))
}

/// One team.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every team by name.
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
        .map_err(|e| super::unique(e, "team.name", || format!("the name {name} is taken")))?;
    if result.rows_affected == 0 {
        return Err(Error::Aborted(
            "the team was changed concurrently; read it again".into(),
        ));
    }
    Ok(changed)
}
