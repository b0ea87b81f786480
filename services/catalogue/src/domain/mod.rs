//! The catalogue's rules, without I/O: what an item may offer, whether an order's answers fit its
//! item's questions, what an order costs, and which step an order may take next.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use kommune_platform::auth::is_municipal;
use kommune_platform::db::Named;
use kommune_proto::catalogue::v1::{PriceModel, QuestionKind};
use kommune_proto::identity::v1::Role;

mod orders;

pub use orders::{Needs, Step, after};

/// The most questions an item asks.
pub const QUESTIONS_MAX: usize = 30;
/// The fewest and most choices of a choice question.
pub const CHOICES: std::ops::RangeInclusive<usize> = 2..=20;
/// The longest promised delivery time, in working days (about a year).
pub const DELIVERY_DAYS_MAX: u32 = 250;
/// The highest price of anything, in øre (100 million kroner), so that totals cannot overflow.
pub const AMOUNT_MAX: i64 = 10_000_000_000;
/// The most units one order takes.
pub const QUANTITY_MAX: i64 = 100_000;
/// The most hours a quote estimates.
pub const HOURS_MAX: f64 = 10_000.0;

/// The municipal roles that may order an item when it names none.
pub const DEFAULT_ORDERERS: [Role; 1] = [Role::MunicipalProjectLeader];

/// An item's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// The model.
    pub model: Named<PriceModel>,
    /// Fixed price, unit price or hourly rate, in øre.
    pub amount_ore: i64,
    /// The unit of a per-unit price, in Danish.
    pub unit_da: String,
    /// The unit in English.
    pub unit_en: String,
}

/// A question an order answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The key answers name.
    pub key: String,
    /// The question in Danish.
    pub label_da: String,
    /// The question in English.
    pub label_en: String,
    /// The kind of answer.
    pub kind: Named<QuestionKind>,
    /// Whether it must be answered.
    pub required: bool,
    /// The choices of a choice question.
    pub choices: Vec<String>,
}

/// What a version of an item offers; stored as JSON with enums by their proto names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemContent {
    /// Danish name.
    pub name_da: String,
    /// English name.
    pub name_en: String,
    /// Danish description.
    pub description_da: String,
    /// English description.
    pub description_en: String,
    /// Category.
    pub category: String,
    /// Price.
    pub price: Price,
    /// The questions an order answers.
    pub questions: Vec<Question>,
    /// Promised delivery time in working days.
    pub delivery_working_days: u32,
    /// Whether the consortium approves each order.
    pub requires_approval: bool,
    /// The municipal roles that may order it (empty: project leaders).
    pub orderable_by: Vec<Named<Role>>,
    /// The municipalities that may order it (empty: all).
    pub municipality_ids: Vec<String>,
    /// Whether it is what extra support-eligible users cost (ordered by kommune itself).
    #[serde(default)]
    pub extra_eligible_users: bool,
}

/// A rule an item's content or an order breaks: the request field and what is wrong.
pub type Violation = (String, String);

