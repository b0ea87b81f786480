//! Orders: each names the item version it was placed against, its answers and quote as JSON, and its
//! state; steps and comments are in their own tables.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::{Named, Versioned};
use kommune_platform::paging::Page;
use kommune_proto::catalogue::v1::OrderState;
use kommune_proto::common::v1::PageResponse;

use crate::domain::{Answer, Quote};

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    /// UUIDv7: newest sorts last.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `BEST-000123`.
    pub number: String,
    /// The item.
    pub item_id: String,
    /// The item's version ordered.
    pub item_version: i32,
    /// The item's Danish name in that version.
    pub item_name_da: String,
    /// The ordering municipality.
    pub municipality_id: String,
    /// `user:<uuid>` of the orderer.
    pub ordered_by: String,
    /// Units.
    pub quantity: i64,
    /// The answers, JSON.
    pub answers: String,
    /// Where it is.
    pub state: Named<OrderState>,
    /// The price in øre; `None` until an hourly estimate is quoted.
    pub amount_ore: Option<i64>,
    /// The quote, JSON.
    pub quote: Option<String>,
    /// The promised delivery date.
    pub promised_delivery_date: Option<NaiveDate>,
    /// The delivery date.
    pub delivered_date: Option<NaiveDate>,
    /// The invoicing run that included it.
    pub invoicing_run_id: Option<String>,
    /// Incremented by every change.
    pub version: i64,
    /// Placed.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Versioned for Model {
    const NAME: &'static str = "order";
}

impl Model {
    /// The answers.
    pub fn answers(&self) -> Result<Vec<Answer>, Error> {
        serde_json::from_str(&self.answers).map_err(Error::internal)
    }

    /// The quote, once quoted.
    pub fn quote(&self) -> Result<Option<Quote>, Error> {
        self.quote
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(Error::internal)
    }
}

/// Inserts an order.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One order.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// What a list of orders is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One municipality's.
    pub municipality_id: Option<String>,
    /// In these states (empty: any).
    pub states: Vec<OrderState>,
    /// Of one item.
    pub item_id: Option<String>,
}

/// A page of orders, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(municipality_id) = &filter.municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality_id.as_str()));
    }
    if !filter.states.is_empty() {
        query = query.filter(Column::State.is_in(filter.states.iter().copied().map(Named)));
    }
    if let Some(item_id) = &filter.item_id {
        query = query.filter(Column::ItemId.eq(item_id.as_str()));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |o| o.id.clone()))
}
