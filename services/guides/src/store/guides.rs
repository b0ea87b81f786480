//! Guides: their title, system, current version and state.

use sea_orm::entity::prelude::*;
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::{Named, Versioned};
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::guides::v1::{Audience, GuideState, Language};

/// A guide as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guides")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The system it is a guide to.
    pub system_id: String,
    /// That system's name when imported.
    pub system_name: String,
    /// Its title.
    pub title: String,
    /// Who it is for.
    pub audience: Named<Audience>,
    /// Its language.
    pub language: Named<Language>,
    /// The current version.
    pub version: i32,
    /// Published or withdrawn.
    pub state: Named<GuideState>,
    /// Why it was withdrawn; empty otherwise.
    pub withdrawn_reason: String,
    /// Incremented by every change (the search index follows it).
    pub revision: i64,
    /// First imported.
    pub created_at: DateTimeUtc,
    /// Last imported or changed state.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Versioned for Model {
    const NAME: &'static str = "guide";

    fn read_at(&self) -> Condition {
        Condition::all()
            .add(Column::Id.eq(self.id.as_str()))
            .add(Column::Revision.eq(self.revision - 1))
    }
}

/// Inserts a guide.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One guide.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// The titles of the guides `ids`, by id.
pub async fn titles(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, String>, Error> {
    let titles: Vec<(String, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Title)
        .filter(Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(titles.into_iter().collect())
}

/// One guide, locked until the transaction ends (PostgreSQL; SQLite writes one at a time anyway).
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).lock_exclusive().one(db).await?)
}

/// Every guide's id and revision: what the search index compares with what it holds.
pub async fn revisions(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Revision)
        .into_tuple()
        .all(db)
        .await?)
}

/// The list's sort key: title, then id.
fn position(guide: &Model) -> String {
    format!("{}\u{1f}{}", guide.title, guide.id)
}

/// A page of the guides in `state` (to one system when named), by title.
pub async fn list(
    db: &impl ConnectionTrait,
    state: GuideState,
    system_id: Option<&str>,
    with_supplier_guides: bool,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::State.eq(Named(state)))
        .order_by_asc(Column::Title)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(system_id) = system_id {
        query = query.filter(Column::SystemId.eq(system_id));
    }
    if !with_supplier_guides {
        query = query.filter(Column::Audience.ne(Named(Audience::Supplier)));
    }
    if let Some(after) = &page.after {
        let Some((title, id)) = after.split_once('\u{1f}') else {
            return Err(Error::invalid(
                "page.page_token",
                "is not a token from this list",
            ));
        };
        query = query.filter(
            Condition::any().add(Column::Title.gt(title)).add(
                Condition::all()
                    .add(Column::Title.eq(title))
                    .add(Column::Id.gt(id)),
            ),
        );
    }
    Ok(page.finish(query.all(db).await?, position))
}

/// Which of the guides `ids` are the supplier's own (audience `AUDIENCE_SUPPLIER`).
pub async fn supplier_only(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<Vec<String>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(ids))
        .filter(Column::Audience.eq(Named(Audience::Supplier)))
        .into_tuple()
        .all(db)
        .await?)
}
