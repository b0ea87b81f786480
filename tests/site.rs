//! The operations site through the real gateway over plain HTTP/1.1: pages made from the public RPCs,
//! their caching, their errors, and the Atom feeds as a feed reader (Python's feedparser) reads them.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kommune_proto::cases::v1 as cases;
use serde_json::json;

use super::*;

/// What a visitor's GET brought back.
pub(crate) struct Visit {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// GETs `path` from the gateway as a browser would, with `headers`.
pub(crate) async fn visit(suite: &Suite, path: &str, headers: &[(&str, &str)]) -> Visit {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().uri(format!("http://{}{path}", suite.gateway_addr));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (head, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Visit {
        status: head.status,
        headers: head.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl Suite {
    /// A system of the consortium's, made through the API.
    pub(crate) async fn system(&self, name: &str) -> cases::System {
        let system = cases::System {
            name: name.into(),
            chain_responsibility: true,
            ..Default::default()
        };
        cases::reference_service_client::ReferenceServiceClient::new(self.gateway.clone())
            .create_system(bearer(
                cases::CreateSystemRequest {
                    system: Some(system),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .system
            .unwrap()
    }

    pub(crate) fn messages(
        &self,
    ) -> cases::operational_message_service_client::OperationalMessageServiceClient<Channel> {
        cases::operational_message_service_client::OperationalMessageServiceClient::new(
            self.gateway.clone(),
        )
    }

    /// An operational message about `system`, published through the API as the desk does.
    pub(crate) async fn publish_message(
        &self,
        draft: cases::OperationalMessage,
    ) -> cases::OperationalMessage {
        let draft = self
            .messages()
            .create_operational_message(bearer(
                cases::CreateOperationalMessageRequest {
                    idempotency_key: uuid::Uuid::new_v4().to_string(),
                    operational_message: Some(draft),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .operational_message
            .unwrap();
        self.messages()
            .publish_operational_message(bearer(
                cases::PublishOperationalMessageRequest {
                    operational_message_id: draft.operational_message_id.clone(),
                    expected_version: draft.version,
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .operational_message
            .unwrap()
    }

    /// Resolves `message` with closing words.
    pub(crate) async fn resolve_message(&self, message: &cases::OperationalMessage) {
        self.messages()
            .resolve_operational_message(bearer(
                cases::ResolveOperationalMessageRequest {
                    operational_message_id: message.operational_message_id.clone(),
                    expected_version: message.version,
                    resolution_da: "Fejlen er rettet.".into(),
                    resolution_en: "The fault is fixed.".into(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap();
    }
}

/// A general fault of `system` since an hour ago, its headline holding markup.
pub(crate) fn login_fault(system: &cases::System) -> cases::OperationalMessage {
    cases::OperationalMessage {
        title_da: "Login fejler <b>i dag</b>".into(),
        text_da: "Det er ikke muligt at logge ind.".into(),
        workaround_da: "Brug den direkte adresse.".into(),
        title_en: "Login fails <b>today</b>".into(),
        text_en: "Logging in is not possible.".into(),
        workaround_en: "Use the direct address.".into(),
        system_ids: vec![system.system_id.clone()],
        scope: cases::IncidentScope::General as i32,
        start_time: Some(kommune_platform::clock::to_timestamp(
            chrono::Utc::now() - chrono::Duration::hours(1),
        )),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_status_page_and_a_message_page_show_what_the_desk_published() {
    let suite = Suite::start().await;
    let ky = suite.system("KY").await;
    let portal = suite.system("Portalen").await;
    let message = suite.publish_message(login_fault(&ky)).await;
    let id = message.operational_message_id.clone();
    // An update: the page lists both steps, in order.
    let updated = suite
        .messages()
        .update_operational_message(bearer(
            cases::UpdateOperationalMessageRequest {
                operational_message: Some(cases::OperationalMessage {
                    text_da: "Det er ikke muligt at logge ind. Leverandøren genstarter serveren."
                        .into(),
                    ..message.clone()
                }),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();

    let status = visit(&suite, "/", &[]).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(status.headers["content-language"], "da");
    assert!(status.headers.get("set-cookie").is_none(), "no cookies");
    assert!(
        status.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let page = status.body.replace("&#x2f;", "/");
    assert!(page.contains("Der er nedbrud"), "{page}");
    assert!(
        page.contains("Login fejler &lt;b&gt;i dag&lt;/b&gt;"),
        "markup shows as text"
    );
    assert!(!page.contains("<b>i dag</b>"));
    assert!(page.contains(&format!("/driftsbeskeder/{id}")));
    assert!(page.contains(&format!("/systemer/{}/feed.atom", portal.system_id)));
    assert!(page.contains("Leverandøren genstarter serveren."));

    // A repeat fetch with the ETag is not sent again.
    let etag = status.headers["etag"].to_str().unwrap().to_owned();
    let again = visit(&suite, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    let english = visit(&suite, "/en/", &[]).await;
    assert_eq!(english.headers["content-language"], "en");
    assert!(english.body.contains(r#"<html lang="en">"#));
    assert!(english.body.contains("There is an outage"));
    assert!(english.body.contains("Login fails &lt;b&gt;today&lt;"));

    let shown = visit(&suite, &format!("/driftsbeskeder/{id}"), &[]).await;
    assert_eq!(shown.status, StatusCode::OK);
    let published = shown
        .body
        .find("Offentliggjort")
        .expect("the publication step");
    let update = shown.body.find("Opdateret").expect("the update step");
    assert!(published < update, "steps in order");
    assert!(shown.body.contains("Brug den direkte adresse."));

    // Resolved, it leaves the active messages for the history.
    suite.resolve_message(&updated).await;
    let after = visit(&suite, "/", &[]).await.body.replace("&#x2f;", "/");
    assert!(after.contains("Alle systemer kører normalt"), "{after}");
    let history = &after[after.find(r#"id="historik""#).unwrap()..];
    assert!(history.contains(&format!("/driftsbeskeder/{id}")));
    let shown = visit(&suite, &format!("/driftsbeskeder/{id}"), &[])
        .await
        .body;
    assert!(shown.contains("Fejlen er rettet."));
    assert!(
        shown.matches("<time datetime").count() >= 3,
        "start, resolution and steps are dated"
    );
}

#[tokio::test]
async fn what_is_not_there_is_a_page_in_the_sites_look_and_drafts_stay_hidden() {
    let suite = Suite::start().await;
    let ky = suite.system("KY").await;
    let draft = suite
        .messages()
        .create_operational_message(bearer(
            cases::CreateOperationalMessageRequest {
                idempotency_key: "draft".into(),
                operational_message: Some(login_fault(&ky)),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    for (path, text) in [
        (
            format!("/driftsbeskeder/{}", draft.operational_message_id),
            "Siden findes ikke",
        ),
        (
            format!("/driftsbeskeder/{}", uuid::Uuid::new_v4()),
            "Siden findes ikke",
        ),
        (
            "/driftsbeskeder/%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
            "Siden findes ikke",
        ),
        ("/ingenting".to_owned(), "Siden findes ikke"),
        ("/en/nothing".to_owned(), "Page not found"),
        (
            format!("/systemer/{}/feed.atom", uuid::Uuid::new_v4()),
            "Siden findes ikke",
        ),
    ] {
        let answer = visit(&suite, &path, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.body.contains(text), "{path}: {}", answer.body);
        assert!(
            answer
                .body
                .contains(r#"<link rel="stylesheet" href="/site.css">"#)
                || answer.body.contains("&#x2f;site.css")
        );
        assert!(!answer.body.contains("<script>"), "nothing echoed");
        assert_eq!(answer.headers["cache-control"], "no-store");
    }
    // The site's own stylesheet and script.
    let css = visit(&suite, "/site.css", &[]).await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    let script = visit(&suite, "/status.js", &[]).await;
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
}

/// Reads `document` with feedparser, as a feed reader does: whether it is well-formed Atom, and its
/// entries' titles and links.
fn read_feed(document: &str) -> serde_json::Value {
    const SCRIPT: &str = "import feedparser, json, sys\n\
        feed = feedparser.parse(sys.stdin.read())\n\
        print(json.dumps({'bozo': bool(feed.bozo), 'version': feed.version,\n\
          'self': [l.href for l in feed.feed.get('links', []) if l.rel == 'self'],\n\
          'entries': [{'title': e.title, 'link': e.get('link', '')} for e in feed.entries]}))\n";
    use std::io::Write;
    let mut reader = std::process::Command::new(door::python())
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("a Python with feedparser: run .ci/test once, which installs it");
    reader
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let output = reader.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_feeds_are_atom_that_readers_accept_linking_back_to_the_pages() {
    let suite = Suite::start().await;
    let ky = suite.system("KY").await;
    let portal = suite.system("Portalen").await;
    let message = suite.publish_message(login_fault(&ky)).await;
    let id = &message.operational_message_id;
    let base = format!("http://{}", suite.gateway_addr);

    let feed = eventually("the message never reached the feed", async || {
        let feed = visit(&suite, "/feed.atom", &[]).await;
        feed.body.contains("<entry>").then_some(feed)
    })
    .await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.headers["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let read = read_feed(&feed.body);
    assert_eq!(read["bozo"], false, "{}", feed.body);
    assert_eq!(read["version"], "atom10");
    assert_eq!(read["self"], json!([format!("{base}/feed.atom")]));
    assert_eq!(
        read["entries"],
        json!([{"title": "Login fejler <b>i dag</b>", "link": format!("{base}/driftsbeskeder/{id}")}])
    );
    let etag = feed.headers["etag"].to_str().unwrap().to_owned();
    let again = visit(&suite, "/feed.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let english = read_feed(&visit(&suite, "/en/feed.atom", &[]).await.body);
    assert_eq!(
        english["entries"],
        json!([{"title": "Login fails <b>today</b>", "link": format!("{base}/en/driftsbeskeder/{id}")}])
    );
    // One system's feed holds its messages only.
    let of_ky = read_feed(
        &visit(
            &suite,
            &format!("/systemer/{}/feed.atom", ky.system_id),
            &[],
        )
        .await
        .body,
    );
    assert_eq!(of_ky["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        of_ky["self"],
        json!([format!("{base}/systemer/{}/feed.atom", ky.system_id)])
    );
    let of_portal = read_feed(
        &visit(
            &suite,
            &format!("/systemer/{}/feed.atom", portal.system_id),
            &[],
        )
        .await
        .body,
    );
    assert_eq!(of_portal["bozo"], false);
    assert_eq!(of_portal["entries"], json!([]));
}

/// A published change-request list: two themes, 61 change requests (one with markup in its title),
/// published twice with a status moved in between, and a release in the making. The second theme's id.
pub(crate) async fn published_list(suite: &Suite) -> String {
    use kommune_proto::changes::v1 as changes;
    let token = &suite.admin_token;
    let municipality = suite.municipality("101", "64942212").await;
    let mut reference =
        changes::reference_service_client::ReferenceServiceClient::new(suite.gateway.clone());
    let mut theme = async |name: &str| {
        reference
            .create_theme(bearer(
                changes::CreateThemeRequest { name: name.into() },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .theme
            .unwrap()
            .theme_id
    };
    let (economy, letters) = (theme("Økonomi").await, theme("Breve").await);
    let mut requests = changes::change_request_service_client::ChangeRequestServiceClient::new(
        suite.gateway.clone(),
    );
    let mut first = None;
    for n in 0..61 {
        let (theme_id, title) = match n {
            0 => (
                letters.clone(),
                "Logo <i>kursiv</i> i brevhovedet".to_owned(),
            ),
            _ => (economy.clone(), format!("Debitorliste nummer {n}")),
        };
        let asked = requests
            .create_change_request(bearer(
                changes::CreateChangeRequestRequest {
                    idempotency_key: format!("list-{n}"),
                    theme_id,
                    title,
                    description: "Beskrivelse af ønsket.".into(),
                    asking_municipality_id: municipality.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap();
        first.get_or_insert(asked);
    }
    let mut publications =
        changes::publication_service_client::PublicationServiceClient::new(suite.gateway.clone());
    let mut publish = async |note: &str| {
        publications
            .publish_change_requests(bearer(
                changes::PublishChangeRequestsRequest {
                    idempotency_key: note.into(),
                    note: note.into(),
                },
                token,
            ))
            .await
            .unwrap();
    };
    publish("November 2026").await;
    let first = first.unwrap();
    requests
        .change_status(bearer(
            changes::ChangeStatusRequest {
                change_request_id: first.change_request_id.clone(),
                expected_version: first.version,
                status_code: 20,
            },
            token,
        ))
        .await
        .unwrap();
    publish("December 2026").await;
    let release_date = (chrono::Utc::now() + chrono::Duration::weeks(20)).date_naive();
    changes::release_service_client::ReleaseServiceClient::new(suite.gateway.clone())
        .create_release(bearer(
            changes::CreateReleaseRequest {
                name: "KY 2027.1".into(),
                release_date: release_date.to_string(),
            },
            token,
        ))
        .await
        .unwrap();
    letters
}

#[tokio::test]
async fn the_change_request_list_is_filtered_searched_paged_and_downloaded() {
    let suite = Suite::start().await;
    let letters = published_list(&suite).await;
    let suite = &suite;
    let page = async |path: String| {
        let answer = visit(suite, &path, &[]).await;
        (
            answer.status,
            answer.body.replace("&#x2f;", "/").replace("&amp;", "&"),
        )
    };
    let (status, latest) = page("/aendringsanmodninger".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(latest.contains("Udgave 2 af"), "{latest}");
    assert!(latest.contains("61 ændringsanmodninger"));
    assert!(latest.contains("December 2026"));
    assert!(
        latest.contains(r#"<option value="20">20 - Under assessment (1)</option>"#),
        "{latest}"
    );
    assert!(
        latest.contains("Logo &lt;i&gt;kursiv&lt;/i&gt; i brevhovedet"),
        "markup shows as text"
    );
    assert_eq!(
        latest.matches("<tr><th scope=\"row\">").count(),
        50,
        "a page of 50"
    );
    let next = latest
        .split(r#"<a href=""#)
        .find_map(|part| {
            part.split_once(r#"" rel="next""#)
                .map(|(url, _)| url.to_owned())
        })
        .expect("a next page");
    let (_, second) = page(next).await;
    assert_eq!(second.matches("<tr><th scope=\"row\">").count(), 11);
    assert!(second.contains("Første side"));

    let (_, filtered) = page(format!("/aendringsanmodninger?tema={letters}")).await;
    assert_eq!(filtered.matches("<tr><th scope=\"row\">").count(), 1);
    assert!(filtered.contains(&format!(r#"<option value="{letters}" selected>"#)));
    let (_, searched) = page("/aendringsanmodninger?q=KURSIV+logo".into()).await;
    assert_eq!(searched.matches("<tr><th scope=\"row\">").count(), 1);
    let (_, earlier) = page("/aendringsanmodninger?publikation=1&status=10".into()).await;
    assert!(earlier.contains("Udgave 1 af"));
    assert_eq!(
        earlier.matches("<tr><th scope=\"row\">").count(),
        50,
        "every row had status 10 then"
    );
    let (_, one) = page("/aendringsanmodninger/KOMBITKY-1?publikation=1".into()).await;
    assert!(one.contains("10 - New") && one.contains("Beskrivelse af ønsket."));
    let (_, now) = page("/en/aendringsanmodninger/KOMBITKY-1".into()).await;
    assert!(now.contains("20 - Under assessment") && now.contains("Change requests"));

    for (path, status, says) in [
        (
            "/aendringsanmodninger?status=abc",
            StatusCode::BAD_REQUEST,
            "<code>status</code>",
        ),
        (
            "/aendringsanmodninger?tema=%3Cscript%3E",
            StatusCode::BAD_REQUEST,
            "<code>tema</code>",
        ),
        (
            "/aendringsanmodninger?side=garbage",
            StatusCode::BAD_REQUEST,
            "<code>side</code>",
        ),
        (
            "/aendringsanmodninger?publikation=0",
            StatusCode::BAD_REQUEST,
            "<code>publikation</code>",
        ),
        (
            "/aendringsanmodninger?publikation=99",
            StatusCode::NOT_FOUND,
            "Siden findes ikke",
        ),
        (
            "/aendringsanmodninger/KOMBITKY-999",
            StatusCode::NOT_FOUND,
            "Siden findes ikke",
        ),
        (
            "/aendringsanmodninger.pdf",
            StatusCode::NOT_FOUND,
            "Siden findes ikke",
        ),
    ] {
        let answer = visit(suite, path, &[]).await;
        assert_eq!(answer.status, status, "{path}");
        assert!(answer.body.contains(says), "{path}: {}", answer.body);
        assert!(!answer.body.contains("<script>"));
    }

    let csv = visit(suite, "/aendringsanmodninger.csv?publikation=1", &[]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers["content-disposition"],
        r#"attachment; filename="aendringsanmodninger-udgave-1.csv""#
    );
    assert_eq!(csv.body.lines().count(), 62, "the header and 61 rows");
    let xlsx = visit(suite, "/aendringsanmodninger.xlsx", &[]).await;
    assert_eq!(
        xlsx.headers["content-disposition"],
        r#"attachment; filename="aendringsanmodninger-udgave-2.xlsx""#,
        "the latest is named by its number"
    );
}

#[tokio::test]
async fn each_upcoming_release_shows_its_phases_by_iso_week() {
    let suite = Suite::start().await;
    published_list(&suite).await;
    let releases = visit(&suite, "/udgivelser", &[]).await;
    assert_eq!(releases.status, StatusCode::OK);
    let page = releases.body;
    assert!(page.contains("KY 2027.1"), "{page}");
    // 20 weeks before its release it is in the design phase (weeks 20–15).
    assert!(
        page.contains("Står nu i: <strong>Design</strong>"),
        "{page}"
    );
    assert_eq!(page.matches(r#"aria-current="step""#).count(), 1);
    assert!(page.contains("Udvælgelse") && page.contains("Overtagelsesprøve"));
    assert!(page.contains("-W"), "ISO weeks");
    let english = visit(&suite, "/en/udgivelser", &[]).await.body;
    assert!(english.contains("Now in: <strong>Design</strong>"));
}

#[tokio::test]
async fn a_page_continues_the_visitors_trace_and_names_it() {
    let _telemetry = kommune_platform::telemetry::init("site-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let page = visit(&suite, "/udgivelser", &[("traceparent", &traceparent)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[kommune_platform::server::TRACE_ID_HEADER],
        trace_id
    );
    // Without one, each page starts its own trace.
    let own = visit(&suite, "/", &[]).await;
    let own = own.headers[kommune_platform::server::TRACE_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(own.len(), 32);
    assert_ne!(own, trace_id);
}
