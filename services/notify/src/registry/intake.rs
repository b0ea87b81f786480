//! Events become notifications: each event of a followed feed is planned (topic, default audience,
//! content), its recipients found with their subscriptions, each notification rendered, checked for
//! personal ID numbers and stored with the event's id in one transaction, so an event is handled once
//! whichever replica or retry sees it.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use prost::{Message, Name};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::clock::from_timestamp;
use kommune_platform::pii;
use kommune_platform::records::AuditTrail as _;
use kommune_proto::cases::v1 as cases;
use kommune_proto::catalogue::v1 as catalogue;
use kommune_proto::changes::v1 as changes;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1::{self as identity, Role};
use kommune_proto::klik::v1 as klik;
use kommune_proto::notify::v1::{Channel, DeliveryState, TopicKind};

use super::Registry;
use crate::domain::templates::{self, Content, MessageTexts, Rendered};
use crate::domain::{self, Choice, Topic};
use crate::store::{feed_entries, handled_events, notifications, subscriptions};
use kommune_platform::db::Named;

mod plans;

/// Why a notification was never sent.
pub const HOLDS_PERSONAL_ID: &str = "the rendered text holds a personal ID number; never sent";

/// What one event asks to tell, and whom by default.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) topic: Topic,
    pub(super) audience: Vec<String>,
    pub(super) content: Content,
}

fn decode<M: Message + Default>(event: &EventEnvelope) -> Result<M, Error> {
    M::decode(
        event
            .payload
            .as_ref()
            .map(|p| p.value.as_slice())
            .unwrap_or_default(),
    )
    .map_err(|err| Error::invalid("payload", err.to_string()))
}

/// A time as support reads it: Copenhagen local, `2025-04-02 10:00`.
fn local(time: Option<&prost_types::Timestamp>) -> String {
    time.and_then(from_timestamp)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Copenhagen)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

impl Registry {
    /// Turns one event into its notifications (idempotent: an event handled before is skipped).
    pub async fn on_event(&self, feed: &str, event: EventEnvelope) -> Result<(), Error> {
        if handled_events::handled(&self.db, &event.event_id).await? {
            return Ok(());
        }
        if event.event_type == identity::UserAnonymized::full_name() {
            let anonymized: identity::UserAnonymized = decode(&event)?;
            return self.erase_person(&anonymized.user_id).await;
        }
        if event.event_type == cases::SupplierMailQueued::full_name() {
            return self.mail_supplier(feed, &event).await;
        }
        if event.event_type == cases::InboundMailRefused::full_name() {
            return self.mail_refusal(feed, &event).await;
        }
        let (plans, feed_entry) = match self.plan(&event, self.clock.now()).await {
            Ok(planned) => planned,
            // An event that cannot be read, or whose subject is gone, will never do better: it is
            // recorded as handled with nothing to tell, so the feed goes on. Anything else (a peer
            // unavailable) is retried.
            Err(err @ (Error::InvalidArgument(_) | Error::NotFound { .. })) => {
                tracing::warn!(
                    event_id = %event.event_id,
                    event_type = %event.event_type,
                    error = %err,
                    "skipping an event with nothing to tell",
                );
                (Vec::new(), None)
            }
            Err(err) => return Err(err),
        };
        self.record(&event.event_id, feed, &event.event_type, &plans, feed_entry)
            .await
    }

    /// A mail the cases service wrote to a system's supplier: to each of its addresses as written,
    /// with the Message-ID and thread headers cases gave it. It reaches no user of kommune, so no
    /// subscription applies.
    async fn mail_supplier(&self, feed: &str, event: &EventEnvelope) -> Result<(), Error> {
        let now = self.clock.now();
        let queued: cases::SupplierMailQueued = decode(event).unwrap_or_else(|err| {
            // An unreadable mail never reads better: handled, with nothing sent.
            tracing::warn!(event_id = %event.event_id, error = %err, "skipping an unreadable supplier mail");
            cases::SupplierMailQueued::default()
        });
        let mail = queued.mail.unwrap_or_default();
        let rendered = templates::supplier_mail(&mail.subject, &mail.text);
        let rows = mail
            .recipients
            .iter()
            .map(|address| {
                let mut row = guarded(rendered.clone(), Channel::Email, &event.event_id, now);
                row.address = address.clone();
                row.kind = "supplier_mail".into();
                row.message_id = mail.message_id.clone();
                row.in_reply_to = queued.in_reply_to.clone();
                row.thread_references = queued.references.join(" ");
                row
            })
            .collect();
        self.store(&event.event_id, feed, &event.event_type, rows, None)
            .await
    }

