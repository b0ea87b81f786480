//! The steps an order takes after it is placed, each by whom the step belongs to: the supplier
//! quotes and delivers, the consortium approves, the ordering municipality answers the quote or
//! cancels. Which step may follow which is `domain::after`.

use chrono::NaiveDate;
use serde_json::json;

use kommune_platform::auth::Caller;
use kommune_platform::clock::copenhagen_date;
use kommune_platform::db::{Named, update_versioned};
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::identity::v1::Role;

use super::{OrderView, Registry, visible_order};
use crate::domain::{self, ItemContent, Quote, Step};
use crate::store::{item_versions, order_steps, orders};

/// A step asked for (validated).
#[derive(Debug, Clone)]
pub enum StepRequest {
    /// Quote the hours; the amount is the hours at the item's rate.
    Quote {
        /// Hours estimated.
        hours: f64,
        /// What the quote covers.
        text: String,
    },
    /// Accept the quote.
    AcceptQuote,
    /// Decline the quote.
    DeclineQuote {
        /// Why.
        reason: String,
    },
    /// Approve.
    Approve,
    /// Reject.
    Reject {
        /// Why.
        reason: String,
    },
    /// Start delivery.
    StartDelivery,
    /// Mark delivered.
    Deliver,
    /// Cancel.
    Cancel {
        /// Why.
        reason: String,
    },
}

impl StepRequest {
    fn step(&self) -> Step {
        match self {
            StepRequest::Quote { .. } => Step::Quote,
            StepRequest::AcceptQuote => Step::AcceptQuote,
            StepRequest::DeclineQuote { .. } => Step::DeclineQuote,
            StepRequest::Approve => Step::Approve,
            StepRequest::Reject { .. } => Step::Reject,
            StepRequest::StartDelivery => Step::StartDelivery,
            StepRequest::Deliver => Step::Deliver,
            StepRequest::Cancel { .. } => Step::Cancel,
        }
    }

    fn reason(&self) -> &str {
        match self {
            StepRequest::DeclineQuote { reason }
            | StepRequest::Reject { reason }
            | StepRequest::Cancel { reason } => reason,
            _ => "",
        }
    }

    /// The audit's name of the step.
    fn action(&self) -> &'static str {
        match self.step() {
            Step::Quote => "quote",
            Step::AcceptQuote => "accept_quote",
            Step::DeclineQuote => "decline_quote",
            Step::Approve => "approve",
            Step::Reject => "reject",
            Step::StartDelivery => "start_delivery",
            Step::Deliver => "deliver",
            Step::Cancel => "cancel",
            Step::Invoice => "invoice",
        }
    }
}

/// PERMISSION_DENIED unless `caller` may take `step` on an order of `content` placed by
/// `municipality_id`.
fn require_may_take(
    caller: &Caller,
    step: Step,
    content: &ItemContent,
    municipality_id: &str,
) -> Result<(), Error> {
    let (roles, who): (&[Role], &str) = match step {
        Step::Quote | Step::StartDelivery | Step::Deliver => {
            (&[Role::SupplierSecondLine], "the supplier")
        }
        Step::Approve => (&[Role::ConsortiumAdmin], "the consortium"),
        Step::Reject => (
            &[Role::ConsortiumAdmin, Role::SupplierSecondLine],
            "the consortium or the supplier",
        ),
        Step::AcceptQuote | Step::DeclineQuote | Step::Cancel => {
            let own = caller
                .municipality_id
                .is_some_and(|m| m.to_string() == municipality_id);
            if own && content.orderable_by(municipality_id, &caller.roles) {
                return Ok(());
            }
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "only the ordering municipality's users who may order the item answer a quote or \
                 cancel"
                    .into(),
            ));
        }
        Step::Invoice => (&[Role::ConsortiumAdmin], "the consortium"),
    };
    if caller.has_any_role(roles) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            Reason::RoleRequired,
            format!("only {who} may take this step"),
        ))
    }
}

impl Registry {
    /// Takes `request`'s step on the order `id` at the version the caller read.
    pub async fn take_step(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        request: StepRequest,
    ) -> Result<OrderView, Error> {
        let now = self.clock.now();
        let today = copenhagen_date(now);
        let step = request.step();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut order = visible_order(&txn, caller, id).await?;
        orders::find_for_update(&txn, &order.id).await?;
        let content = item_versions::find(&txn, &order.item_id, order.item_version)
            .await?
            .ok_or_else(|| Error::internal("an order's item version is missing"))?
            .content()?;
        require_may_take(caller, step, &content, &order.municipality_id)?;
        if order.billing_month.is_some() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "an order of extra support-eligible users is settled by kommune itself".into(),
            ));
        }
        Error::require_version("order", order.version, expected_version)?;
        let previous = *order.state;
        let next = domain::after(previous, step, content.needs())
            .map_err(|why| Error::FailedPrecondition(Reason::WrongState, why))?;
        let mut payload = json!({"from": previous.as_str_name(), "to": next.as_str_name()});
        match &request {
            StepRequest::Quote { hours, text } => {
                if content.quoted_amount(*hours) > domain::AMOUNT_MAX {
                    return Err(Error::invalid(
                        "hours",
                        "make the quote more than 100,000,000 kroner",
                    ));
                }
                let quote = Quote {
                    hours: *hours,
                    amount_ore: content.quoted_amount(*hours),
                    text: text.clone(),
                    quoted_by: caller.subject.clone(),
                    quoted_at: now,
                };
                payload["quote"] = json!(quote);
                order.amount_ore = Some(quote.amount_ore);
                order.quote = Some(serde_json::to_string(&quote).map_err(Error::internal)?);
            }
            StepRequest::StartDelivery => {
                let promised = self.promised_date(today, &content)?;
                payload["promised_delivery_date"] = json!(promised);
                order.promised_delivery_date = Some(promised);
            }
            StepRequest::Deliver => order.delivered_date = Some(today),
            _ => {}
        }
        let reason = request.reason();
        if !reason.is_empty() {
            payload["reason"] = json!(reason);
        }
        order.state = Named(next);
        order.version += 1;
        order.updated_at = now;
        let order: orders::Model = update_versioned(&txn, order).await?;
        order_steps::insert(&txn, &order.id, next, &caller.subject, now, reason).await?;
        self.audit(&txn, caller, "order", &order.id, request.action(), payload)
            .await?;
        self.announce_step(&txn, &order, &content, previous, caller, reason)
            .await?;
        let view = super::orders_placed::view(&txn, order).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(view)
    }

    /// The last day a delivery starting `today` is promised by.
    fn promised_date(&self, today: NaiveDate, content: &ItemContent) -> Result<NaiveDate, Error> {
        self.calendar
            .add_working_days(today, content.delivery_working_days)
            .ok_or_else(|| Error::internal("no promised delivery date within the calendar"))
    }
}
