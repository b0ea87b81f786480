//! Waves.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Versioned;

/// A wave as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "waves")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Go-live.
    pub go_live: NaiveDate,
    /// Whether its tasks were published.
    pub published: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a wave.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One wave.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A project's waves by go-live.
pub async fn of_project(db: &impl ConnectionTrait, project_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::ProjectId.eq(project_id))
        .order_by_asc(Column::GoLive)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

impl Versioned for Model {
    const NAME: &'static str = "wave";
}
