//! The pages: each calls the public RPCs it needs and turns their answers into the view its template
//! shows, in the visit's language.

use bytes::Bytes;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use chrono_tz::Europe::Copenhagen;
use serde_json::{Value, json};

use kommune_platform::clock::from_timestamp;
use kommune_proto::cases::v1 as cases;
use kommune_proto::cases::v1::operational_message_service_client::OperationalMessageServiceClient;
use kommune_proto::notify::v1 as notify;
use kommune_proto::notify::v1::feed_service_client::FeedServiceClient;

use super::status::{self, Fault, SystemState};
use super::{Failure, Language, Page, Shared, Visit};

/// How many days the status page looks back.
const HISTORY_DAYS: u32 = 90;

/// How long a status or message page may be cached: short, as a fault is news.
const PAGE_MAX_AGE: u32 = 30;

/// The status page: every system's state and last 90 days, the active messages, the recently resolved.
pub(super) async fn status(shared: &Shared, visit: &Visit) -> Result<Page, Failure> {
    let mut messages = OperationalMessageServiceClient::new(shared.behind.clone());
    let mut systems_client = messages.clone();
    let (systems, listed) = tokio::try_join!(
        systems_client.list_public_systems(visit.call(cases::ListPublicSystemsRequest {})),
        messages.list_public_operational_messages(visit.call(
            cases::ListPublicOperationalMessagesRequest {
                recent_days: HISTORY_DAYS as i32,
            }
        )),
    )?;
    let (systems, listed) = (systems.into_inner().systems, listed.into_inner());
    let now = Utc::now();
    let faults: Vec<Fault<'_>> = listed
        .active
        .iter()
        .chain(&listed.recent)
        .map(fault)
        .collect();
    let t = shared.texts(visit.language);
    let system_views: Vec<Value> = systems
        .iter()
        .map(|system| {
            let days = status::bars(&system.system_id, &faults, now, HISTORY_DAYS);
            let count = |state| days.iter().filter(|d| d.state == state).count().to_string();
            let summary = text(t, "bar_summary")
                .replace("{outage}", &count(SystemState::Outage))
                .replace("{disturbed}", &count(SystemState::Disturbed));
            json!({
                "name": system.name,
                "state": status::state_now(&system.system_id, &faults),
                "days": days.iter().map(|day| json!({
                    "state": day.state,
                    "label": format!("{}: {}", date(day.date, t), text(t, &format!("state_{}", state_name(day.state)))),
                })).collect::<Vec<_>>(),
                "bar_summary": summary,
                "messages": faults.iter().filter(|f| f.system_ids.contains(&system.system_id)).count(),
                "feed_url": format!("{}/systemer/{}/feed.atom", visit.language.prefix(), system.system_id),
            })
        })
        .collect();
    let overall = status::worst(
        systems
            .iter()
            .map(|system| status::state_now(&system.system_id, &faults)),
    );
    let context = json!({
        "overall": overall,
        "systems": system_views,
        "active": listed.active.iter().map(|m| message_view(m, visit, t)).collect::<Vec<_>>(),
        "recent": listed.recent.iter().map(|m| message_view(m, visit, t)).collect::<Vec<_>>(),
    });
    Ok(html(shared.render(
        visit,
        "status.html",
        "status",
        context,
    )?))
}

/// A message's page: what it says now, and what it said at each step.
pub(super) async fn message(shared: &Shared, visit: &Visit, id: &str) -> Result<Page, Failure> {
    let found = OperationalMessageServiceClient::new(shared.behind.clone())
        .get_public_operational_message(visit.call(cases::GetPublicOperationalMessageRequest {
            operational_message_id: id.to_owned(),
        }))
        .await?
        .into_inner();
    let m = found.operational_message.ok_or(Failure::NotFound)?;
    let t = shared.texts(visit.language);
    let english = visit.language == Language::English;
    let updates: Vec<Value> = found
        .updates
        .iter()
        .map(|u| {
            let step = match u.state() {
                cases::OperationalMessageState::Resolved => "resolved",
                cases::OperationalMessageState::Updated => "updated",
                _ => "published",
            };
            let in_english = english && !u.title_en.is_empty();
            let pick = |en: &str, da: &str| {
                if in_english {
                    en.to_owned()
                } else {
                    da.to_owned()
                }
            };
            let at = time_of(u.update_time.as_ref());
            let expected_end = time_of(u.expected_end_time.as_ref());
            json!({
                "step": step,
                "lang": if in_english { "en" } else { "da" },
                "at": at.map(|at| when(at, t)),
                "at_iso": at.map(iso),
                "title": pick(&u.title_en, &u.title_da),
                "text": pick(&u.text_en, &u.text_da),
                "workaround": pick(&u.workaround_en, &u.workaround_da),
                "resolution": pick(&u.resolution_en, &u.resolution_da),
                "expected_end": expected_end.map(|at| when(at, t)),
                "expected_end_iso": expected_end.map(iso),
            })
        })
        .collect();
    let context = json!({"m": message_view(&m, visit, t), "updates": updates});
    Ok(html(shared.render(
        visit,
        "message.html",
        "message",
        context,
    )?))
}

