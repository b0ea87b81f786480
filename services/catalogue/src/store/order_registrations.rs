//! Which eligibility registrations (identity's) made or changed an order of extra users.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// A link as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_registrations")]
pub struct Model {
    /// The order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    /// The registration.
    #[sea_orm(primary_key, auto_increment = false)]
    pub registration_id: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Links an order to a registration (once, however often asked).
pub async fn link(
    txn: &impl ConnectionTrait,
    order_id: &str,
    registration_id: &str,
) -> Result<(), Error> {
    let model = Model {
        order_id: order_id.to_owned(),
        registration_id: registration_id.to_owned(),
    };
    Entity::insert(ActiveModel::from(model))
        .on_conflict_do_nothing_on([Column::OrderId, Column::RegistrationId])
        .exec(txn)
        .await?;
    Ok(())
}

/// The links of the orders `order_ids` (a page of orders at most).
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: impl IntoIterator<Item = String>,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::OrderId.is_in(order_ids))
        .order_by_asc(Column::RegistrationId)
        .all(db)
        .await?)
}
