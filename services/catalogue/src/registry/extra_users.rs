//! Extra support-eligible users: kommune orders the extra-users item by itself, one order per
//! municipality and month (and a correction when a later change reaches back into a month already
//! settled), its quantity the month's billable extra user-days from identity's billing report, so the
//! orders and the billing report agree. An eligibility change opens the current month's order, linked
//! to the registration; once a month has ended, the sweep settles it.

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use tonic::transport::Channel;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::clock::copenhagen_date;
use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::db::{Named, Txn, update_versioned};
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::catalogue::v1::OrderState;
use kommune_proto::identity::v1 as identity;

use super::Registry;
use crate::domain::{self, ItemContent};
use crate::store::{
    item_versions, items, order_registrations, order_steps, orders, settled_months,
};

/// How far back a change re-settles months already settled.
const MONTHS_BACK: u32 = 12;

/// Who kommune orders extra users as.
const ORDERER: &str = "system:catalogue";

/// identity's billing report, asked with the catalogue's own service account.
pub struct Billing {
    identity: Channel,
    credentials: Arc<ServiceCredentials>,
}

impl Billing {
    /// The report at `identity`, asked with `credentials`.
    pub fn new(identity: Channel, credentials: Arc<ServiceCredentials>) -> Self {
        Self {
            identity,
            credentials,
        }
    }

    /// Each municipality's billable extra user-days in the month beginning `month` (one municipality's
    /// when named), from identity.
    async fn extra_user_days(
        &self,
        month: NaiveDate,
        municipality_id: Option<&str>,
    ) -> Result<Vec<(String, i64)>, Error> {
        let request = identity::GetBillingReportRequest {
            first_day: month.to_string(),
            last_day: domain::last_day(month).to_string(),
            municipality_id: municipality_id.unwrap_or_default().to_owned(),
        };
        let report = identity::eligibility_service_client::EligibilityServiceClient::new(
            self.identity.clone(),
        )
        .get_billing_report(self.credentials.authorize(request).await?)
        .await
        .map_err(|status| {
            tracing::warn!(error = %status, "cannot read identity's billing report");
            Error::Unavailable("identity cannot report billing now; retry".into())
        })?
        .into_inner();
        Ok(report
            .lines
            .into_iter()
            .map(|line| (line.municipality_id, line.extra_user_days))
            .collect())
    }
}

/// The extra-users item with its latest content.
struct ExtraUsers {
    item: items::Model,
    content: ItemContent,
}

impl Registry {
    async fn extra_users(&self) -> Result<Option<(&Billing, ExtraUsers)>, Error> {
        let Some(billing) = &self.billing else {
            return Ok(None);
        };
        let Some(item) = items::extra_users_item(&self.db).await? else {
            return Ok(None);
        };
        let content = item_versions::find(&self.db, &item.id, item.latest_version)
            .await?
            .ok_or_else(|| Error::internal("an item without its latest version"))?
            .content()?;
        Ok(Some((billing, ExtraUsers { item, content })))
    }

    /// identity's `EligibilityChanged`: months already settled are settled again (a change may reach
    /// back), and the current month has an open order, linked to the registration, while the
    /// municipality has extra users in it.
    pub async fn eligibility_changed(
        &self,
        changed: identity::EligibilityChanged,
    ) -> Result<(), Error> {
        let Some((billing, extra)) = self.extra_users().await? else {
            return Ok(());
        };
        let municipality = changed.municipality_id.as_str();
        let registrations: Vec<&str> = [
            changed.registration_id.as_str(),
            changed.replaced_registration_id.as_str(),
        ]
        .into_iter()
        .filter(|r| !r.is_empty())
        .collect();
        let this_month = domain::month_of(copenhagen_date(self.clock.now()));
        if let Some(latest) = settled_months::latest(&self.db).await? {
            let earliest = latest
                .checked_sub_months(chrono::Months::new(MONTHS_BACK - 1))
                .unwrap_or(latest);
            let until = latest.succ_opt().unwrap_or(latest);
            for month in domain::months(earliest, until) {
                let billed = billed(billing, month, municipality).await?;
                self.settle(&extra, municipality, month, billed, &registrations)
                    .await?;
            }
        }
        if billed(billing, this_month, municipality).await? > 0 {
            self.open_month(&extra, municipality, this_month, &registrations)
                .await?;
        }
        Ok(())
    }

