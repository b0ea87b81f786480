//! The published change-request list at 100,000 change requests (issue #7's target): a filtered,
//! searched page, and the full CSV and XLSX exports with the peak memory one export takes.
//! On SQLite by default; on PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` names a server.

use std::sync::{Arc, LazyLock};

use peak_alloc::PeakAlloc;
use sea_orm::ConnectionTrait;
use tokio::runtime::Runtime;
use tokio_stream::StreamExt;

use kommune_changes::domain::publication;
use kommune_changes::registry::Registry;
use kommune_changes::store::publications::{self, Filter, Which, header, items};
use kommune_platform::clock::SystemClock;
use kommune_platform::paging::Page;
use kommune_proto::changes::v1::ExportFormat;

#[global_allocator]
static MEMORY: PeakAlloc = PeakAlloc;

const ROWS: i64 = 100_000;

const WORDS: [&str; 12] = [
    "debitorliste",
    "omregning",
    "forfaldsdato",
    "brevskabelon",
    "udbetaling",
    "journalisering",
    "rapport",
    "integration",
    "beløb",
    "afregning",
    "tilbagebetaling",
    "ydelsesperiode",
];

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("no runtime: {e}"))
});

/// A changes registry over a fresh database holding one publication of `ROWS` change requests.
static LIST: LazyLock<Arc<Registry>> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        let url = kommune_platform::testing::fresh_database_url("changes-bench").await;
        let db = kommune_platform::db::connect_and_migrate::<kommune_changes::migration::Migrator>(
            &url,
        )
        .await
        .unwrap_or_else(|e| panic!("no database: {e}"));
        let now = chrono::Utc::now();
        let rows = (0..ROWS).map(|n| {
            let title = format!(
                "Ønske {n}: {} ved {}",
                WORDS[n as usize % 12],
                WORDS[(n as usize / 12) % 12]
            );
            let description = format!(
                "Når sagsbehandleren arbejder med {} og {}, skal systemet kunne vise {} for perioden. \
                 Det gælder også {} i sag nummer {n}.",
                WORDS[(n as usize / 7) % 12],
                WORDS[(n as usize / 5) % 12],
                WORDS[(n as usize / 3) % 12],
                WORDS[(n as usize / 11) % 12]
            );
            items::Model {
                publication_id: "bench".into(),
                key: format!("KOMBITKY-{}", 10_000 + n),
                key_number: 10_000 + n,
                change_theme: format!("Tema {}", n % 8),
                subtheme: format!("Undertema {}", n % 24),
                search_text: publication::search_text(&title, &description),
                title,
                description,
                workaround: if n % 3 == 0 { "Manuel beregning i regneark".into() } else { String::new() },
                status: publication::status_cell(10 * (1 + n as i32 % 9), "Status"),
                municipality_name: format!("Kommune {}", n % 98),
                created: publication::created_cell(now),
                related_cases: format!("{n}:#KOMBITKY-{n}"),
                theme_id: format!("theme-{}", n % 8),
                subtheme_id: format!("subtheme-{}", n % 24),
                status_code: 10 * (1 + n as i32 % 9),
                municipality_id: format!("municipality-{}", n % 98),
            }
        });
        let publication = header::Model {
            id: "bench".into(),
            number: 1,
            note: "bench".into(),
            item_count: ROWS,
            published_by: "bench".into(),
            published_at: now,
        };
        let txn = kommune_platform::db::begin(&db).await.unwrap_or_else(|e| panic!("{e}"));
        publications::insert(&txn, publication, rows.collect())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
        // As autovacuum would soon after a publication: the planner learns the new rows.
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared("ANALYZE publication_items")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let identity = kommune_platform::client::channel("http://127.0.0.1:9")
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(Registry::new(
            db,
            Arc::new(SystemClock),
            kommune_platform::audit::AuditKeys::random(),
            "KOMBITKY".into(),
            identity,
        ))
    })
});

fn main() {
    LazyLock::force(&LIST);
    divan::main();
    for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
        MEMORY.reset_peak_usage();
        let before = MEMORY.current_usage();
        let bytes = export(format);
        let peak = MEMORY.peak_usage().saturating_sub(before);
        println!(
            "{format:?} export of {ROWS} rows: {:.1} MiB written, {:.1} MiB peak memory above the start",
            bytes as f64 / 1_048_576.0,
            peak as f64 / 1_048_576.0
        );
    }
}

/// Exports the whole publication, counting the bytes.
fn export(format: ExportFormat) -> usize {
    RUNTIME.block_on(async {
        let mut chunks = LIST
            .export(&Which::Latest, format)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = 0;
        while let Some(chunk) = chunks.next().await {
            bytes += chunk.unwrap_or_else(|e| panic!("{e}")).len();
        }
        bytes
    })
}

/// How many rows the first page of 50 holds under `filter`.
fn first_page(filter: &Filter) -> usize {
    RUNTIME.block_on(async {
        let page = Page {
            size: 50,
            after: None,
        };
        let (_, rows, _) = LIST
            .published(&Which::Latest, filter.clone(), &page)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        rows.len()
    })
}

/// A page of 50 rows of one theme and status, searched for two words.
#[divan::bench(sample_count = 30)]
fn filtered_searched_page(bencher: divan::Bencher) {
    let filter = Filter {
        theme_id: Some("theme-3".into()),
        status_code: Some(40),
        terms: publication::search_terms("Omregning FORFALDSDATO"),
        ..Filter::default()
    };
    assert!(first_page(&filter) > 0);
    bencher.bench(|| first_page(&filter));
}

/// A search for a word no row holds: every row of the publication is looked at.
#[divan::bench(sample_count = 30)]
fn searched_page_without_hits(bencher: divan::Bencher) {
    let filter = Filter {
        terms: publication::search_terms("vandmålerudskiftning"),
        ..Filter::default()
    };
    assert_eq!(first_page(&filter), 0);
    bencher.bench(|| first_page(&filter));
}

/// The full CSV export, streamed.
#[divan::bench(sample_count = 5)]
fn full_csv_export() -> usize {
    export(ExportFormat::Csv)
}

/// The full XLSX export, streamed.
#[divan::bench(sample_count = 3)]
fn full_xlsx_export() -> usize {
    export(ExportFormat::Xlsx)
}