    /// A mail to the desk's mailbox was refused (a personal ID number in it, or too large): its
    /// sender is told why, in Danish and English, and nothing of the mail is repeated.
    async fn mail_refusal(&self, feed: &str, event: &EventEnvelope) -> Result<(), Error> {
        let refused: cases::InboundMailRefused = decode(event).unwrap_or_else(|err| {
            tracing::warn!(event_id = %event.event_id, error = %err, "skipping an unreadable refusal");
            cases::InboundMailRefused::default()
        });
        let mut rows = Vec::new();
        if !refused.address.is_empty() {
            let too_large = refused.reason() == cases::MailRefusal::TooLarge;
            let mut row = guarded(
                templates::mail_refused(too_large),
                Channel::Email,
                &event.event_id,
                self.clock.now(),
            );
            row.address = refused.address;
            row.kind = "mail_refused".into();
            rows.push(row);
        }
        self.store(&event.event_id, feed, &event.event_type, rows, None)
            .await
    }

    /// Turns what an event (or a reminder, under its own id) asks to tell into notifications and
    /// stores them with the id, once: a second call with the same id writes nothing.
    pub(super) async fn record(
        &self,
        event_id: &str,
        feed: &str,
        event_type: &str,
        plans: &[Plan],
        feed_entry: Option<feed_entries::Model>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let rows = self.notifications(event_id, plans, now).await?;
        self.store(event_id, feed, event_type, rows, feed_entry)
            .await
    }