    /// Settles every month that has ended and is not settled yet, and the latest settled one again
    /// (a change may have landed while it was being settled, before its event could see it settled):
    /// every municipality with extra user-days in it or orders of it. Settling is idempotent, so
    /// replicas sweeping together do no harm.
    pub async fn settle_ended_months(&self) -> Result<(), Error> {
        let Some((billing, extra)) = self.extra_users().await? else {
            return Ok(());
        };
        let this_month = domain::month_of(copenhagen_date(self.clock.now()));
        let first = match settled_months::latest(&self.db).await? {
            Some(latest) => latest,
            None => domain::month_of(copenhagen_date(extra.item.created_at)),
        };
        for month in domain::months(first, this_month) {
            let mut due: Vec<(String, i64)> = billing
                .extra_user_days(month, None)
                .await?
                .into_iter()
                .filter(|(_, days)| *days > 0)
                .collect();
            // Those with orders of the month and no extra days (any more) are settled to nothing.
            for municipality in orders::municipalities_of_month(&self.db, month).await? {
                if !due.iter().any(|(m, _)| *m == municipality) {
                    due.push((municipality, 0));
                }
            }
            for (municipality, billed) in due {
                self.settle(&extra, &municipality, month, billed, &[])
                    .await?;
            }
            let txn = kommune_platform::db::begin(&self.db).await?;
            settled_months::record(&txn, month, self.clock.now()).await?;
            txn.commit().await?;
        }
        Ok(())
    }

