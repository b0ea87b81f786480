//! Placing, reading and discussing orders. A municipality's users see their own municipality's
//! orders only; the consortium and the supplier see all.

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::{Named, Txn};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::validate::Validator;
use kommune_platform::{Error, Reason};
use kommune_proto::catalogue::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use pb::{ItemState, OrderState, PriceModel};

use super::{Registry, visible_order};
use crate::domain::{self, Answer, AnswerValue, ItemContent};
use crate::store::{
    item_versions, items, order_attachments, order_comments, order_registrations, order_steps,
    orders,
};

/// An order to place (validated).
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The item.
    pub item_id: String,
    /// Units asked (0 when not named).
    pub quantity: i64,
    /// The answers.
    pub answers: Vec<Answer>,
}

/// The most files an order holds.
pub const ATTACHMENTS_MAX: u64 = 20;

/// A file to attach (validated).
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Its name.
    pub file_name: String,
    /// Its type.
    pub content_type: String,
    /// Its content.
    pub content: Vec<u8>,
}

/// An order with its steps.
#[derive(Debug, Clone)]
pub struct OrderView {
    /// The order.
    pub order: orders::Model,
    /// Its steps, oldest first.
    pub steps: Vec<order_steps::Model>,
    /// The eligibility registrations behind an order of extra users.
    pub registrations: Vec<String>,
}

/// The orders with their steps and registrations, read in one query each.
pub(super) async fn views(
    db: &impl sea_orm::ConnectionTrait,
    found: Vec<orders::Model>,
) -> Result<Vec<OrderView>, Error> {
    let ids = || found.iter().map(|o| o.id.clone());
    let mut steps = order_steps::of_orders(db, ids()).await?;
    let mut links = order_registrations::of_orders(db, ids()).await?;
    Ok(found
        .into_iter()
        .map(|order| {
            let (mine, rest) = steps.drain(..).partition(|s| s.order_id == order.id);
            steps = rest;
            let (linked, rest): (Vec<_>, _) = links.drain(..).partition(|l| l.order_id == order.id);
            links = rest;
            OrderView {
                order,
                steps: mine,
                registrations: linked.into_iter().map(|l| l.registration_id).collect(),
            }
        })
        .collect())
}

/// One order with its steps and registrations.
pub(super) async fn view(
    db: &impl sea_orm::ConnectionTrait,
    order: orders::Model,
) -> Result<OrderView, Error> {
    views(db, vec![order])
        .await?
        .pop()
        .ok_or_else(|| Error::internal("a view of one order is missing"))
}

