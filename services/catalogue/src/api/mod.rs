//! The gRPC API of the catalogue: maps requests to validated domain inputs, calls the [`Registry`],
//! and maps the results back. Field names in errors are the proto's.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::db::Named;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, format_date, required_id};
use kommune_proto::catalogue::v1 as pb;
use kommune_proto::identity::v1::Role;

use crate::domain::{Answer, AnswerValue, ItemContent, Price, Question};
use crate::registry::{ItemView, OrderView, Registry};
use crate::store::order_comments;

mod invoicing_service;
mod item_service;
mod order_service;

const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 10_000;
const LABEL_MAX: usize = 300;
const SHORT_MAX: usize = 100;
const ANSWER_MAX: usize = 2_000;
const REASON_MAX: usize = 2_000;
/// The most municipalities an item may be limited to (there are 98).
const MUNICIPALITIES_MAX: usize = 100;

/// Implements every catalogue service over the registry.
#[derive(Clone)]
pub struct CatalogueApi {
    registry: Arc<Registry>,
}

impl CatalogueApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

// Proto -> domain.

/// An item's content: every field's shape, every text free of personal ID numbers, then the
/// domain's rules (prices, question keys and choices, orderers).
fn content(v: &mut Validator, c: Option<&pb::ItemContent>) -> ItemContent {
    let empty = pb::ItemContent::default();
    let c = c.unwrap_or(&empty);
    let price = c.price.clone().unwrap_or_default();
    let questions = c
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let field = |name: &str| format!("content.questions[{i}].{name}");
            Question {
                key: q.key.clone(),
                label_da: v.text(&field("label_da"), &q.label_da, LABEL_MAX),
                label_en: v.optional_text(&field("label_en"), &q.label_en, LABEL_MAX),
                kind: Named(v.required_enum(&field("kind"), q.kind)),
                required: q.required,
                choices: q
                    .choices
                    .iter()
                    .enumerate()
                    .map(|(j, choice)| v.text(&field(&format!("choices[{j}]")), choice, SHORT_MAX))
                    .collect(),
            }
        })
        .collect();
    let delivery_working_days = u32::try_from(c.delivery_working_days).unwrap_or_else(|_| {
        v.violation("content.delivery_working_days", "must not be negative");
        0
    });
    let orderable_by = c
        .orderable_by
        .iter()
        .enumerate()
        .map(|(i, role)| {
            Named(v.required_enum::<Role>(&format!("content.orderable_by[{i}]"), *role))
        })
        .collect();
    if c.municipality_ids.len() > MUNICIPALITIES_MAX {
        v.violation(
            "content.municipality_ids",
            "must name at most 100 municipalities",
        );
    }
    let municipality_ids = c
        .municipality_ids
        .iter()
        .enumerate()
        .filter_map(|(i, m)| v.id(&format!("content.municipality_ids[{i}]"), m))
        .map(|m| m.to_string())
        .collect();
    let content = ItemContent {
        name_da: v.text("content.name_da", &c.name_da, NAME_MAX),
        name_en: v.optional_text("content.name_en", &c.name_en, NAME_MAX),
        description_da: v.text("content.description_da", &c.description_da, TEXT_MAX),
        description_en: v.optional_text("content.description_en", &c.description_en, TEXT_MAX),
        category: v.text("content.category", &c.category, SHORT_MAX),
        price: Price {
            model: Named(v.required_enum("content.price.model", price.model)),
            amount_ore: price.amount_ore,
            unit_da: v.optional_text("content.price.unit_da", &price.unit_da, SHORT_MAX),
            unit_en: v.optional_text("content.price.unit_en", &price.unit_en, SHORT_MAX),
        },
        questions,
        delivery_working_days,
        requires_approval: c.requires_approval,
        orderable_by,
        municipality_ids,
        extra_eligible_users: c.extra_eligible_users,
    };
    for (field, message) in content.violations() {
        v.violation(field, message);
    }
    content
}

/// An order's answers, each of a known kind with a well-formed value: no more than an item asks.
fn answers(v: &mut Validator, answers: &[pb::Answer]) -> Vec<Answer> {
    use pb::answer::Value;
    if answers.len() > crate::domain::QUESTIONS_MAX {
        v.violation("answers", "must hold at most 30 answers");
        return Vec::new();
    }
    answers
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let field = |name: &str| format!("answers[{i}].{name}");
            let value = match a.value.as_ref() {
                None => {
                    v.violation(format!("answers[{i}]"), "must hold an answer");
                    return None;
                }
                Some(Value::Text(text)) => {
                    AnswerValue::Text(v.text(&field("text"), text, ANSWER_MAX))
                }
                Some(Value::Number(n)) => {
                    // Ten digits may be a personal ID number.
                    v.optional_text(&field("number"), &format!("{n}"), 40);
                    AnswerValue::Number(*n)
                }
                Some(Value::Date(date)) => AnswerValue::Date(v.date(&field("date"), date)?),
                Some(Value::Choice(choice)) => {
                    AnswerValue::Choice(v.text(&field("choice"), choice, SHORT_MAX))
                }
                Some(Value::UserId(user)) => {
                    AnswerValue::User(v.id(&field("user_id"), user)?.to_string())
                }
            };
            Some(Answer {
                key: a.key.clone(),
                value,
            })
        })
        .collect()
}

