//! Events become notifications: each event of a followed feed is planned (topic, default audience,
//! content), its recipients found with their subscriptions, each notification rendered, checked for
//! personal ID numbers and stored with the event's id in one transaction, so an event is handled once
//! whichever replica or retry sees it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use prost::{Message, Name};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::audit;
use kommune_platform::clock::from_timestamp;
use kommune_platform::pii;
use kommune_proto::cases::v1 as cases;
use kommune_proto::changes::v1 as changes;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1::{self as identity, Role};
use kommune_proto::klik::v1 as klik;
use kommune_proto::notify::v1::{Channel, DeliveryState, Language, TopicKind};

use super::{Registry, proto_name};
use crate::domain::templates::{Content, MessageTexts};
use crate::domain::{self, Choice, Topic};
use crate::store::{feed_entries, handled_events, notifications, subscriptions};

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
        let (plans, feed_entry) = match self.plan(&event, self.clock.now()).await {
            Ok(planned) => planned,
            // An event that cannot be read, or whose subject is gone, will never do better: it is
            // recorded as handled with nothing to tell, so the feed goes on. Anything else (a peer
            // unavailable) is retried.
            Err(err @ (Error::InvalidArgument(_) | Error::NotFound { .. })) => {
                tracing::warn!(event_id = %event.event_id, event_type = %event.event_type, error = %err, "skipping an event with nothing to tell");
                (Vec::new(), None)
            }
            Err(err) => return Err(err),
        };
        self.record(&event.event_id, feed, &event.event_type, &plans, feed_entry)
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
        let mut rows: Vec<notifications::Model> = Vec::new();
        let mut people: HashMap<String, Option<identity::User>> = HashMap::new();
        for plan in plans {
            let kind = proto_name(plan.topic.kind, TopicKind::as_str_name);
            let chosen = subscriptions::of_topic(&self.db, &kind, &plan.topic.target_id).await?;
            let choices: Vec<Choice> = chosen
                .iter()
                .map(|s| Choice {
                    subscription_id: s.id.clone(),
                    user_id: s.user_id.clone(),
                    channel: Channel::from_str_name(&s.channel).unwrap_or_default(),
                    language: Language::from_str_name(&s.language).unwrap_or_default(),
                    opted_out: s.opted_out,
                })
                .collect();
            for recipient in domain::recipients(plan.topic.kind, &plan.audience, &choices) {
                // One event reaches a user by a channel once, even when several topics lead there.
                if rows
                    .iter()
                    .any(|r| r.user_id == recipient.user_id && r.channel() == recipient.channel)
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
                let rendered = plan.content.render(recipient.language);
                let (state, last_error, delivered_at) =
                    if pii::contains_personal_id(&rendered.all_text()) {
                        (DeliveryState::Dead, HOLDS_PERSONAL_ID.to_owned(), None)
                    } else if recipient.channel == Channel::Inbox {
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
                rows.push(notifications::Model {
                    id: Uuid::now_v7().to_string(),
                    user_id: recipient.user_id,
                    channel: proto_name(recipient.channel, Channel::as_str_name),
                    topic_kind: kind.clone(),
                    topic_target: plan.topic.target_id.clone(),
                    kind: plan.content.kind().to_owned(),
                    subject,
                    text,
                    html,
                    address,
                    subscription_id: recipient.subscription_id,
                    state: proto_name(state, DeliveryState::as_str_name),
                    attempts: 0,
                    next_attempt_at: now,
                    claim_token: None,
                    claimed_until: None,
                    last_error,
                    source_event_id: event_id.to_owned(),
                    created_at: now,
                    delivered_at,
                    read_at: None,
                });
            }
        }
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
        let guard = kommune_platform::auth::Caller::system("pii-guard");
        for row in rows {
            let row = notifications::insert(&txn, row).await?;
            if row.state() == DeliveryState::Dead {
                let payload = json!({"event_id": row.source_event_id, "event_type": event_type, "user_id": row.user_id, "channel": row.channel, "reason": row.last_error});
                audit::record(
                    &txn,
                    self.audit(&guard, "notification", &row.id, "dead-letter", payload),
                )
                .await?;
            }
        }
        if let Some(entry) = feed_entry {
            // The public feed gets the same guard as every notification.
            if pii::contains_personal_id(&entry.texts) {
                let payload = json!({"event_id": event_id, "event_type": event_type, "reason": HOLDS_PERSONAL_ID});
                audit::record(
                    &txn,
                    self.audit(&guard, "feed_entry", &entry.message_id, "withheld", payload),
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

    /// What an incident's update, reply or resolution asks to tell: every reporter of its linked cases
    /// (as incident updates) and, when it `touches_cases` (a reply or resolution is a public comment
    /// on them, or resolves them, with no CaseChanged of their own), the other support-eligible users
    /// of those cases' municipalities as case updates — as for any other case change. A reporter is
    /// left out of the second plan, so opting out of incident updates is not undone by it.
    async fn incident_plans(
        &self,
        linked: &[cases::LinkedCase],
        content: Content,
        touches_cases: bool,
        today: NaiveDate,
    ) -> Result<Vec<Plan>, Error> {
        let reporters: Vec<String> = linked.iter().map(|c| c.reporter_user_id.clone()).collect();
        let mut plans = vec![Plan {
            topic: Topic::of(TopicKind::IncidentUpdates),
            audience: reporters.clone(),
            content: content.clone(),
        }];
        if touches_cases {
            let mut municipalities: Vec<&str> =
                linked.iter().map(|c| c.municipality_id.as_str()).collect();
            municipalities.sort_unstable();
            municipalities.dedup();
            let mut eligible = Vec::new();
            for municipality in municipalities {
                eligible.extend(self.peers.eligible_users(municipality, today).await?);
            }
            eligible.retain(|user| !reporters.contains(user));
            eligible.sort();
            eligible.dedup();
            plans.push(Plan {
                topic: Topic::of(TopicKind::CaseUpdates),
                audience: eligible,
                content,
            });
        }
        Ok(plans)
    }

    /// The project leaders of a municipality in a klik project: the one named on its enrolment or,
    /// when none is or they have left, the municipality's project-leader role holders.
    pub(super) async fn project_leaders(
        &self,
        enrolments: &[klik::Enrolment],
        municipality_id: &str,
    ) -> Result<Vec<String>, Error> {
        if let Some(leader) = domain::named_leader(enrolments, municipality_id) {
            // A named leader who has left (deactivated or anonymised) hands over to the role holders.
            let reachable = self
                .peers
                .user(&leader)
                .await?
                .is_some_and(|u| u.active && !u.anonymized);
            if reachable {
                return Ok(vec![leader]);
            }
        }
        self.peers
            .users_with_role(Some(municipality_id), Role::MunicipalProjectLeader)
            .await
    }

    /// What an event asks to tell (the rules of who hears what), and for operational messages the
    /// entry of the public feed.
    async fn plan(
        &self,
        event: &EventEnvelope,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Plan>, Option<feed_entries::Model>), Error> {
        let today = kommune_platform::clock::copenhagen_date(now);
        let kind = event.event_type.as_str();
        // Case changes: the reporter and the municipality's support-eligible users.
        let case_audience = async |case: &cases::Case| -> Result<Vec<String>, Error> {
            let mut audience = vec![case.reporter_user_id.clone()];
            audience.extend(
                self.peers
                    .eligible_users(&case.municipality_id, today)
                    .await?,
            );
            audience.sort();
            audience.dedup();
            Ok(audience)
        };
        let plans = if kind == cases::CaseFiled::full_name() {
            let filed: cases::CaseFiled = decode(event)?;
            let case = self.peers.case(&filed.case_id).await?;
            vec![Plan {
                topic: Topic::of(TopicKind::CaseUpdates),
                audience: case_audience(&case).await?,
                content: Content::CaseFiled {
                    number: case.number.clone(),
                    title: case.title.clone(),
                },
            }]
        } else if kind == cases::CaseChanged::full_name() {
            let changed: cases::CaseChanged = decode(event)?;
            let case = self.peers.case(&changed.case_id).await?;
            vec![Plan {
                topic: Topic::of(TopicKind::CaseUpdates),
                audience: case_audience(&case).await?,
                content: Content::CaseChanged {
                    number: case.number.clone(),
                    title: case.title.clone(),
                    state: changed.state().as_str_name().to_owned(),
                    change: changed.change,
                },
            }]
        } else if kind == cases::IncidentChanged::full_name() {
            let changed: cases::IncidentChanged = decode(event)?;
            if !matches!(changed.change.as_str(), "status_update" | "reply") {
                return Ok((Vec::new(), None));
            }
            let content = Content::IncidentUpdate {
                title: changed.title.clone(),
                text: changed.text.clone(),
            };
            // A reply is a public comment on the linked cases: a case change as well.
            let touches_cases = changed.change == "reply";
            self.incident_plans(&changed.cases, content, touches_cases, today)
                .await?
        } else if kind == cases::IncidentResolved::full_name() {
            let resolved: cases::IncidentResolved = decode(event)?;
            let content = Content::IncidentResolved {
                title: resolved.title.clone(),
                text: resolved.text.clone(),
            };
            self.incident_plans(&resolved.cases, content, true, today)
                .await?
        } else if kind == cases::IncidentFollowUpOverdue::full_name() {
            let overdue: cases::IncidentFollowUpOverdue = decode(event)?;
            let incident = self.peers.incident(&overdue.incident_id).await?;
            vec![Plan {
                topic: Topic::of(TopicKind::Reminders),
                audience: self
                    .peers
                    .users_with_role(None, Role::SupplierSecondLine)
                    .await?,
                content: Content::FollowUpOverdue {
                    title: incident.title,
                    due: local(overdue.due_time.as_ref()),
                },
            }]
        } else if kind == cases::CaseSlaAlert::full_name() {
            let alert: cases::CaseSlaAlert = decode(event)?;
            let case = self.peers.case(&alert.case_id).await?;
            // The team working the case, or the whole 2nd line while nobody does.
            let team = self
                .peers
                .teams()
                .await?
                .into_iter()
                .find(|t| t.team_id == case.team_id);
            let audience = match team {
                Some(team) if !team.member_user_ids.is_empty() => team.member_user_ids,
                _ => {
                    self.peers
                        .users_with_role(None, Role::SupplierSecondLine)
                        .await?
                }
            };
            vec![Plan {
                topic: Topic::of(TopicKind::Reminders),
                audience,
                content: Content::SlaAlert {
                    number: case.number,
                    title: case.title,
                    target: alert.target,
                    breached: alert.breached,
                    due: local(alert.due_time.as_ref()),
                },
            }]
        } else if kind == cases::OperationalMessageChanged::full_name() {
            let changed: cases::OperationalMessageChanged = decode(event)?;
            if !matches!(changed.change.as_str(), "publish" | "update" | "resolve")
                || changed.state() == cases::OperationalMessageState::Draft
            {
                return Ok((Vec::new(), None));
            }
            let message = self
                .peers
                .operational_message(&changed.operational_message_id)
                .await?;
            let resolved = message.state() == cases::OperationalMessageState::Resolved;
            let texts = MessageTexts {
                title_da: message.title_da,
                text_da: message.text_da,
                workaround_da: message.workaround_da,
                resolution_da: message.resolution_da,
                title_en: message.title_en,
                text_en: message.text_en,
                workaround_en: message.workaround_en,
                resolution_en: message.resolution_en,
            };
            let at = |time: Option<&prost_types::Timestamp>| {
                time.and_then(from_timestamp).unwrap_or(now)
            };
            let entry = feed_entries::Model {
                message_id: changed.operational_message_id.clone(),
                texts: serde_json::to_string(&texts).map_err(Error::internal)?,
                systems: serde_json::to_string(&message.system_names).map_err(Error::internal)?,
                resolved,
                published_at: at(message.publish_time.as_ref()),
                updated_at: at(message.update_time.as_ref()),
            };
            let content = Content::OperationalMessage {
                change: changed.change,
                systems: message.system_names,
                texts,
            };
            let plans = message
                .system_ids
                .into_iter()
                .map(|system| Plan {
                    topic: Topic::about(TopicKind::OperationalMessages, system),
                    audience: Vec::new(),
                    content: content.clone(),
                })
                .collect();
            return Ok((plans, Some(entry)));
        } else if kind == changes::ChangeRequestListPublished::full_name() {
            let published: changes::ChangeRequestListPublished = decode(event)?;
            vec![Plan {
                topic: Topic::of(TopicKind::ChangeRequestPublication),
                audience: Vec::new(),
                content: Content::ChangeRequestListPublished {
                    number: published.number,
                    note: published.note,
                    count: published.item_count,
                },
            }]
        } else if kind == klik::TasksPublished::full_name() {
            let published: klik::TasksPublished = decode(event)?;
            let project = self
                .peers
                .project(&published.project_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            let enrolments = self.peers.enrolments(&published.project_id).await?;
            vec![Plan {
                audience: self
                    .project_leaders(&enrolments, &published.municipality_id)
                    .await?,
                topic: Topic::about(TopicKind::Project, published.project_id),
                content: Content::TasksPublished {
                    project,
                    municipality: self
                        .peers
                        .municipality(&published.municipality_id)
                        .await?
                        .map(|m| m.name)
                        .unwrap_or_default(),
                    count: published.count,
                },
            }]
        } else if kind == klik::WaveMoved::full_name() {
            let moved: klik::WaveMoved = decode(event)?;
            // Moves announced before the event named its project and municipalities tell nobody.
            if moved.project_id.is_empty() {
                return Ok((Vec::new(), None));
            }
            let Some(project) = self.peers.project(&moved.project_id).await? else {
                return Ok((Vec::new(), None));
            };
            let enrolments = self.peers.enrolments(&moved.project_id).await?;
            let mut leaders = Vec::new();
            for municipality in &moved.municipality_ids {
                leaders.extend(self.project_leaders(&enrolments, municipality).await?);
            }
            vec![Plan {
                topic: Topic::about(TopicKind::Project, moved.project_id),
                audience: leaders,
                content: Content::WaveMoved {
                    project: project.name,
                    wave: moved.wave_name,
                    from: moved.previous_go_live,
                    to: moved.go_live,
                    rescheduled: moved.tasks_rescheduled,
                },
            }]
        } else {
            Vec::new()
        };
        Ok((plans, None))
    }
}