impl Registry {
    /// Places an order of an item's latest version, for the caller's municipality.
    pub async fn place_order(
        &self,
        caller: &Caller,
        new: NewOrder,
        key: Option<IdempotencyKey>,
    ) -> Result<OrderView, Error> {
        if let Some(id) = idempotency::earlier(&self.db, key.as_ref()).await? {
            return self.get_order(caller, &id).await;
        }
        let Some(municipality) = caller.municipality_id.map(|m| m.to_string()) else {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "a municipality's users place orders, for their municipality".into(),
            ));
        };
        let item = items::find(&self.db, &new.item_id)
            .await?
            .ok_or_else(|| Error::not_found_field("item", &new.item_id, "item_id"))?;
        let version = item_versions::find(&self.db, &item.id, item.latest_version)
            .await?
            .ok_or_else(|| Error::internal("an item without its latest version"))?;
        let content = version.content()?;
        Registry::refuse_extra_users(&item)?;
        orderable(&item, &content, &municipality, caller)?;
        let quantity = self
            .checked_answers(caller, &municipality, &content, &new)
            .await?;
        let amount = content.amount(quantity);
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |view: &OrderView| view.order.id.clone(),
            async |txn: &Txn| {
                // The item as it is now: an order never lands on a version it was not checked against.
                let current = items::find_for_update(txn, &item.id).await?;
                if current.as_ref() != Some(&item) {
                    return Err(Error::Aborted(
                        Reason::StaleVersion,
                        "the item changed while the order was placed; read it again".into(),
                    ));
                }
                let number = kommune_platform::numbers::next(txn, "order").await?;
                let order = orders::insert(
                    txn,
                    orders::Model {
                        id: Uuid::now_v7().to_string(),
                        number: domain::order_number(number),
                        item_id: item.id.clone(),
                        item_version: item.latest_version,
                        item_name_da: content.name_da.clone(),
                        municipality_id: municipality.clone(),
                        ordered_by: caller.subject.clone(),
                        quantity,
                        answers: serde_json::to_string(&new.answers).map_err(Error::internal)?,
                        state: Named(OrderState::Submitted),
                        amount_ore: amount,
                        quote: None,
                        promised_delivery_date: None,
                        delivered_date: None,
                        invoicing_run_id: None,
                        debtor_number: None,
                        billing_month: None,
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                order_steps::insert(
                    txn,
                    &order.id,
                    OrderState::Submitted,
                    &caller.subject,
                    now,
                    "",
                )
                .await?;
                let payload = json!({
                    "item_id": order.item_id,
                    "item_version": order.item_version,
                    "quantity": order.quantity,
                    "answers": new.answers,
                    "amount_ore": order.amount_ore,
                });
                self.audit_created(txn, caller, "order", &order.id, "place", payload)
                    .await?;
                self.announce_step(txn, &order, &content, OrderState::Unspecified, caller, "")
                    .await?;
                view(txn, order).await
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| self.get_order(caller, &id).await)
            .await
    }

    /// The quantity an order of `content` takes, once its answers fit the questions and name users
    /// of the ordering municipality; INVALID_ARGUMENT naming every field that does not fit.
    async fn checked_answers(
        &self,
        caller: &Caller,
        municipality: &str,
        content: &ItemContent,
        new: &NewOrder,
    ) -> Result<i64, Error> {
        let mut v = Validator::new();
        let quantity = match *content.price.model {
            PriceModel::PerUnit if !(1..=domain::QUANTITY_MAX).contains(&new.quantity) => {
                v.violation("quantity", "must be 1 to 100,000 for a per-unit price");
                1
            }
            PriceModel::PerUnit => new.quantity,
            _ if new.quantity > 1 => {
                v.violation(
                    "quantity",
                    "must be 0 or 1: the item is not priced per unit",
                );
                1
            }
            _ => 1,
        };
        let structural = domain::answer_violations(&content.questions, &new.answers);
        let fits = structural.is_empty();
        for (field, message) in structural {
            v.violation(&field, &message);
        }
        if content
            .amount(quantity)
            .is_some_and(|amount| amount > domain::AMOUNT_MAX)
        {
            v.violation(
                "quantity",
                "makes the order cost more than 100,000,000 kroner",
            );
        }
        // Users are asked of identity only for answers that fit otherwise, each user once.
        let mut asked: Vec<(&str, bool)> = Vec::new();
        for (i, answer) in new.answers.iter().enumerate() {
            let AnswerValue::User(user_id) = &answer.value else {
                continue;
            };
            if !fits {
                break;
            }
            let ours = match asked.iter().find(|(id, _)| id == user_id) {
                Some((_, ours)) => *ours,
                None => {
                    let user =
                        kommune_platform::client::user(&self.identity, caller, user_id).await?;
                    let ours = user.is_some_and(|u| {
                        u.municipality_id == municipality && u.active && !u.anonymized
                    });
                    asked.push((user_id, ours));
                    ours
                }
            };
            if !ours {
                v.violation(
                    format!("answers[{i}].user_id"),
                    "must be an active user of the ordering municipality",
                );
            }
        }
        v.finish()?;
        Ok(quantity)
    }

    /// One order with its steps.
    pub async fn get_order(&self, caller: &Caller, id: &str) -> Result<OrderView, Error> {
        let order = visible_order(&self.db, caller, id).await?;
        view(&self.db, order).await
    }

    /// A page of orders, newest first: a municipality's users get their own municipality's only.
    pub async fn list_orders(
        &self,
        caller: &Caller,
        mut filter: orders::Filter,
        page: &Page,
    ) -> Result<(Vec<OrderView>, PageResponse), Error> {
        if let Some(own) = caller.own_municipality()? {
            if let Some(asked) = &filter.municipality_id {
                caller.require_sees(asked, "orders")?;
            }
            filter.municipality_id = Some(own.to_string());
        }
        let (found, next) = orders::list(&self.db, &filter, page).await?;
        Ok((views(&self.db, found).await?, next))
    }

    /// Adds a comment to an order the caller sees.
    pub async fn add_order_comment(
        &self,
        caller: &Caller,
        order_id: &str,
        text: String,
    ) -> Result<order_comments::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let order = visible_order(&txn, caller, order_id).await?;
        let comment = order_comments::insert(
            &txn,
            order_comments::Model {
                id: Uuid::now_v7().to_string(),
                order_id: order.id.clone(),
                author: caller.subject.clone(),
                text,
                created_at: now,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "order",
            &order.id,
            "comment",
            json!({"comment_id": comment.id}),
        )
        .await?;
        let event = pb::OrderCommented {
            order_id: order.id.clone(),
            number: order.number.clone(),
            municipality_id: order.municipality_id.clone(),
            ordered_by: order.ordered_by.clone(),
            comment_id: comment.id.clone(),
            author: caller.subject.clone(),
            text: comment.text.clone(),
        };
        outbox::publish(&txn, now, &order.id, &event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(comment)
    }

    /// Attaches a file to an order the caller sees: at most [`ATTACHMENTS_MAX`] per order.
    pub async fn add_order_attachment(
        &self,
        caller: &Caller,
        order_id: &str,
        file: NewAttachment,
    ) -> Result<order_attachments::Listed, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let order = visible_order(&txn, caller, order_id).await?;
        // Locked, so concurrent uploads count each other.
        orders::find_for_update(&txn, &order.id).await?;
        if order_attachments::count(&txn, &order.id).await? >= ATTACHMENTS_MAX {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!("an order holds at most {ATTACHMENTS_MAX} files"),
            ));
        }
        let attachment = order_attachments::insert(
            &txn,
            order_attachments::Model {
                id: Uuid::now_v7().to_string(),
                order_id: order.id.clone(),
                file_name: file.file_name,
                content_type: file.content_type,
                size_bytes: file.content.len() as i64,
                content: file.content,
                uploaded_by: caller.subject.clone(),
                created_at: now,
            },
        )
        .await?;
        let payload = json!({
            "attachment_id": attachment.id,
            "file_name": attachment.file_name,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
        });
        self.audit(&txn, caller, "order", &order.id, "attach", payload)
            .await?;
        txn.commit().await?;
        Ok(order_attachments::Listed::from(&attachment))
    }

    /// An order's attachments, without their content.
    pub async fn list_order_attachments(
        &self,
        caller: &Caller,
        order_id: &str,
    ) -> Result<Vec<order_attachments::Listed>, Error> {
        let order = visible_order(&self.db, caller, order_id).await?;
        order_attachments::of_order(&self.db, &order.id, ATTACHMENTS_MAX).await
    }

    /// One attachment with its content, for a caller who sees its order.
    pub async fn get_order_attachment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<order_attachments::Model, Error> {
        let attachment = order_attachments::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("attachment", id, "attachment_id"))?;
        visible_order(&self.db, caller, &attachment.order_id).await?;
        Ok(attachment)
    }

    /// A page of an order's comments, oldest first.
    pub async fn list_order_comments(
        &self,
        caller: &Caller,
        order_id: &str,
        page: &Page,
    ) -> Result<(Vec<order_comments::Model>, PageResponse), Error> {
        let order = visible_order(&self.db, caller, order_id).await?;
        order_comments::list(&self.db, &order.id, page).await
    }

    /// Announces that `order` entered its state from `previous`.
    pub(super) async fn announce_step(
        &self,
        txn: &Txn,
        order: &orders::Model,
        content: &ItemContent,
        previous: OrderState,
        caller: &Caller,
        reason: &str,
    ) -> Result<(), Error> {
        let name_en = if content.name_en.is_empty() {
            &content.name_da
        } else {
            &content.name_en
        };
        let event = pb::OrderStepTaken {
            order_id: order.id.clone(),
            number: order.number.clone(),
            municipality_id: order.municipality_id.clone(),
            ordered_by: order.ordered_by.clone(),
            item_name_da: content.name_da.clone(),
            item_name_en: name_en.clone(),
            state: *order.state as i32,
            previous_state: previous as i32,
            actor: caller.subject.clone(),
            reason: reason.to_owned(),
            amount_ore: order.amount_ore.unwrap_or_default(),
            promised_delivery_date: order
                .promised_delivery_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
        };
        outbox::publish(txn, self.clock.now(), &order.id, &event).await
    }
}

/// Whether the caller's municipality and roles may order `item` as `content` describes it.
fn orderable(
    item: &items::Model,
    content: &ItemContent,
    municipality: &str,
    caller: &Caller,
) -> Result<(), Error> {
    if *item.state == ItemState::Withdrawn {
        return Err(Error::FailedPrecondition(
            Reason::WrongState,
            format!(
                "the item is withdrawn and cannot be ordered: {}",
                item.withdrawal_reason
            ),
        ));
    }
    if !content.orderable_by(municipality, &caller.roles) {
        return Err(Error::PermissionDenied(
            Reason::RoleRequired,
            "the item cannot be ordered by your role or municipality".into(),
        ));
    }
    Ok(())
}
