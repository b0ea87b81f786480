//! The pages: each calls the public RPCs it needs and turns their answers into the view its template
//! shows, in the visit's language.

use bytes::Bytes;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use chrono_tz::Europe::Copenhagen;
use serde_json::{Value, json};

use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderValue, Response};
use kommune_platform::clock::from_timestamp;
use tonic::body::Body;

use kommune_proto::cases::v1 as cases;
use kommune_proto::cases::v1::operational_message_service_client::OperationalMessageServiceClient;
use kommune_proto::catalogue::v1 as catalogue;
use kommune_proto::catalogue::v1::item_service_client::ItemServiceClient;
use kommune_proto::changes::v1 as changes;
use kommune_proto::changes::v1::publication_service_client::PublicationServiceClient;
use kommune_proto::changes::v1::release_service_client::ReleaseServiceClient;
use kommune_proto::common::v1::PageRequest;
use kommune_proto::notify::v1 as notify;
use kommune_proto::notify::v1::feed_service_client::FeedServiceClient;

use super::status::{self, Fault, SystemState};
use super::{Failure, Language, Page, Shared, Visit};

/// How many days the status page looks back.
const HISTORY_DAYS: u32 = 90;

/// Rows on a page of the change-request list.
const LIST_PAGE: i32 = 50;

/// Items on a page of the service catalogue.
const CATALOGUE_PAGE: i32 = 100;

