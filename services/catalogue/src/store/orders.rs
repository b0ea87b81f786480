//! Orders: each names the item version it was placed against, its answers and quote as JSON, and its
//! state; steps and comments are in their own tables.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryOrder, QuerySelect};

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
    /// The municipality's debtor number when it was invoiced.
    pub debtor_number: Option<String>,
    /// For extra support-eligible users: the first day of the month it bills.
    pub billing_month: Option<NaiveDate>,
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

/// One order, locked until the transaction ends (PostgreSQL; SQLite writes one at a time anyway).
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).lock_exclusive().one(db).await?)
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

/// Delivered orders not yet invoiced, delivered within [from, through].
fn due(from: NaiveDate, through: NaiveDate) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::State.eq(Named(OrderState::Delivered)))
        .add(Column::DeliveredDate.between(from, through))
}

/// The municipalities with orders due in [from, through], by id.
pub async fn due_municipalities(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    through: NaiveDate,
) -> Result<Vec<String>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::MunicipalityId)
        .distinct()
        .filter(due(from, through))
        .order_by_asc(Column::MunicipalityId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Marks the orders of `municipality_id` due in [from, through] invoiced by `run_id` under
/// `debtor_number`: each row once, however many runs start together (a row another run took no longer
/// matches).
pub async fn invoice_due(
    txn: &impl ConnectionTrait,
    (from, through): (NaiveDate, NaiveDate),
    municipality_id: &str,
    run_id: &str,
    debtor_number: &str,
    now: DateTimeUtc,
) -> Result<u64, Error> {
    let result = Entity::update_many()
        .col_expr(Column::State, Expr::value(Named(OrderState::Invoiced)))
        .col_expr(Column::InvoicingRunId, Expr::value(run_id))
        .col_expr(Column::DebtorNumber, Expr::value(debtor_number))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(due(from, through))
        .filter(Column::MunicipalityId.eq(municipality_id))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// One municipality's orders and total.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Total {
    /// The municipality.
    pub municipality_id: String,
    /// Orders.
    pub order_count: i64,
    /// Their total in øre.
    pub amount_ore: i64,
}

/// The orders due in [from, through] per municipality, counted and summed in the database: a page by
/// municipality id.
pub async fn basis(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    through: NaiveDate,
    page: &Page,
) -> Result<(Vec<Total>, PageResponse), Error> {
    let mut query = Entity::find()
        .select_only()
        .column(Column::MunicipalityId)
        .column_as(Expr::cust("COUNT(*)"), "order_count")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(\"amount_ore\"), 0) AS BIGINT)"),
            "amount_ore",
        )
        .filter(due(from, through))
        .group_by(Column::MunicipalityId)
        .order_by_asc(Column::MunicipalityId)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::MunicipalityId.gt(after.as_str()));
    }
    let totals = query.into_model::<Total>().all(db).await?;
    Ok(page.finish(totals, |t| t.municipality_id.clone()))
}

/// How many orders a run includes and their total, counted in the database.
pub async fn run_totals(db: &impl ConnectionTrait, run_id: &str) -> Result<(i64, i64), Error> {
    let totals: Option<(i64, i64)> = Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "order_count")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(\"amount_ore\"), 0) AS BIGINT)"),
            "amount_ore",
        )
        .filter(Column::InvoicingRunId.eq(run_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(totals.unwrap_or_default())
}

/// A page of a run's orders (of one municipality when named), by municipality then id.
pub async fn of_run(
    db: &impl ConnectionTrait,
    run_id: &str,
    municipality_id: Option<&str>,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::InvoicingRunId.eq(run_id))
        .order_by_asc(Column::MunicipalityId)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(municipality_id) = municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality_id));
    }
    if let Some(after) = &page.after {
        let Some((municipality, id)) = after.split_once(' ') else {
            return Err(Error::invalid(
                "page.page_token",
                "is not a token from this list",
            ));
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(Column::MunicipalityId.gt(municipality))
                .add(
                    sea_orm::Condition::all()
                        .add(Column::MunicipalityId.eq(municipality))
                        .add(Column::Id.gt(id)),
                ),
        );
    }
    Ok(page.finish(query.all(db).await?, |o| {
        format!("{} {}", o.municipality_id, o.id)
    }))
}

/// The orders billing `municipality_id`'s extra users of the month beginning `month`, whichever item
/// billed them then.
pub async fn of_month(
    db: &impl ConnectionTrait,
    municipality_id: &str,
    month: NaiveDate,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::MunicipalityId.eq(municipality_id))
        .filter(Column::BillingMonth.eq(month))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// The municipalities with orders billing extra users of the month beginning `month`.
pub async fn municipalities_of_month(
    db: &impl ConnectionTrait,
    month: NaiveDate,
) -> Result<Vec<String>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::MunicipalityId)
        .distinct()
        .filter(Column::BillingMonth.eq(month))
        .into_tuple()
        .all(db)
        .await?)
}

/// Serialises the settlements of `municipality_id`'s `month` across replicas until the transaction
/// ends.
pub async fn lock_month(
    txn: &impl ConnectionTrait,
    municipality_id: &str,
    month: NaiveDate,
) -> Result<(), Error> {
    let name = format!("extra-users {municipality_id} {month}");
    Ok(kommune_platform::db::advisory_lock(txn, &name).await?)
}

/// A page of at most `limit` of the orders `orderer` (a caller's subject) placed, by id, after the
/// order `after`.
pub async fn placed_by(
    db: &impl ConnectionTrait,
    orderer: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find()
        .filter(Column::OrderedBy.eq(orderer))
        .order_by_asc(Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(Column::Id.gt(after));
    }
    Ok(query.all(db).await?)
}