impl ItemContent {
    /// What is wrong with the content beyond its fields' own shapes (which the API checks).
    pub fn violations(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut fault = |field: String, message: &str| found.push((field, message.to_owned()));
        let price = &self.price;
        if !(0..=AMOUNT_MAX).contains(&price.amount_ore) {
            fault(
                "content.price.amount_ore".into(),
                "must be 0 or more and at most 10,000,000,000 øre",
            );
        }
        match *price.model {
            PriceModel::Free if price.amount_ore != 0 => fault(
                "content.price.amount_ore".into(),
                "must be 0 for a free item",
            ),
            PriceModel::PerUnit if price.unit_da.is_empty() => fault(
                "content.price.unit_da".into(),
                "is required for a per-unit price",
            ),
            PriceModel::HourlyEstimate | PriceModel::PerUnit | PriceModel::Fixed
                if price.amount_ore == 0 =>
            {
                fault(
                    "content.price.amount_ore".into(),
                    "must be more than 0 unless the item is free",
                )
            }
            _ => {}
        }
        if self.questions.len() > QUESTIONS_MAX {
            fault("content.questions".into(), "must hold at most 30 questions");
        }
        let mut keys = std::collections::HashSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            let field = |name: &str| format!("content.questions[{i}].{name}");
            if !is_key(&q.key) {
                fault(
                    field("key"),
                    "must be 1 to 40 lowercase letters, digits and `_`, starting with a letter",
                );
            } else if !keys.insert(q.key.as_str()) {
                fault(field("key"), "is used by another question of the item");
            }
            let choice = *q.kind == QuestionKind::Choice;
            if choice && !CHOICES.contains(&q.choices.len()) {
                fault(field("choices"), "must hold 2 to 20 choices");
            } else if choice
                && q.choices
                    .iter()
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    != q.choices.len()
            {
                fault(field("choices"), "must be distinct");
            } else if !choice && !q.choices.is_empty() {
                fault(
                    field("choices"),
                    "must be empty unless the question is a choice",
                );
            }
        }
        if self.extra_eligible_users && *price.model != PriceModel::PerUnit {
            fault(
                "content.price.model".into(),
                "must be per unit (one user-day) for extra support-eligible users",
            );
        }
        if self.delivery_working_days > DELIVERY_DAYS_MAX {
            fault(
                "content.delivery_working_days".into(),
                "must be at most 250 working days",
            );
        }
        if self.orderable_by.iter().any(|role| !is_municipal(**role)) {
            fault(
                "content.orderable_by".into(),
                "must name municipal roles only (caseworker, project leader)",
            );
        }
        found
    }

    /// The roles that may order it.
    pub fn orderers(&self) -> Vec<Role> {
        if self.orderable_by.is_empty() {
            DEFAULT_ORDERERS.to_vec()
        } else {
            self.orderable_by.iter().map(|role| **role).collect()
        }
    }

    /// Whether a user of `municipality_id` with `roles` may order it.
    pub fn orderable_by(&self, municipality_id: &str, roles: &[Role]) -> bool {
        let orderers = self.orderers();
        roles.iter().any(|role| orderers.contains(role))
            && (self.municipality_ids.is_empty()
                || self.municipality_ids.iter().any(|m| m == municipality_id))
    }

    /// What an order of it must go through before delivery.
    pub fn needs(&self) -> Needs {
        Needs {
            quote: *self.price.model == PriceModel::HourlyEstimate,
            approval: self.requires_approval,
        }
    }

    /// The price of an order of `quantity` units before any quote: `None` for an hourly estimate
    /// (the quote sets it).
    pub fn amount(&self, quantity: i64) -> Option<i64> {
        match *self.price.model {
            PriceModel::Fixed => Some(self.price.amount_ore),
            PriceModel::PerUnit => self.price.amount_ore.checked_mul(quantity),
            PriceModel::HourlyEstimate => None,
            PriceModel::Free | PriceModel::Unspecified => Some(0),
        }
    }

    /// The amount of a quote of `hours` at the item's hourly rate, in whole øre.
    pub fn quoted_amount(&self, hours: f64) -> i64 {
        (self.price.amount_ore as f64 * hours).round() as i64
    }
}

/// Whether `key` is a question key: 1 to 40 of `a-z`, `0-9`, `_`, starting with a letter.
fn is_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An answer's value, of its question's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerValue {
    /// Free text.
    Text(String),
    /// A number.
    Number(f64),
    /// A date.
    Date(NaiveDate),
    /// One of the choices.
    Choice(String),
    /// A user of the ordering municipality.
    User(String),
}

impl AnswerValue {
    fn kind(&self) -> QuestionKind {
        match self {
            AnswerValue::Text(_) => QuestionKind::Text,
            AnswerValue::Number(_) => QuestionKind::Number,
            AnswerValue::Date(_) => QuestionKind::Date,
            AnswerValue::Choice(_) => QuestionKind::Choice,
            AnswerValue::User(_) => QuestionKind::User,
        }
    }
}

