//! Systems cases are filed about.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{ConnectionTrait, DbBackend, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Versioned;

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
    /// Whom reports to the supplier are mailed to, as a JSON list of
    /// [`SupplierContact`](crate::domain::suppliers::SupplierContact).
    pub supplier_contacts: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whom reports to the supplier are mailed to.
    pub fn supplier_contacts(&self) -> Vec<crate::domain::suppliers::SupplierContact> {
        serde_json::from_str(&self.supplier_contacts).unwrap_or_default()
    }
}

/// Inserts a system.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let name = model.name.clone();
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "system.name", || format!("a system named {name} exists"))
    })
}

/// One system.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Locks `id`'s row until the transaction ends (on PostgreSQL; SQLite writes one transaction at a
/// time): filings of one system take turns, so each one's outage detection sees every earlier filing
/// of its system, while filings of other systems go on. The lock leaves the key alone, so rows that
/// refer to the system are not held up.
pub async fn lock_for_filing(txn: &impl ConnectionTrait, id: &str) -> Result<(), Error> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    Entity::find_by_id(id)
        .select_only()
        .column(Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<String>()
        .one(txn)
        .await?;
    Ok(())
}

/// Every system by name.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find().order_by_asc(Column::Name).all(db).await?)
}

impl Versioned for Model {
    const NAME: &'static str = "system";

    fn taken(&self) -> Option<Error> {
        Some(Error::AlreadyExists {
            field: "system.name",
            description: format!("the name {} is taken", self.name),
        })
    }
}
