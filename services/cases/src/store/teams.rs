//! Support teams.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_proto::cases::v1::SupportLine;

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
    pub line: Named<SupportLine>,
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
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "team.name", || format!("a team named {name} exists"))
    })
}

/// One team.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every team by name.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find().order_by_asc(Column::Name).all(db).await?)
}

impl Versioned for Model {
    const NAME: &'static str = "team";

    fn taken(&self) -> Option<Error> {
        Some(Error::AlreadyExists {
            field: "team.name",
            description: format!("the name {} is taken", self.name),
        })
    }
}