/// How many publications the list offers to choose from.
const EDITIONS: i32 = 24;

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
    let states: Vec<SystemState> = systems
        .iter()
        .map(|system| status::state_now(&system.system_id, &faults))
        .collect();
    let system_views: Vec<Value> = systems
        .iter()
        .zip(&states)
        .map(|(system, state)| {
            let days = status::bars(&system.system_id, &faults, now, HISTORY_DAYS);
            let count = |state| days.iter().filter(|d| d.state == state).count().to_string();
            let summary = text(t, "bar_summary")
                .replace("{outage}", &count(SystemState::Outage))
                .replace("{disturbed}", &count(SystemState::Disturbed));
            json!({
                "name": system.name,
                "state": state.name(),
                "days": days.iter().map(|day| json!({
                    "state": day.state.name(),
                    "label": format!("{}: {}", date(day.date, t), text(t, &format!("state_{}", day.state.name()))),
                })).collect::<Vec<_>>(),
                "bar_summary": summary,
                "messages": faults.iter().filter(|f| f.system_ids.contains(&system.system_id)).count(),
                "feed_url": format!("{}/systemer/{}/feed.atom", visit.language.prefix(), system.system_id),
            })
        })
        .collect();
    let context = json!({
        "overall": status::worst(states).name(),
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
        fault(m).state().name()
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

/// The query parameters of the change-request list, and the request field each one becomes.
const LIST_PARAMS: [(&str, &str); 6] = [
    ("tema", "theme_id"),
    ("undertema", "subtheme_id"),
    ("status", "status_code"),
    ("kommune", "municipality_id"),
    ("q", "query"),
    ("side", "page.page_token"),
];

/// A refused call of the list as the parameter that caused it, when one did.
fn list_failure(status: tonic::Status) -> Failure {
    use tonic_types::StatusExt;
    if status.code() != tonic::Code::InvalidArgument {
        return status.into();
    }
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    LIST_PARAMS
        .iter()
        .chain(&[("publikation", "publication_number")])
        .find(|(_, field)| fields.iter().any(|f| f == field))
        .map_or(Failure::Call(status), |(param, _)| Failure::BadQuery(param))
}

/// The publication number a visit asks for (0 for the latest).
fn edition(visit: &Visit) -> Result<i64, Failure> {
    match visit.param("publikation") {
        None => Ok(0),
        Some(number) => number
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or(Failure::BadQuery("publikation")),
    }
}

/// How a publication is named on the pages: `Udgave 12 af 1. december 2026`.
fn edition_label(publication: &changes::Publication, t: &Value) -> String {
    let day = time_of(publication.publish_time.as_ref())
        .map(|at| date(at.with_timezone(&Copenhagen).date_naive(), t))
        .unwrap_or_default();
    text(t, "cr_publication_of")
        .replace("{number}", &publication.number.to_string())
        .replace("{date}", &day)
}

/// The published change-request list: a publication (the latest, or one by number), filtered,
/// searched and paged, with its facets to filter by and the other publications to choose from.
pub(super) async fn change_requests(shared: &Shared, visit: &Visit) -> Result<Page, Failure> {
    let number = edition(visit)?;
    let status_code = match visit.param("status") {
        None => 0,
        Some(code) => code.parse().map_err(|_| Failure::BadQuery("status"))?,
    };
    let param = |name: &str| visit.param(name).unwrap_or_default().to_owned();
    let mut client = PublicationServiceClient::new(shared.behind.clone());
    let (mut facets_client, mut editions_client) = (client.clone(), client.clone());
    let listed = client.list_published_change_requests(visit.call(
        changes::ListPublishedChangeRequestsRequest {
            publication_number: number,
            theme_id: param("tema"),
            subtheme_id: param("undertema"),
            status_code,
            municipality_id: param("kommune"),
            query: param("q"),
            page: Some(PageRequest {
                page_size: LIST_PAGE,
                page_token: param("side"),
            }),
            ..Default::default()
        },
    ));
    let facets =
        facets_client.list_publication_facets(visit.call(changes::ListPublicationFacetsRequest {
            publication_number: number,
            ..Default::default()
        }));
    let editions =
        editions_client.list_publications(visit.call(changes::ListPublicationsRequest {
            page: Some(PageRequest {
                page_size: EDITIONS,
                page_token: String::new(),
            }),
        }));
    let (listed, facets, editions) = tokio::join!(listed, facets, editions);
    let listed = listed.map_err(list_failure)?.into_inner();
    let (facets, editions) = (facets?.into_inner(), editions?.into_inner());
    let publication = listed.publication.unwrap_or_default();
    let t = shared.texts(visit.language);

    let number_param = if number > 0 {
        number.to_string()
    } else {
        String::new()
    };
    let filters: Vec<(&str, String)> = LIST_PARAMS[..5]
        .iter()
        .map(|(name, _)| (*name, param(name)))
        .collect();
    let with = |extra: &[(&str, &str)]| {
        let mut params: Vec<(&str, &str)> = vec![("publikation", number_param.as_str())];
        params.extend(filters.iter().map(|(k, v)| (*k, v.as_str())));
        params.extend_from_slice(extra);
        visit.link("/aendringsanmodninger", &params)
    };
    let select = |name: &str, label: &str, options: &[changes::Facet]| {
        let chosen = param(name);
        json!({
            "name": name,
            "label": text(t, label),
            "options": options.iter().map(|f| json!({
                "value": f.value, "name": f.name, "count": f.item_count, "selected": f.value == chosen,
            })).collect::<Vec<_>>(),
        })
    };
    let next = listed.page.map(|p| p.next_page_token).unwrap_or_default();
    let download = |format: &str| {
        visit.link(
            &format!("/aendringsanmodninger.{format}"),
            &[("publikation", &publication.number.to_string())],
        )
    };
    let context = json!({
        "publication": {"note": publication.note},
        "number": number_param,
        "edition": edition_label(&publication, t),
        "items": text(t, "cr_items").replace("{count}", &publication.item_count.to_string()),
        "csv_url": download("csv"),
        "xlsx_url": download("xlsx"),
        "list_url": visit.link("/aendringsanmodninger", &[]),
        "reset_url": visit.link("/aendringsanmodninger", &[("publikation", &number_param)]),
        "selects": [
            select("tema", "cr_theme", &facets.themes),
            select("undertema", "cr_subtheme", &facets.subthemes),
            select("status", "cr_status", &facets.statuses),
            select("kommune", "cr_municipality", &facets.municipalities),
        ],
        "query": param("q"),
        "rows": listed.change_requests.iter().map(|row| json!({
            "case_id": row.case_id,
            "url": visit.link(&format!("/aendringsanmodninger/{}", row.case_id), &[("publikation", &publication.number.to_string())]),
            "title": row.title,
            "theme": row.change_theme,
            "status": row.status,
            "municipality": row.municipality_name,
            "created": row.created,
        })).collect::<Vec<_>>(),
        "next_url": (!next.is_empty()).then(|| with(&[("side", &next)])),
        "first_url": visit.param("side").map(|_| with(&[])),
        "editions": editions.publications.iter().map(|e| json!({
            "label": edition_label(e, t),
            "url": visit.link("/aendringsanmodninger", &[("publikation", &e.number.to_string())]),
            "current": e.number == publication.number,
        })).collect::<Vec<_>>(),
    });
    Ok(html(shared.render(
        visit,
        "change_requests.html",
        "change_requests",
        context,
    )?))
}

/// One published change request, as a publication (the latest, or one by number) shows it.
pub(super) async fn change_request(
    shared: &Shared,
    visit: &Visit,
    key: &str,
) -> Result<Page, Failure> {
    let number = edition(visit)?;
    let found = PublicationServiceClient::new(shared.behind.clone())
        .get_published_change_request(visit.call(changes::GetPublishedChangeRequestRequest {
            publication_number: number,
            case_id: key.to_owned(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let (publication, row) = (
        found.publication.unwrap_or_default(),
        found.change_request.ok_or(Failure::NotFound)?,
    );
    let t = shared.texts(visit.language);
    let context = json!({
        "edition": edition_label(&publication, t),
        "row": {
            "case_id": row.case_id, "title": row.title, "status": row.status,
            "change_theme": row.change_theme, "subtheme": row.subtheme,
            "municipality_name": row.municipality_name, "created": row.created,
            "related_cases": row.related_cases, "description": row.description,
            "workaround": row.workaround,
        },
        "list_url": visit.link("/aendringsanmodninger", &[("publikation", &publication.number.to_string())]),
    });
    Ok(html(shared.render(
        visit,
        "change_request.html",
        "change_requests",
        context,
    )?))
}

/// A publication as a file over plain HTTP, streamed as the service writes it, with a file name.
pub(super) async fn download(
    shared: &Shared,
    visit: &Visit,
    file: &str,
) -> Result<Response<Body>, Failure> {
    let (format, content_type) = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("csv") => (changes::ExportFormat::Csv, "text/csv; charset=utf-8"),
        Some("xlsx") => (
            changes::ExportFormat::Xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        _ => return Err(Failure::NotFound),
    };
    let number = edition(visit)?;
    let mut client = PublicationServiceClient::new(shared.behind.clone());
    // The file is named by its publication's number, also when the latest is asked for.
    let publication = client
        .list_publication_facets(visit.call(changes::ListPublicationFacetsRequest {
            publication_number: number,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .publication
        .unwrap_or_default();
    let chunks = client
        .export_publication(visit.call(changes::ExportPublicationRequest {
            publication_number: publication.number,
            format: format as i32,
            ..Default::default()
        }))
        .await?
        .into_inner();
    use futures::StreamExt;
    let frames = chunks.map(|chunk| {
        chunk
            .map(|c| http_body::Frame::data(Bytes::from(c.chunk)))
            .map_err(|status| tonic::Status::new(status.code(), status.message().to_owned()))
    });
    let mut response = Response::new(Body::new(http_body_util::StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let name = format!(
        "aendringsanmodninger-udgave-{}.{}",
        publication.number,
        file.rsplit_once('.')
            .map(|(_, ext)| ext)
            .unwrap_or_default()
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(CONTENT_DISPOSITION, disposition);
    }
    // A numbered publication never changes.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    super::security_headers(headers);
    Ok(response)
}

/// The upcoming releases, each with its phases by ISO week and where it stands today.
pub(super) async fn releases(shared: &Shared, visit: &Visit) -> Result<Page, Failure> {
    let all = ReleaseServiceClient::new(shared.behind.clone())
        .list_releases(visit.call(changes::ListReleasesRequest {}))
        .await?
        .into_inner()
        .releases;
    let t = shared.texts(visit.language);
    let today = Utc::now().with_timezone(&Copenhagen).date_naive();
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let phase_name = |phase: changes::ReleasePhase| {
        let key = phase
            .as_str_name()
            .trim_start_matches("RELEASE_PHASE_")
            .to_lowercase();
        text(t, &format!("phase_{key}"))
    };
    let upcoming: Vec<Value> = all
        .iter()
        .filter(|r| day(&r.release_date).is_some_and(|date| date >= today))
        .map(|r| {
            let current = r.current_phase();
            json!({
                "name": r.name,
                "date": day(&r.release_date).map(|d| date(d, t)),
                "date_iso": r.release_date,
                "current": (current != changes::ReleasePhase::Unspecified).then(|| phase_name(current)),
                "phases": r.timeline.iter().map(|span| json!({
                    "name": phase_name(span.phase()),
                    "current": span.phase() == current && current != changes::ReleasePhase::Unspecified,
                    "weeks": if span.first_week == span.last_week { span.first_week.clone() } else { format!("{} – {}", span.first_week, span.last_week) },
                    "first": day(&span.first_day).map(|d| date(d, t)),
                    "first_iso": span.first_day,
                    "last": day(&span.last_day).map(|d| date(d, t)),
                    "last_iso": span.last_day,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let context = json!({"releases": upcoming});
    Ok(html(shared.render(
        visit,
        "releases.html",
        "releases",
        context,
    )?))
}

/// The service catalogue: the published items by category, each with its price, delivery time and who
/// may order it, in the visit's language (Danish where an item has no English).
pub(super) async fn catalogue(shared: &Shared, visit: &Visit) -> Result<Page, Failure> {
    let listed = ItemServiceClient::new(shared.behind.clone())
        .list_items(visit.call(catalogue::ListItemsRequest {
            page: Some(PageRequest {
                page_size: CATALOGUE_PAGE,
                page_token: visit.param("side").unwrap_or_default().to_owned(),
            }),
            ..Default::default()
        }))
        .await
        .map_err(list_failure)?
        .into_inner();
    let t = shared.texts(visit.language);
    let english = visit.language == Language::English;
    let either = |da: &str, en: &str| if english && !en.is_empty() { en } else { da }.to_owned();
    let mut categories: Vec<(String, Vec<Value>)> = Vec::new();
    for item in &listed.items {
        let Some(c) = &item.content else { continue };
        let price = c.price.clone().unwrap_or_default();
        let amount = kommune_platform::money::kroner(price.amount_ore, english);
        let price_text = match price.model() {
            catalogue::PriceModel::Fixed => text(t, "cat_price_fixed").replace("{amount}", &amount),
            catalogue::PriceModel::PerUnit => text(t, "cat_price_per_unit")
                .replace("{amount}", &amount)
                .replace("{unit}", &either(&price.unit_da, &price.unit_en)),
            catalogue::PriceModel::HourlyEstimate => {
                text(t, "cat_price_hourly").replace("{amount}", &amount)
            }
            catalogue::PriceModel::Free | catalogue::PriceModel::Unspecified => {
                text(t, "cat_price_free")
            }
        };
        let orderers: Vec<String> = if c.extra_eligible_users {
            vec![text(t, "cat_ordered_by_kommune")]
        } else if c.orderable_by.is_empty() {
            vec![text(t, "cat_role_project_leader")]
        } else {
            c.orderable_by
                .iter()
                .map(
                    |role| match kommune_proto::identity::v1::Role::try_from(*role) {
                        Ok(kommune_proto::identity::v1::Role::MunicipalCaseworker) => {
                            text(t, "cat_role_caseworker")
                        }
                        _ => text(t, "cat_role_project_leader"),
                    },
                )
                .collect()
        };
        let view = json!({
            "id": item.item_id,
            "name": either(&c.name_da, &c.name_en),
            "description": either(&c.description_da, &c.description_en),
            "price": price_text,
            "delivery": text(t, "cat_delivery").replace("{days}", &c.delivery_working_days.to_string()),
            "approval": c.requires_approval,
            "orderers": orderers.join(", "),
            "limited": !c.municipality_ids.is_empty(),
            "questions": c.questions.iter().map(|q| either(&q.label_da, &q.label_en)).collect::<Vec<_>>(),
            "version": item.version,
        });
        match categories.iter_mut().find(|(name, _)| *name == c.category) {
            Some((_, items)) => items.push(view),
            None => categories.push((c.category.clone(), vec![view])),
        }
    }
    let next = listed.page.map(|p| p.next_page_token).unwrap_or_default();
    let context = json!({
        "categories": categories.into_iter().map(|(name, items)| json!({"name": name, "items": items})).collect::<Vec<_>>(),
        "next_url": (!next.is_empty()).then(|| visit.link("/servicekatalog", &[("side", &next)])),
        "first_url": visit.param("side").map(|_| visit.link("/servicekatalog", &[])),
    });
    Ok(html(shared.render(
        visit,
        "catalogue.html",
        "catalogue",
        context,
    )?))
}
