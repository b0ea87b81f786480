//! Invoicing delivered orders: debtor numbers, the basis per municipality, and numbered runs that
//! mark each order they include invoiced in their own transaction, so no order is invoiced twice.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::clock::copenhagen_date;
use kommune_platform::db::Txn;
use kommune_platform::export;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::catalogue::v1::OrderState;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;

use super::Registry;
use crate::domain::ItemContent;
use crate::store::{debtors, invoicing_runs, item_versions, order_steps, orders};

/// Who invoices.
const INVOICERS: [Role; 1] = [Role::ConsortiumAdmin];
/// Who reads the invoicing.
const READERS: [Role; 2] = [Role::ConsortiumAdmin, Role::SupplierSecondLine];
/// How many of a run's orders are stepped, audited and announced at a time.
const RUN_PAGE: u64 = 500;

/// The columns of an exported run: Danish, with English beside.
pub const EXPORT_COLUMNS: [&str; 10] = [
    "Kørsel (run)",
    "Kommune (municipality)",
    "Debitornummer (debtor number)",
    "Bestilling (order)",
    "Ydelse (item)",
    "Antal (quantity)",
    "Stykpris i øre (unit price, øre)",
    "Beløb i øre (amount, øre)",
    "Leveret (delivered)",
    "Bestillings-id (order id)",
];

/// A period of delivery days, checked.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub through: NaiveDate,
}

