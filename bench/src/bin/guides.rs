//! Search and suggestions over many guides: `cargo run -p kommune-bench --release --bin guides --
//! [--guides 300] [--concurrency 1,16] [--seconds 5]`.
//!
//! Starts the standalone suite (every service in one process, SQLite in a temporary directory), makes a
//! system and imports `--guides` generated DOCX guides of 40 sections each through the gateway, then
//! calls `SearchSections` and `SuggestSections` through the gateway for `--seconds` at each number of
//! calls in flight, beside the gateway's gRPC health check (a plain answer with nothing behind it, the
//! echo of this harness). Prints p50, p99 and calls per second with the ratio to the echo. The target
//! (issue #22): search and suggestion p99 ≤ 10 ms. Figures go in docs/benchmarks.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use kommune_bench::{Load, StartedSuite, measure, print_row};
use kommune_guides::testing::{docx, sample_sections};
use kommune_platform::BoxError;
use kommune_platform::testing::with_bearer;
use kommune_proto::cases::v1 as cases;
use kommune_proto::guides::v1 as guides;

#[derive(Parser)]
#[command(about = "guide search and suggestions beside the gateway's health check")]
struct Args {
    /// Guides to import, 40 sections each.
    #[arg(long, default_value_t = 300)]
    guides: usize,
    /// Calls in flight, one measurement each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
    concurrency: Vec<usize>,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

/// What people search for: inflected words and phrases.
const QUERIES: [&str; 5] = [
    "udbetalinger",
    "manuel tilknytning",
    "frister for partshøring",
    "dokumentation fra arbejdsgiveren",
    "tilbagebetalingen modregnes",
];
/// Words no guide holds: each such search is kept for the report (a write).
const MISSING: [&str; 3] = ["flyttebevis", "pensionsopsparing", "boligstøtte"];

/// Cases being written.
const DRAFTS: [(&str, &str); 3] = [
    (
        "Udbetalingen er ikke sket",
        "Borgeren har ikke fået udbetaling af ydelsen, og sagsbehandleren kan ikke se hvorfor.",
    ),
    (
        "Fejl ved manuel tilknytning",
        "Når vi tilknytter borgeren manuelt, gemmes ændringen ikke i forholdene.",
    ),
    (
        "Beløbsgrænser for året",
        "Beløbsgrænsen for året beregnes forkert ved tilbagebetaling og modregning.",
    ),
];

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let suite = StartedSuite::start("guides").await?;
    let (gateway, admin) = (&suite.gateway, &suite.admin);

    let seeding = std::time::Instant::now();
    let system = seed(gateway, admin, args.guides).await?;
    eprintln!(
        "imported {} guides of 40 sections in {:.1} s",
        args.guides,
        seeding.elapsed().as_secs_f64()
    );

    println!(
        "| in flight | call | calls | failed | calls/s | p50 | p99 | ÷ echo (calls/s) | × echo (p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let load = Load::For(Duration::from_secs(args.seconds));
    let turn = Arc::new(AtomicUsize::new(0));
    for &in_flight in &args.concurrency {
        let echo = measure(in_flight, load, || {
            let mut health = HealthClient::new(gateway.clone());
            async move {
                health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|_| ())
            }
        })
        .await;
        print_row(in_flight, "health check (echo)", &echo, &echo);
        for (what, queries) in [
            ("SearchSections, words found", &QUERIES[..]),
            ("SearchSections, nothing found (kept)", &MISSING[..]),
        ] {
            let search = measure(in_flight, load, || {
                let mut client =
                    guides::search_service_client::SearchServiceClient::new(gateway.clone());
                let query = queries[turn.fetch_add(1, Ordering::Relaxed) % queries.len()];
                let request = with_bearer(
                    guides::SearchSectionsRequest {
                        query: query.into(),
                        system_id: String::new(),
                        limit: 10,
                    },
                    admin,
                );
                async move { client.search_sections(request).await.map(|_| ()) }
            })
            .await;
            print_row(in_flight, what, &search, &echo);
        }
        let suggest = measure(in_flight, load, || {
            let mut client =
                guides::search_service_client::SearchServiceClient::new(gateway.clone());
            let (title, description) = DRAFTS[turn.fetch_add(1, Ordering::Relaxed) % DRAFTS.len()];
            let request = with_bearer(
                guides::SuggestSectionsRequest {
                    title: title.into(),
                    description: description.into(),
                    system_id: system.clone(),
                    limit: 5,
                },
                admin,
            );
            async move { client.suggest_sections(request).await.map(|_| ()) }
        })
        .await;
        print_row(
            in_flight,
            "SuggestSections, one system (kept)",
            &suggest,
            &echo,
        );
    }
    suite.stop().await?;
    Ok(())
}

/// A system and `count` guides to it of 40 sections each, 8 chapters of 4 sections with 3 paragraphs;
/// the system's id.
async fn seed(gateway: &Channel, admin: &str, count: usize) -> Result<String, BoxError> {
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
        .ok_or("no system")?
        .system_id;
    let file = docx(&sample_sections(8, 4, 3));
    let mut client = guides::guide_service_client::GuideServiceClient::new(gateway.clone());
    for n in 1..=count {
        let options = guides::ImportGuideOptions {
            title: format!("Vejledning {n}"),
            system_id: system.clone(),
            audience: guides::Audience::Caseworkers as i32,
            file_name: format!("vejledning-{n}.docx"),
            ..Default::default()
        };
        let parts = [
            guides::ImportGuideRequest {
                part: Some(guides::import_guide_request::Part::Options(options)),
            },
            guides::ImportGuideRequest {
                part: Some(guides::import_guide_request::Part::Chunk(file.clone())),
            },
        ];
        client
            .import_guide(with_bearer(tokio_stream::iter(parts), admin))
            .await?;
    }
    Ok(system)
}
