//! The operations site's pages under load: `cargo run -p kommune-bench --release --bin site --
//! [--rows 100000] [--concurrency 1,16] [--seconds 5]`.
//!
//! Starts the standalone suite (every service in one process, SQLite in a temporary directory), imports
//! `--rows` change requests through the import API and publishes them, publishes an operational
//! message and plans a release, then GETs each page of the site from the gateway over HTTP/1.1 for
//! `--seconds` at each number of requests in flight, beside the gateway's own `/healthz` (a plain
//! answer with nothing behind it, the echo of this harness). Prints p50, p99 and pages per second with
//! the ratio to the echo. The target (issue #18): every page ≤ 50 ms p99. Figures go in
//! docs/benchmarks.md.

use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::transport::Channel;

use kommune_bench::{Load, StartedSuite, measure, print_row};
use kommune_platform::BoxError;
use kommune_platform::testing::with_bearer;
use kommune_proto::cases::v1 as cases;
use kommune_proto::changes::v1 as changes;
use kommune_proto::identity::v1 as identity;

#[derive(Parser)]
#[command(about = "the operations site's pages beside the gateway's /healthz")]
struct Args {
    /// Change requests to import and publish.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Requests in flight, one measurement each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
    concurrency: Vec<usize>,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

const THEMES: [&str; 5] = ["Økonomi", "Breve", "Ydelser", "Integration", "Rapportering"];
const WORDS: [&str; 6] = [
    "debitorliste",
    "forfaldsdato",
    "brevskabelon",
    "udbetaling",
    "journalisering",
    "rapport",
];

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let suite = StartedSuite::start("site").await?;
    let (gateway, admin) = (&suite.gateway, &suite.admin);

    let seeding = std::time::Instant::now();
    let theme = seed(gateway, admin, args.rows).await?;
    eprintln!(
        "seeded {} change requests, published, in {:.1} s",
        args.rows,
        seeding.elapsed().as_secs_f64()
    );

    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://{}", suite.running.gateway_addr);
    let pages = [
        ("/healthz (echo)", "/healthz".to_owned()),
        ("status", "/".to_owned()),
        (
            "change requests, first page",
            "/aendringsanmodninger".to_owned(),
        ),
        (
            "change requests, theme and status",
            format!("/aendringsanmodninger?tema={theme}&status=20"),
        ),
        (
            "change requests, a common word",
            "/aendringsanmodninger?q=rapport".to_owned(),
        ),
        (
            "change requests, a word nobody wrote",
            "/aendringsanmodninger?q=nogensinde".to_owned(),
        ),
        (
            "a change request",
            format!("/aendringsanmodninger/KOMBITKY-{}", args.rows / 2),
        ),
        ("releases", "/udgivelser".to_owned()),
        ("Atom feed", "/feed.atom".to_owned()),
    ];
    println!(
        "| in flight | page | pages | failed | pages/s | p50 | p99 | ÷ echo (pages/s) | × echo (p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &in_flight in &args.concurrency {
        let mut echo = None;
        for (what, path) in &pages {
            let url: http::Uri = format!("{base}{path}").parse()?;
            let row = measure(
                in_flight,
                Load::For(Duration::from_secs(args.seconds)),
                || {
                    let (client, url) = (client.clone(), url.clone());
                    async move {
                        let answer = client.get(url).await?;
                        let ok = answer.status() == http::StatusCode::OK;
                        answer.into_body().collect().await?;
                        if ok {
                            Ok(())
                        } else {
                            Err(BoxError::from("not 200"))
                        }
                    }
                },
            )
            .await;
            let echo = echo.get_or_insert_with(|| row.clone());
            print_row(in_flight, what, &row, echo);
        }
    }
    suite.stop().await?;
    Ok(())
}