/// An answer to a question; stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The question's key.
    pub key: String,
    /// The value.
    pub value: AnswerValue,
}

/// The answers with every free text replaced by `erased`, for an orderer who was anonymised (what they
/// wrote may be about them); `None` when no answer held text to erase.
pub fn erase_text_answers(answers: &[Answer], erased: &str) -> Option<Vec<Answer>> {
    let holds_text = |a: &Answer| matches!(&a.value, AnswerValue::Text(text) if text != erased);
    answers.iter().any(holds_text).then(|| {
        answers
            .iter()
            .map(|a| match &a.value {
                AnswerValue::Text(_) => Answer {
                    key: a.key.clone(),
                    value: AnswerValue::Text(erased.to_owned()),
                },
                _ => a.clone(),
            })
            .collect()
    })
}

/// The supplier's quote for an order of an hourly-priced item; stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Hours estimated.
    pub hours: f64,
    /// The price quoted, in øre.
    pub amount_ore: i64,
    /// What it covers.
    pub text: String,
    /// Who quoted.
    pub quoted_by: String,
    /// When.
    pub quoted_at: chrono::DateTime<chrono::Utc>,
}

/// What is wrong with `answers` to `questions`: unknown or repeated keys, answers of the wrong kind,
/// a choice not offered, a required question unanswered. (Texts are checked for personal ID numbers
/// and users for their municipality elsewhere.)
pub fn answer_violations(questions: &[Question], answers: &[Answer]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut answered = std::collections::HashSet::new();
    for (i, answer) in answers.iter().enumerate() {
        let Some(question) = questions.iter().find(|q| q.key == answer.key) else {
            found.push((
                format!("answers[{i}].key"),
                format!("`{}` is not a question of the item", answer.key),
            ));
            continue;
        };
        if !answered.insert(answer.key.as_str()) {
            found.push((
                format!("answers[{i}].key"),
                format!("`{}` is answered twice", answer.key),
            ));
            continue;
        }
        let kind = *question.kind;
        if answer.value.kind() != kind {
            found.push((
                format!("answers[{i}]"),
                format!(
                    "must be a {} answer: `{}` is a {} question",
                    kind_name(kind),
                    answer.key,
                    kind_name(kind)
                ),
            ));
            continue;
        }
        match &answer.value {
            AnswerValue::Choice(choice) if !question.choices.contains(choice) => found.push((
                format!("answers[{i}].choice"),
                format!("must be one of: {}", question.choices.join(", ")),
            )),
            AnswerValue::Number(n) if !n.is_finite() => found.push((
                format!("answers[{i}].number"),
                "must be a finite number".into(),
            )),
            _ => {}
        }
    }
    for question in questions {
        if question.required && !answered.contains(question.key.as_str()) {
            found.push((
                "answers".into(),
                format!("the question `{}` must be answered", question.key),
            ));
        }
    }
    found
}

fn kind_name(kind: QuestionKind) -> &'static str {
    match kind {
        QuestionKind::Text => "text",
        QuestionKind::Number => "number",
        QuestionKind::Date => "date",
        QuestionKind::Choice => "choice",
        QuestionKind::User => "user",
        QuestionKind::Unspecified => "unspecified",
    }
}

/// The first day of the month of `day`.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last day of the month beginning `month`.
pub fn last_day(month: NaiveDate) -> NaiveDate {
    month
        .checked_add_months(chrono::Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(month)
}

/// The months from the one beginning `first` up to, not including, the one beginning `until`.
pub fn months(first: NaiveDate, until: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(month_of(first)), |m| {
        m.checked_add_months(chrono::Months::new(1))
    })
    .take_while(move |m| *m < month_of(until))
}

/// How many extra user-days an order of a month must add to what its orders settled before
/// (`settled`) so that they sum to what the billing report says now (`billed`): negative is a credit.
pub fn correction(billed: i64, settled: i64) -> i64 {
    billed - settled
}

/// The number people read: `BEST-000123`.
pub fn order_number(n: i64) -> String {
    format!("BEST-{n:06}")
}

#[cfg(test)]
mod tests;
