//! The catalogue's operations: each checks who may do it, then writes the change, its audit record
//! and its events in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

use kommune_platform::Error;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::calendar::{BusinessCalendar, OpeningHours};
use kommune_platform::clock::SharedClock;
use kommune_platform::outbox::Outbox;
use kommune_platform::records::{AuditTrail, EventFeed};
use kommune_platform::service::ServiceRole;
use kommune_proto::identity::v1::Role;

use crate::store::orders;

mod extra_users;
mod invoicing;
mod items;
mod orders_placed;
mod people;
mod personal_data;
mod steps;

pub use extra_users::Billing;
pub use invoicing::{EXPORT_COLUMNS, Period, unit_amount};
pub use items::ItemView;
pub use orders_placed::{NewAttachment, NewOrder, OrderView};
pub use steps::StepRequest;

/// Who keeps the catalogue.
const KEEPERS: [Role; 2] = [Role::ConsortiumAdmin, Role::SupplierSecondLine];

/// The catalogue's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    identity: Channel,
    calendar: BusinessCalendar,
    billing: Option<Billing>,
}

impl Registry {
    /// The catalogue over its database and clock, asking identity at `identity` about users and, with
    /// `billing`, ordering extra support-eligible users by itself.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        identity: Channel,
        billing: Option<Billing>,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            identity,
            calendar: BusinessCalendar::new(OpeningHours::standard()),
            billing,
        }
    }

    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }
}

/// The order `id`, for a caller who may see it.
async fn visible_order(
    db: &impl sea_orm::ConnectionTrait,
    caller: &Caller,
    id: &str,
) -> Result<orders::Model, Error> {
    let order = orders::find(db, id)
        .await?
        .ok_or_else(|| Error::not_found_field("order", id, "order_id"))?;
    caller.require_sees(&order.municipality_id, "orders")?;
    Ok(order)
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Catalogue;
    const ENTITIES: &'static [&'static str] = &["item", "order", "invoicing_run", "debtor"];

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        id: &str,
    ) -> Result<(), Error> {
        match entity_type {
            // The catalogue is public, and so is how its items changed.
            "item" => Ok(()),
            "order" => visible_order(&self.db, caller, id).await.map(|_| ()),
            _ => caller.require_any_role(
                &[Role::ConsortiumAdmin, Role::SupplierSecondLine],
                "reading the invoicing's trail",
            ),
        }
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Catalogue;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