/// A municipality, `rows` change requests imported and published, an operational message and a
/// release: what the pages show. The id of the theme the filtered list asks for.
async fn seed(gateway: &Channel, admin: &str, rows: usize) -> Result<String, BoxError> {
    identity::municipality_service_client::MunicipalityServiceClient::new(gateway.clone())
        .create_municipality(with_bearer(
            identity::CreateMunicipalityRequest {
                code: "101".into(),
                name: "Københavns Kommune".into(),
                cvr_number: "64942212".into(),
                ..Default::default()
            },
            admin,
        ))
        .await?;

    // The list as a CSV file in the published columns, imported in 1 MiB chunks.
    let mut file = kommune_changes::domain::publication::COLUMNS.join(",");
    file.push('\n');
    for n in 1..=rows {
        let word = WORDS[n % WORDS.len()];
        file.push_str(&format!(
            "{},,KOMBITKY-{n},Ønske {n} om {word},Beskrivelse af ønske {n} om {word} i sagsbehandlingen,,{},Københavns Kommune,{:02}-06-2021 11:{:02},\n",
            THEMES[n % THEMES.len()],
            if n % 3 == 0 { "20 - Under assessment" } else { "10 - New" },
            1 + n % 28,
            n % 60,
        ));
    }
    use changes::import_change_requests_request::Part;
    let mut parts = vec![changes::ImportChangeRequestsRequest {
        part: Some(Part::Options(changes::ImportOptions {
            file_name: "bench.csv".into(),
            create_missing_themes: true,
        })),
    }];
    for chunk in file.as_bytes().chunks(1 << 20) {
        parts.push(changes::ImportChangeRequestsRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    }
    let mut import = changes::import_service_client::ImportServiceClient::new(gateway.clone())
        .import_change_requests(with_bearer(tokio_stream::iter(parts), admin))
        .await?
        .into_inner();
    while import.message().await?.is_some() {}
    changes::publication_service_client::PublicationServiceClient::new(gateway.clone())
        .publish_change_requests(with_bearer(
            changes::PublishChangeRequestsRequest {
                idempotency_key: "bench".into(),
                note: "Bench".into(),
            },
            admin,
        ))
        .await?;
    let theme = changes::reference_service_client::ReferenceServiceClient::new(gateway.clone())
        .list_themes(with_bearer(changes::ListThemesRequest::default(), admin))
        .await?
        .into_inner()
        .themes
        .into_iter()
        .find(|t| t.name == "Breve")
        .ok_or("no theme Breve")?
        .theme_id;
    changes::release_service_client::ReleaseServiceClient::new(gateway.clone())
        .create_release(with_bearer(
            changes::CreateReleaseRequest {
                name: "KY 2027.1".into(),
                release_date: (chrono::Utc::now() + chrono::Duration::weeks(20))
                    .date_naive()
                    .to_string(),
            },
            admin,
        ))
        .await?;

    let system = cases::reference_service_client::ReferenceServiceClient::new(gateway.clone())
        .create_system(with_bearer(
            cases::CreateSystemRequest {
                system: Some(cases::System {
                    name: "KY".into(),
                    chain_responsibility: true,
                    ..Default::default()
                }),
            },
            admin,
        ))
        .await?
        .into_inner()
        .system
        .ok_or("no system")?;
    let mut messages =
        cases::operational_message_service_client::OperationalMessageServiceClient::new(
            gateway.clone(),
        );
    let draft = messages
        .create_operational_message(with_bearer(
            cases::CreateOperationalMessageRequest {
                idempotency_key: "bench".into(),
                operational_message: Some(cases::OperationalMessage {
                    title_da: "Login fejler".into(),
                    text_da: "Nogle brugere kan ikke logge ind.".into(),
                    system_ids: vec![system.system_id],
                    scope: cases::IncidentScope::General as i32,
                    start_time: Some(kommune_platform::clock::to_timestamp(chrono::Utc::now())),
                    ..Default::default()
                }),
            },
            admin,
        ))
        .await?
        .into_inner()
        .operational_message
        .ok_or("no message")?;
    messages
        .publish_operational_message(with_bearer(
            cases::PublishOperationalMessageRequest {
                operational_message_id: draft.operational_message_id,
                expected_version: draft.version,
            },
            admin,
        ))
        .await?;
    Ok(theme)
}