    /// Stores an event's notifications (and the public feed's entry) with its id, once.
    async fn store(
        &self,
        event_id: &str,
        feed: &str,
        event_type: &str,
        rows: Vec<notifications::Model>,
        feed_entry: Option<feed_entries::Model>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let first = handled_events::record(
            &txn,
            handled_events::Model {
                event_id: event_id.to_owned(),
                feed: feed.to_owned(),
                handled_at: now,
            },
        )
        .await?;
        if !first {
            return Ok(());
        }
        // Whoever was anonymised while the event was planned (identity said active then) hears
        // nothing: each recipient's turn is taken (in order, so intakes never deadlock) and the
        // erasures recorded before it are read inside it.
        let recipients: BTreeSet<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        for user_id in &recipients {
            kommune_platform::db::advisory_lock(&txn, &super::person_turn(user_id)).await?;
        }
        let erased: HashSet<String> = kommune_platform::audit::with_action(
            &txn,
            super::PERSON,
            recipients.into_iter().collect(),
            super::ERASE,
        )
        .await?
        .into_iter()
        .collect();
        let guard = kommune_platform::auth::Caller::system("pii-guard");
        for row in rows.into_iter().filter(|r| !erased.contains(&r.user_id)) {
            let row = notifications::insert(&txn, row).await?;
            if *row.state == DeliveryState::Dead {
                let payload = json!({
                    "event_id": row.source_event_id,
                    "event_type": event_type,
                    "user_id": row.user_id,
                    "channel": row.channel,
                    "reason": row.last_error,
                });
                self.audit(
                    &txn,
                    &guard,
                    "notification",
                    &row.id,
                    "dead-letter",
                    payload,
                )
                .await?;
            }
        }
        if let Some(entry) = feed_entry {
            // The public feed gets the same guard as every notification.
            if pii::contains_personal_id(&entry.texts) {
                let payload = json!({
                    "event_id": event_id,
                    "event_type": event_type,
                    "reason": HOLDS_PERSONAL_ID,
                });
                self.audit(
                    &txn,
                    &guard,
                    "feed_entry",
                    &entry.message_id,
                    "withheld",
                    payload,
                )
                .await?;
            } else {
                feed_entries::put(&txn, entry).await?;
            }
        }
        txn.commit().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The notifications that `plans` make: one per recipient and channel, rendered in the
    /// recipient's language, none for a person who may no longer be told anything.
    async fn notifications(
        &self,
        event_id: &str,
        plans: &[Plan],
        now: DateTime<Utc>,
    ) -> Result<Vec<notifications::Model>, Error> {
        let mut rows: Vec<notifications::Model> = Vec::new();
        let mut people: HashMap<String, Option<identity::User>> = HashMap::new();
        for plan in plans {
            let chosen =
                subscriptions::of_topic(&self.db, plan.topic.kind, &plan.topic.target_id).await?;
            let choices: Vec<Choice> = chosen
                .iter()
                .map(|s| Choice {
                    subscription_id: s.id.clone(),
                    user_id: s.user_id.clone(),
                    channel: *s.channel,
                    language: *s.language,
                    opted_out: s.opted_out,
                })
                .collect();
            for recipient in domain::recipients(plan.topic.kind, &plan.audience, &choices) {
                // One event reaches a user by a channel once, even when several topics lead there.
                if rows
                    .iter()
                    .any(|r| r.user_id == recipient.user_id && *r.channel == recipient.channel)
                {
                    continue;
                }
                let subscription = recipient
                    .subscription_id
                    .as_ref()
                    .and_then(|id| chosen.iter().find(|s| s.id == *id));
                // A deactivated, anonymised or unknown person hears nothing, by any channel.
                let Some(person) = self.reachable(&mut people, &recipient.user_id).await? else {
                    continue;
                };
                let address = match recipient.channel {
                    Channel::Email => {
                        let chosen = subscription
                            .map(|s| s.email_address.clone())
                            .filter(|a| !a.is_empty());
                        match chosen.or_else(|| Some(person.email).filter(|a| !a.is_empty())) {
                            Some(address) => address,
                            None => continue,
                        }
                    }
                    _ => String::new(),
                };
                rows.push(notification(plan, recipient, address, event_id, now));
            }
        }
        Ok(rows)
    }

    /// A recipient as identity knows them, when they may still be told anything: active and not
    /// anonymised. Looked up once per event.
    async fn reachable(
        &self,
        known: &mut HashMap<String, Option<identity::User>>,
        user_id: &str,
    ) -> Result<Option<identity::User>, Error> {
        if let Some(person) = known.get(user_id) {
            return Ok(person.clone());
        }
        let person = self
            .peers
            .user(user_id)
            .await?
            .filter(|u| u.active && !u.anonymized);
        known.insert(user_id.to_owned(), person.clone());
        Ok(person)
    }
}

/// One notification for `recipient`, rendered in their language.
fn notification(
    plan: &Plan,
    recipient: domain::Recipient,
    address: String,
    event_id: &str,
    now: DateTime<Utc>,
) -> notifications::Model {
    let rendered = plan.content.render(recipient.language);
    notifications::Model {
        user_id: recipient.user_id,
        topic_kind: Named(plan.topic.kind),
        topic_target: plan.topic.target_id.clone(),
        kind: plan.content.kind().to_owned(),
        address,
        subscription_id: recipient.subscription_id,
        ..guarded(rendered, recipient.channel, event_id, now)
    }
}

/// A notification of `rendered` by `channel`, to nobody yet; dead at once, keeping no text, when the
/// text holds a personal ID number.
fn guarded(
    rendered: Rendered,
    channel: Channel,
    event_id: &str,
    now: DateTime<Utc>,
) -> notifications::Model {
    let (state, last_error, delivered_at) = if pii::contains_personal_id(&rendered.all_text()) {
        (DeliveryState::Dead, HOLDS_PERSONAL_ID.to_owned(), None)
    } else if channel == Channel::Inbox {
        (DeliveryState::Delivered, String::new(), Some(now))
    } else {
        (DeliveryState::Pending, String::new(), None)
    };
    // A message that is never sent keeps no copy of the text that stopped it.
    let (subject, text, html) = if state == DeliveryState::Dead {
        (String::new(), String::new(), String::new())
    } else {
        (rendered.subject, rendered.text, rendered.html)
    };
    notifications::Model {
        id: Uuid::now_v7().to_string(),
        user_id: String::new(),
        channel: Named(channel),
        topic_kind: Named(TopicKind::Unspecified),
        topic_target: String::new(),
        kind: String::new(),
        subject,
        text,
        html,
        address: String::new(),
        subscription_id: None,
        state: Named(state),
        attempts: 0,
        next_attempt_at: now,
        claim_token: None,
        claimed_until: None,
        last_error,
        source_event_id: event_id.to_owned(),
        created_at: now,
        delivered_at,
        read_at: None,
        message_id: String::new(),
        in_reply_to: String::new(),
        thread_references: String::new(),
    }
}
