//! Items of task packages.

use std::collections::{BTreeMap, HashMap};

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::db::Named;
use kommune_platform::paging::Page;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::klik::v1::ItemState;

/// An item as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package_items")]
pub struct Model {
    /// UUID (v7, so ids sort in loading order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The package.
    pub package_id: String,
    /// Key in the source system, unique in the package.
    pub reference: String,
    /// Reference data as a JSON object of strings.
    pub attributes: String,
    /// State (proto name).
    pub state: Named<ItemState>,
    /// The benefits-system case it was resolved with.
    pub case_reference: String,
    /// Why it needs no handling.
    pub reason: String,
    /// Who resolved it.
    pub resolved_by: String,
    /// When.
    pub resolved_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Rows per insert statement (keeps every statement under SQLite's and PostgreSQL's parameter limits).
const CHUNK: usize = 500;

impl Model {
    /// The reference data.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.attributes).unwrap_or_default()
    }
}

/// Inserts items in chunks, inside the caller's transaction; a reference already in the package is
/// ALREADY_EXISTS.
pub async fn insert_all(txn: &impl ConnectionTrait, items: Vec<Model>) -> Result<(), Error> {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<ActiveModel> = items.by_ref().take(CHUNK).map(ActiveModel::from).collect();
        Entity::insert_many(chunk).exec(txn).await.map_err(|e| {
            kommune_platform::db::unique(e, "items", || {
                "a reference is already in the package".into()
            })
        })?;
    }
    Ok(())
}

/// One item.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// (items, open items) of one package.
pub async fn counts(db: &impl ConnectionTrait, package_id: &str) -> Result<(u64, u64), Error> {
    let all = Entity::find()
        .filter(Column::PackageId.eq(package_id))
        .count(db)
        .await?;
    let open = Entity::find()
        .filter(Column::PackageId.eq(package_id))
        .filter(Column::State.eq(Named(ItemState::Open)))
        .count(db)
        .await?;
    Ok((all, open))
}

/// Open items per package, for some packages.
pub async fn open_per_package(
    db: &impl ConnectionTrait,
    package_ids: &[String],
) -> Result<HashMap<String, u64>, Error> {
    let rows: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::PackageId)
        .column_as(Column::Id.count(), "open")
        .filter(Column::PackageId.is_in(package_ids.iter().map(String::as_str)))
        .filter(Column::State.eq(Named(ItemState::Open)))
        .group_by(Column::PackageId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, n as u64)).collect())
}

/// A page of a package's items in loading order, optionally the open ones only.
pub async fn list(
    db: &impl ConnectionTrait,
    package_id: &str,
    open_only: bool,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::PackageId.eq(package_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if open_only {
        query = query.filter(Column::State.eq(Named(ItemState::Open)));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |i| i.id.clone()))
}

/// Writes a resolved item if it is still open; FAILED_PRECONDITION otherwise.
pub async fn resolve(txn: &impl ConnectionTrait, resolved: Model) -> Result<Model, Error> {
    let result = Entity::update_many()
        .set(ActiveModel::from(resolved.clone()).reset_all())
        .filter(Column::Id.eq(resolved.id.as_str()))
        .filter(Column::State.eq(Named(ItemState::Open)))
        .exec(txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::FailedPrecondition(
            Reason::WrongState,
            "the item was already resolved".into(),
        ));
    }
    Ok(resolved)
}