/// The order version a step names: required.
fn expected_version(v: &mut Validator, value: i64) -> i64 {
    if value <= 0 {
        v.violation(
            "expected_version",
            "is required: the version of the order read",
        );
    }
    value
}

// Domain -> proto.

fn content_to_proto(c: ItemContent) -> pb::ItemContent {
    pb::ItemContent {
        name_da: c.name_da,
        name_en: c.name_en,
        description_da: c.description_da,
        description_en: c.description_en,
        category: c.category,
        price: Some(pb::Price {
            model: *c.price.model as i32,
            amount_ore: c.price.amount_ore,
            unit_da: c.price.unit_da,
            unit_en: c.price.unit_en,
        }),
        questions: c
            .questions
            .into_iter()
            .map(|q| pb::Question {
                key: q.key,
                label_da: q.label_da,
                label_en: q.label_en,
                kind: *q.kind as i32,
                required: q.required,
                choices: q.choices,
            })
            .collect(),
        delivery_working_days: c.delivery_working_days as i32,
        requires_approval: c.requires_approval,
        orderable_by: c.orderable_by.into_iter().map(|r| *r as i32).collect(),
        municipality_ids: c.municipality_ids,
        extra_eligible_users: c.extra_eligible_users,
    }
}

fn item(view: ItemView) -> Result<pb::Item, Error> {
    let content = view.version.content()?;
    Ok(pb::Item {
        item_id: view.item.id,
        version: view.version.version,
        latest_version: view.item.latest_version,
        content: Some(content_to_proto(content)),
        state: *view.item.state as i32,
        withdrawal_reason: view.item.withdrawal_reason,
        revision: view.item.revision,
        create_time: Some(to_timestamp(view.item.created_at)),
        version_time: Some(to_timestamp(view.version.published_at)),
    })
}

fn answer_to_proto(a: Answer) -> pb::Answer {
    use pb::answer::Value;
    pb::Answer {
        key: a.key,
        value: Some(match a.value {
            AnswerValue::Text(text) => Value::Text(text),
            AnswerValue::Number(n) => Value::Number(n),
            AnswerValue::Date(date) => Value::Date(format_date(date)),
            AnswerValue::Choice(choice) => Value::Choice(choice),
            AnswerValue::User(user) => Value::UserId(user),
        }),
    }
}

fn order(view: OrderView) -> Result<pb::Order, Error> {
    let o = view.order;
    let answers = o.answers()?.into_iter().map(answer_to_proto).collect();
    let quote = o.quote()?.map(|q| pb::Quote {
        hours: q.hours,
        amount_ore: q.amount_ore,
        text: q.text,
        quoted_by: q.quoted_by,
        quote_time: Some(to_timestamp(q.quoted_at)),
    });
    Ok(pb::Order {
        order_id: o.id,
        number: o.number,
        item_id: o.item_id,
        item_version: o.item_version,
        item_name_da: o.item_name_da,
        municipality_id: o.municipality_id,
        ordered_by: o.ordered_by,
        quantity: o.quantity,
        answers,
        state: *o.state as i32,
        amount_ore: o.amount_ore.unwrap_or_default(),
        quote,
        promised_delivery_date: o
            .promised_delivery_date
            .map(format_date)
            .unwrap_or_default(),
        delivered_date: o.delivered_date.map(format_date).unwrap_or_default(),
        invoicing_run_id: o.invoicing_run_id.unwrap_or_default(),
        steps: view
            .steps
            .into_iter()
            .map(|s| pb::OrderStep {
                state: *s.state as i32,
                actor: s.actor,
                time: Some(to_timestamp(s.at)),
                reason: s.reason,
            })
            .collect(),
        version: o.version,
        create_time: Some(to_timestamp(o.created_at)),
        update_time: Some(to_timestamp(o.updated_at)),
        billing_month: o
            .billing_month
            .map(|m| m.format("%Y-%m").to_string())
            .unwrap_or_default(),
        registration_ids: view.registrations,
    })
}

fn comment(c: order_comments::Model) -> pb::OrderComment {
    pb::OrderComment {
        comment_id: c.id,
        order_id: c.order_id,
        author: c.author,
        text: c.text,
        create_time: Some(to_timestamp(c.created_at)),
    }
}

kommune_platform::audit_service!(CatalogueApi, pb, registry);
kommune_platform::privacy_service!(CatalogueApi, pb, registry);
kommune_platform::event_service!(CatalogueApi, pb, registry);