impl Registry {
    /// Sets a municipality's debtor number (consortium admins); identity must know the municipality.
    pub async fn set_debtor_number(
        &self,
        caller: &Caller,
        municipality_id: &str,
        debtor_number: String,
    ) -> Result<debtors::Model, Error> {
        caller.require_any_role(&INVOICERS, "setting a debtor number")?;
        if kommune_platform::client::municipality(&self.identity, caller, municipality_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found_field(
                "municipality",
                municipality_id,
                "municipality_id",
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let set = debtors::set(
            &txn,
            debtors::Model {
                municipality_id: municipality_id.to_owned(),
                debtor_number,
                updated_at: self.clock.now(),
            },
        )
        .await?;
        let payload =
            json!({"municipality_id": set.municipality_id, "debtor_number": set.debtor_number});
        self.audit(&txn, caller, "debtor", municipality_id, "set", payload)
            .await?;
        txn.commit().await?;
        Ok(set)
    }

    /// A page of debtor numbers.
    pub async fn list_debtor_numbers(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> Result<(Vec<debtors::Model>, PageResponse), Error> {
        caller.require_any_role(&READERS, "reading the invoicing")?;
        debtors::list(&self.db, page).await
    }

    /// The orders due in `period` per municipality, with their debtor numbers.
    pub async fn invoicing_basis(
        &self,
        caller: &Caller,
        period: Period,
        page: &Page,
    ) -> Result<(Vec<(orders::Total, Option<String>)>, PageResponse), Error> {
        caller.require_any_role(&READERS, "reading the invoicing")?;
        let (totals, next) = orders::basis(&self.db, period.from, period.through, page).await?;
        let ids: Vec<String> = totals.iter().map(|t| t.municipality_id.clone()).collect();
        let numbers: HashMap<String, String> = debtors::of(&self.db, &ids)
            .await?
            .into_iter()
            .map(|d| (d.municipality_id, d.debtor_number))
            .collect();
        let with_numbers = totals
            .into_iter()
            .map(|t| {
                let number = numbers.get(&t.municipality_id).cloned();
                (t, number)
            })
            .collect();
        Ok((with_numbers, next))
    }

    /// Starts a run over the orders delivered in `period` and not yet invoiced (consortium admins):
    /// each is marked invoiced under its municipality's debtor number, stepped, audited and announced
    /// in the run's transaction.
    pub async fn create_invoicing_run(
        &self,
        caller: &Caller,
        period: Period,
        key: Option<IdempotencyKey>,
    ) -> Result<invoicing_runs::Model, Error> {
        caller.require_any_role(&INVOICERS, "starting an invoicing run")?;
        let now = self.clock.now();
        if period.through > copenhagen_date(now) {
            return Err(Error::invalid(
                "delivered_through",
                "must not be after today: orders not yet delivered cannot be invoiced",
            ));
        }
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |run: &invoicing_runs::Model| run.id.clone(),
            async |txn: &Txn| {
                // Taken first: runs queue on the counter, so each sees what the one before left.
                let number = kommune_platform::numbers::next_gapless(txn, "invoicing_run").await?;
                let municipalities =
                    orders::due_municipalities(txn, period.from, period.through).await?;
                if municipalities.is_empty() {
                    return Err(Error::FailedPrecondition(
                        Reason::WrongState,
                        "no delivered order of the period is left to invoice".into(),
                    ));
                }
                let numbers: HashMap<String, String> = debtors::of(txn, &municipalities)
                    .await?
                    .into_iter()
                    .map(|d| (d.municipality_id, d.debtor_number))
                    .collect();
                let missing: Vec<&str> = municipalities
                    .iter()
                    .filter(|m| !numbers.contains_key(*m))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::FailedPrecondition(
                        Reason::WrongState,
                        format!(
                            "these municipalities have orders to invoice but no debtor number: {}",
                            missing.join(", ")
                        ),
                    ));
                }
                let run = invoicing_runs::insert(
                    txn,
                    invoicing_runs::Model {
                        id: Uuid::now_v7().to_string(),
                        number,
                        delivered_from: period.from,
                        delivered_through: period.through,
                        order_count: 0,
                        amount_ore: 0,
                        created_by: caller.subject.clone(),
                        created_at: now,
                    },
                )
                .await?;
                for municipality in &municipalities {
                    let number = &numbers[municipality];
                    let bounds = (period.from, period.through);
                    orders::invoice_due(txn, bounds, municipality, &run.id, number, now).await?;
                }
                let totals = orders::run_totals(txn, &run.id).await?;
                let run = invoicing_runs::set_totals(txn, run, totals).await?;
                self.step_invoiced(txn, caller, &run).await?;
                let payload = json!({
                    "number": run.number,
                    "delivered_from": run.delivered_from,
                    "delivered_through": run.delivered_through,
                    "order_count": run.order_count,
                    "amount_ore": run.amount_ore,
                });
                self.audit_created(txn, caller, "invoicing_run", &run.id, "create", payload)
                    .await?;
                Ok(run)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| self.get_invoicing_run(caller, &id).await)
            .await
    }

    /// Steps, audits and announces every order `run` invoiced, a page at a time.
    async fn step_invoiced(
        &self,
        txn: &Txn,
        caller: &Caller,
        run: &invoicing_runs::Model,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let mut contents: HashMap<(String, i32), ItemContent> = HashMap::new();
        let mut page = Page {
            size: RUN_PAGE,
            after: None,
        };
        loop {
            let (invoiced, next) = orders::of_run(txn, &run.id, None, &page).await?;
            for order in &invoiced {
                let version = (order.item_id.clone(), order.item_version);
                if !contents.contains_key(&version) {
                    let content = item_versions::find(txn, &order.item_id, order.item_version)
                        .await?
                        .ok_or_else(|| Error::internal("an order's item version is missing"))?
                        .content()?;
                    contents.insert(version.clone(), content);
                }
                order_steps::insert(
                    txn,
                    &order.id,
                    OrderState::Invoiced,
                    &caller.subject,
                    now,
                    "",
                )
                .await?;
                let payload = json!({
                    "from": OrderState::Delivered.as_str_name(),
                    "to": OrderState::Invoiced.as_str_name(),
                    "invoicing_run_id": run.id,
                    "debtor_number": order.debtor_number,
                });
                self.audit(txn, caller, "order", &order.id, "invoice", payload)
                    .await?;
                self.announce_step(
                    txn,
                    order,
                    &contents[&version],
                    OrderState::Delivered,
                    caller,
                    "",
                )
                .await?;
            }
            if next.next_page_token.is_empty() {
                return Ok(());
            }
            page.after = invoiced
                .last()
                .map(|o| format!("{} {}", o.municipality_id, o.id));
        }
    }

    /// One run.
    pub async fn get_invoicing_run(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<invoicing_runs::Model, Error> {
        caller.require_any_role(&READERS, "reading the invoicing")?;
        invoicing_runs::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("invoicing run", id, "run_id"))
    }

    /// A page of runs, newest first.
    pub async fn list_invoicing_runs(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> Result<(Vec<invoicing_runs::Model>, PageResponse), Error> {
        caller.require_any_role(&READERS, "reading the invoicing")?;
        invoicing_runs::list(&self.db, page).await
    }

    /// A page of a run's orders.
    pub async fn invoicing_lines(
        &self,
        caller: &Caller,
        run_id: &str,
        municipality_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<orders::Model>, PageResponse), Error> {
        let run = self.get_invoicing_run(caller, run_id).await?;
        orders::of_run(&self.db, &run.id, municipality_id, page).await
    }

    /// A run's lines as a file in `format`.
    pub async fn export_invoicing_run(
        &self,
        caller: &Caller,
        run_id: &str,
        format: export::Format,
    ) -> Result<export::Chunks, Error> {
        let run = self.get_invoicing_run(caller, run_id).await?;
        let columns = EXPORT_COLUMNS.map(str::to_owned).to_vec();
        let rows = RunRows {
            db: self.db.clone(),
            run,
            after: None,
            done: false,
        };
        Ok(export::stream(format, columns, rows))
    }
}

/// The price per unit of an order: its amount over its quantity (a credit's quantity is negative).
pub fn unit_amount(order: &orders::Model) -> i64 {
    let amount = order.amount_ore.unwrap_or_default();
    match order.quantity {
        0 => amount,
        quantity => amount / quantity,
    }
}

/// A run's lines, a page at a time, for an export.
struct RunRows {
    db: sea_orm::DatabaseConnection,
    run: invoicing_runs::Model,
    after: Option<String>,
    done: bool,
}

impl export::Rows for RunRows {
    async fn next_page(&mut self) -> Result<Vec<Vec<String>>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = Page {
            size: RUN_PAGE,
            after: self.after.take(),
        };
        let (lines, next) = orders::of_run(&self.db, &self.run.id, None, &page).await?;
        self.done = next.next_page_token.is_empty();
        self.after = lines
            .last()
            .map(|o| format!("{} {}", o.municipality_id, o.id));
        Ok(lines
            .into_iter()
            .map(|o| {
                vec![
                    self.run.number.to_string(),
                    o.municipality_id.clone(),
                    o.debtor_number.clone().unwrap_or_default(),
                    o.number.clone(),
                    o.item_name_da.clone(),
                    o.quantity.to_string(),
                    unit_amount(&o).to_string(),
                    o.amount_ore.unwrap_or_default().to_string(),
                    o.delivered_date.map(|d| d.to_string()).unwrap_or_default(),
                    o.id,
                ]
            })
            .collect())
    }
}
