//! Items: what the catalogue lists (the latest version's name and category) and whether it can be
//! ordered; what each version offers is in `item_versions`.

use sea_orm::entity::prelude::*;
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::{Named, Versioned};
use kommune_platform::paging::Page;
use kommune_proto::catalogue::v1::ItemState;
use kommune_proto::common::v1::PageResponse;

/// An item as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The newest version.
    pub latest_version: i32,
    /// Published or withdrawn.
    pub state: Named<ItemState>,
    /// Why it was withdrawn; empty otherwise.
    pub withdrawal_reason: String,
    /// The latest version's category (the list's order).
    pub category: String,
    /// The latest version's Danish name (the list's order).
    pub name_da: String,
    /// Incremented by every change.
    pub revision: i64,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Whether its latest version bills extra support-eligible users.
    pub extra_eligible_users: bool,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Versioned for Model {
    const NAME: &'static str = "item";

    fn read_at(&self) -> Condition {
        Condition::all()
            .add(Column::Id.eq(self.id.as_str()))
            .add(Column::Revision.eq(self.revision - 1))
    }
}

/// Inserts an item.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One item.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// One item, locked until the transaction ends (PostgreSQL; SQLite writes one at a time anyway).
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).lock_exclusive().one(db).await?)
}

/// The list's sort key: category, name, id (a unit separator between them).
fn position(item: &Model) -> String {
    format!("{}\u{1f}{}\u{1f}{}", item.category, item.name_da, item.id)
}

/// A page of the items in `state` (of one category when named), by category and name.
pub async fn list(
    db: &impl ConnectionTrait,
    state: ItemState,
    category: Option<&str>,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::State.eq(Named(state)))
        .order_by_asc(Column::Category)
        .order_by_asc(Column::NameDa)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(category) = category {
        query = query.filter(Column::Category.eq(category));
    }
    if let Some(after) = &page.after {
        let mut parts = after.splitn(3, '\u{1f}');
        let (Some(category), Some(name), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::invalid(
                "page.page_token",
                "is not a token from this list",
            ));
        };
        query = query.filter(
            Condition::any()
                .add(Column::Category.gt(category))
                .add(
                    Condition::all()
                        .add(Column::Category.eq(category))
                        .add(Column::NameDa.gt(name)),
                )
                .add(
                    Condition::all()
                        .add(Column::Category.eq(category))
                        .add(Column::NameDa.eq(name))
                        .add(Column::Id.gt(id)),
                ),
        );
    }
    Ok(page.finish(query.all(db).await?, position))
}

/// The published item that bills extra support-eligible users, if there is one.
pub async fn extra_users_item(db: &impl ConnectionTrait) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::State.eq(Named(ItemState::Published)))
        .filter(Column::ExtraEligibleUsers.eq(true))
        .one(db)
        .await?)
}
