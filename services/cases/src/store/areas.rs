//! Areas cases are sorted by.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Versioned;

/// An area as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "areas")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Its 2nd-line team.
    pub team_id: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts an area.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let name = model.name.clone();
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "area.name", || format!("an area named {name} exists"))
    })
}

/// One area.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every area by name.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find().order_by_asc(Column::Name).all(db).await?)
}

impl Versioned for Model {
    const NAME: &'static str = "area";

    fn taken(&self) -> Option<Error> {
        Some(Error::AlreadyExists {
            field: "area.name",
            description: format!("the name {} is taken", self.name),
        })
    }
}
