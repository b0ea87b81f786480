//! The steps orders took, oldest first by their UUIDv7 ids.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_proto::catalogue::v1::OrderState;

/// A step as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_steps")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The order.
    pub order_id: String,
    /// The state entered.
    pub state: Named<OrderState>,
    /// Who took it.
    pub actor: String,
    /// When.
    pub at: DateTimeUtc,
    /// The reason given; empty if none.
    pub reason: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records that `order_id` entered `state`.
pub async fn insert(
    txn: &impl ConnectionTrait,
    order_id: &str,
    state: OrderState,
    actor: &str,
    at: DateTimeUtc,
    reason: &str,
) -> Result<(), Error> {
    let model = Model {
        id: Uuid::now_v7().to_string(),
        order_id: order_id.to_owned(),
        state: Named(state),
        actor: actor.to_owned(),
        at,
        reason: reason.to_owned(),
    };
    ActiveModel::from(model).insert(txn).await?;
    Ok(())
}

/// The steps of the orders `order_ids` (a page of orders at most), oldest first.
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: impl IntoIterator<Item = String>,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::OrderId.is_in(order_ids))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Who took each step, the reason they gave and the order: what erasing an anonymised person's words
/// needs.
pub const AUTHORED: kommune_platform::db::AuthoredText<Entity> =
    kommune_platform::db::AuthoredText {
        what: "order step reasons",
        author: Column::Actor,
        text: Column::Reason,
        owner: Column::OrderId,
    };