/// The Atom feed of every system's messages, or of one system's, linking to the site's pages.
pub(super) async fn feed(
    shared: &Shared,
    visit: &Visit,
    system_id: Option<&str>,
) -> Result<Page, Failure> {
    if let Some(system_id) = system_id {
        let systems = OperationalMessageServiceClient::new(shared.behind.clone())
            .list_public_systems(visit.call(cases::ListPublicSystemsRequest {}))
            .await?
            .into_inner()
            .systems;
        if !systems.iter().any(|s| s.system_id == system_id) {
            return Err(Failure::NotFound);
        }
    }
    let base = format!("{}{}", shared.base(visit), visit.language.prefix());
    let own_path = match system_id {
        Some(id) => format!("/systemer/{id}/feed.atom"),
        None => "/feed.atom".to_owned(),
    };
    let language = match visit.language {
        Language::Danish => notify::Language::Danish,
        Language::English => notify::Language::English,
    };
    let feed = FeedServiceClient::new(shared.behind.clone())
        .get_operational_messages_feed(visit.call(notify::GetOperationalMessagesFeedRequest {
            language: language as i32,
            system_id: system_id.unwrap_or_default().to_owned(),
            entry_url_prefix: format!("{base}/driftsbeskeder/"),
            self_url: format!("{base}{own_path}"),
        }))
        .await?
        .into_inner();
    Ok(Page {
        body: Bytes::from(feed.document),
        content_type: "application/atom+xml; charset=utf-8",
        max_age: 60,
    })
}

fn html(body: Bytes) -> Page {
    Page {
        body,
        content_type: "text/html; charset=utf-8",
        max_age: PAGE_MAX_AGE,
    }
}

/// What the status rules need of a message.
fn fault(m: &cases::OperationalMessage) -> Fault<'_> {
    Fault {
        system_ids: &m.system_ids,
        general: m.scope() == cases::IncidentScope::General,
        start: time_of(m.start_time.as_ref()).unwrap_or_default(),
        resolved: time_of(m.resolve_time.as_ref()),
    }
}

/// A message as the templates show it, in the visit's language where it has that language.
fn message_view(m: &cases::OperationalMessage, visit: &Visit, t: &Value) -> Value {
    let english = visit.language == Language::English && !m.title_en.is_empty();
    let pick = |en: &str, da: &str| {
        if english {
            en.to_owned()
        } else {
            da.to_owned()
        }
    };
    // A part without English shows its Danish, marked as Danish.
    let part = |en: &str, da: &str| {
        if english && !en.is_empty() {
            (en.to_owned(), "en")
        } else {
            (da.to_owned(), "da")
        }
    };
    let (workaround, workaround_lang) = part(&m.workaround_en, &m.workaround_da);
    let (resolution, resolution_lang) = part(&m.resolution_en, &m.resolution_da);
    let state = if m.state() == cases::OperationalMessageState::Resolved {
        "resolved"
    } else {
        state_name(fault(m).state())
    };
    let start = time_of(m.start_time.as_ref());
    let expected_end = time_of(m.expected_end_time.as_ref());
    let resolved = time_of(m.resolve_time.as_ref());
    json!({
        "id": m.operational_message_id,
        "url": format!("{}/driftsbeskeder/{}", visit.language.prefix(), m.operational_message_id),
        "lang": if english { "en" } else { "da" },
        "state": state,
        "title": pick(&m.title_en, &m.title_da),
        "text": pick(&m.text_en, &m.text_da),
        "workaround": workaround,
        "workaround_lang": workaround_lang,
        "resolution": resolution,
        "resolution_lang": resolution_lang,
        "systems": m.system_names,
        "start": start.map(|at| when(at, t)),
        "start_iso": start.map(iso),
        "expected_end": expected_end.map(|at| when(at, t)),
        "expected_end_iso": expected_end.map(iso),
        "resolved": resolved.map(|at| when(at, t)),
        "resolved_iso": resolved.map(iso),
    })
}

fn state_name(state: SystemState) -> &'static str {
    match state {
        SystemState::Operational => "operational",
        SystemState::Disturbed => "disturbed",
        SystemState::Outage => "outage",
    }
}

fn time_of(at: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    at.and_then(from_timestamp)
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn text(t: &Value, key: &str) -> String {
    t[key].as_str().unwrap_or_default().to_owned()
}

/// A day as the language writes it: `5. december 2026`, `5 December 2026`.
fn date(day: NaiveDate, t: &Value) -> String {
    let month = t["months"][day.month0() as usize]
        .as_str()
        .unwrap_or_default();
    text(t, "date_format")
        .replace("{day}", &day.day().to_string())
        .replace("{month}", month)
        .replace("{year}", &day.year().to_string())
}

/// A moment in Danish time as the language writes it: `5. december 2026 kl. 10.30`.
fn when(at: DateTime<Utc>, t: &Value) -> String {
    let local = at.with_timezone(&Copenhagen);
    text(t, "time_format")
        .replace("{date}", &date(local.date_naive(), t))
        .replace("{hour}", &format!("{:02}", local.hour()))
        .replace("{minute}", &format!("{:02}", local.minute()))
}
