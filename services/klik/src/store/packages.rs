//! Task packages.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use kommune_platform::Error;

/// A package as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "packages")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The task (one package per task).
    pub task_id: String,
    /// The municipality.
    pub municipality_id: String,
    /// What the items are.
    pub description: String,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a package; a second one for the task is ALREADY_EXISTS.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "task_id", || "the task already has a package".into())
    })
}

/// One package.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// The package of a task, if any.
pub async fn of_task(db: &impl ConnectionTrait, task_id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TaskId.eq(task_id))
        .one(db)
        .await?)
}

/// The packages of some tasks.
pub async fn of_tasks(db: &impl ConnectionTrait, task_ids: &[String]) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TaskId.is_in(task_ids.iter().map(String::as_str)))
        .all(db)
        .await?)
}