    /// Brings the orders of `municipality`'s `month` to `billed` extra user-days: the open order is
    /// delivered with the difference (or cancelled when there is none), or a correction is ordered
    /// and delivered at once (negative: a credit).
    async fn settle(
        &self,
        extra: &ExtraUsers,
        municipality: &str,
        month: NaiveDate,
        billed: i64,
        registrations: &[&str],
    ) -> Result<(), Error> {
        let caller = Caller::system("catalogue");
        let txn = kommune_platform::db::begin(&self.db).await?;
        orders::lock_month(&txn, municipality, month).await?;
        let existing = orders::of_month(&txn, municipality, month).await?;
        let settled_before = existing
            .iter()
            .any(|o| matches!(*o.state, OrderState::Delivered | OrderState::Invoiced));
        let settled: i64 = existing
            .iter()
            .filter(|o| matches!(*o.state, OrderState::Delivered | OrderState::Invoiced))
            .map(|o| o.quantity)
            .sum();
        let rate = self.rate_of_month(&txn, extra, existing.first()).await?;
        let open = existing
            .into_iter()
            .find(|o| *o.state == OrderState::InDelivery);
        let days = domain::correction(billed, settled);
        let amount = rate
            .checked_mul(days)
            .ok_or_else(|| Error::internal("the amount of a month of extra users overflows"))?;
        // The month's own settlement is delivered on its last day; a correction on the day it is made,
        // so it goes on the next invoicing basis.
        let delivered_on = if settled_before {
            copenhagen_date(self.clock.now())
        } else {
            domain::last_day(month)
        };
        let touched = match (days, open) {
            (0, None) => None,
            (0, Some(open)) => {
                let reason = "no billable extra users this month";
                Some(
                    self.extra_step(&txn, &caller, extra, open, OrderState::Cancelled, reason)
                        .await?,
                )
            }
            (days, open) => {
                let mut order = match open {
                    Some(open) => open,
                    None => {
                        self.new_month_order(&txn, &caller, extra, municipality, month)
                            .await?
                    }
                };
                order.quantity = days;
                order.amount_ore = Some(amount);
                order.delivered_date = Some(delivered_on);
                Some(
                    self.extra_step(&txn, &caller, extra, order, OrderState::Delivered, "")
                        .await?,
                )
            }
        };
        if let Some(order) = touched {
            for registration in registrations {
                order_registrations::link(&txn, &order.id, registration).await?;
            }
        }
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// Opens `municipality`'s order of `month` (in delivery, nothing billed yet) unless it has one,
    /// and links it to the registrations.
    async fn open_month(
        &self,
        extra: &ExtraUsers,
        municipality: &str,
        month: NaiveDate,
        registrations: &[&str],
    ) -> Result<(), Error> {
        let caller = Caller::system("catalogue");
        let txn = kommune_platform::db::begin(&self.db).await?;
        orders::lock_month(&txn, municipality, month).await?;
        let existing = orders::of_month(&txn, municipality, month).await?;
        let order = match existing
            .into_iter()
            .find(|o| *o.state == OrderState::InDelivery)
        {
            Some(open) => open,
            None => {
                let order = self
                    .new_month_order(&txn, &caller, extra, municipality, month)
                    .await?;
                order_steps::insert(
                    &txn,
                    &order.id,
                    OrderState::InDelivery,
                    ORDERER,
                    self.clock.now(),
                    "",
                )
                .await?;
                self.announce_step(
                    &txn,
                    &order,
                    &extra.content,
                    OrderState::Unspecified,
                    &caller,
                    "",
                )
                .await?;
                order
            }
        };
        for registration in registrations {
            order_registrations::link(&txn, &order.id, registration).await?;
        }
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// The price of a user-day of a month: that of the item version the month's first order was placed
    /// against (a later version never reprices a month), else the current one.
    async fn rate_of_month(
        &self,
        txn: &Txn,
        extra: &ExtraUsers,
        first: Option<&orders::Model>,
    ) -> Result<i64, Error> {
        let Some(first) = first else {
            return Ok(extra.content.price.amount_ore);
        };
        Ok(item_versions::find(txn, &first.item_id, first.item_version)
            .await?
            .ok_or_else(|| Error::internal("an order's item version is missing"))?
            .content()?
            .price
            .amount_ore)
    }

    /// A new order of extra users for `municipality`'s `month`, in delivery with nothing billed yet.
    async fn new_month_order(
        &self,
        txn: &Txn,
        caller: &Caller,
        extra: &ExtraUsers,
        municipality: &str,
        month: NaiveDate,
    ) -> Result<orders::Model, Error> {
        let now = self.clock.now();
        let number = kommune_platform::numbers::next(txn, "order").await?;
        let order = orders::insert(
            txn,
            orders::Model {
                id: Uuid::now_v7().to_string(),
                number: domain::order_number(number),
                item_id: extra.item.id.clone(),
                item_version: extra.item.latest_version,
                item_name_da: extra.content.name_da.clone(),
                municipality_id: municipality.to_owned(),
                ordered_by: ORDERER.to_owned(),
                quantity: 0,
                answers: "[]".to_owned(),
                state: Named(OrderState::InDelivery),
                amount_ore: Some(0),
                quote: None,
                promised_delivery_date: Some(domain::last_day(month)),
                delivered_date: None,
                invoicing_run_id: None,
                debtor_number: None,
                billing_month: Some(month),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        let payload = json!({"item_id": order.item_id, "billing_month": month});
        self.audit_created(txn, caller, "order", &order.id, "place", payload)
            .await?;
        Ok(order)
    }

    /// Moves an order of extra users to `state` as the system, stepped, audited and announced.
    async fn extra_step(
        &self,
        txn: &Txn,
        caller: &Caller,
        extra: &ExtraUsers,
        mut order: orders::Model,
        state: OrderState,
        reason: &str,
    ) -> Result<orders::Model, Error> {
        let now = self.clock.now();
        let previous = *order.state;
        if previous != state {
            order_steps::insert(txn, &order.id, state, ORDERER, now, reason).await?;
        }
        order.state = Named(state);
        order.version += 1;
        order.updated_at = now;
        let order = update_versioned(txn, order).await?;
        let payload = json!({
            "to": state.as_str_name(),
            "quantity": order.quantity,
            "amount_ore": order.amount_ore,
            "reason": reason,
        });
        self.audit(txn, caller, "order", &order.id, "settle", payload)
            .await?;
        self.announce_step(txn, &order, &extra.content, previous, caller, reason)
            .await?;
        Ok(order)
    }

    /// Refuses a hand-made order of the extra-users item: kommune orders it by itself.
    pub(super) fn refuse_extra_users(item: &items::Model) -> Result<(), Error> {
        if item.extra_eligible_users {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "extra support-eligible users are ordered by kommune itself, from the registrations"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `municipality`'s billable extra user-days in `month`.
async fn billed(billing: &Billing, month: NaiveDate, municipality: &str) -> Result<i64, Error> {
    Ok(billing
        .extra_user_days(month, Some(municipality))
        .await?
        .into_iter()
        .find(|(m, _)| m == municipality)
        .map(|(_, days)| days)
        .unwrap_or_default())
}
