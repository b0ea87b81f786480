//! The harnesses' shared measuring (`src/main.rs`, the load harness; `src/bin/site.rs`, the operations
//! site's pages), and the benchmarks in `benches/`: see `docs/benchmarks.md`. Run the benchmarks with
//! `cargo bench -p kommune-bench`.

pub mod desk;
pub mod pgbench;

use std::future::Future;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// A rate no harness reaches.
pub const UNLIMITED: kommune_gateway::limits::Rate = kommune_gateway::limits::Rate {
    per_second: NonZeroU32::MAX,
    burst: NonZeroU32::MAX,
};

/// The standalone suite started for a harness: every service in one process, SQLite in a temporary
/// directory, rates unlimited.
pub struct StartedSuite {
    /// The running suite.
    pub running: kommune_gateway::standalone::Running,
    /// A channel to its gateway.
    pub gateway: tonic::transport::Channel,
    /// The bootstrap admin's token.
    pub admin: String,
    data: std::path::PathBuf,
}

/// The standalone suite's settings, as `kommune` takes them.
#[derive(clap::Parser)]
struct Standalone {
    #[command(flatten)]
    config: kommune_gateway::standalone::StandaloneConfig,
}

impl StartedSuite {
    /// Starts the suite with its data under a new temporary directory named after `harness`.
    pub async fn start(harness: &str) -> Result<Self, kommune_platform::BoxError> {
        use clap::Parser as _;
        let data =
            std::env::temp_dir().join(format!("kommune-{harness}-bench-{}", uuid::Uuid::new_v4()));
        let mut config = Standalone::parse_from([
            "kommune",
            "--listen-addr",
            "127.0.0.1:0",
            "--data-dir",
            &data.to_string_lossy(),
        ])
        .config;
        config.door.rate_people = UNLIMITED;
        config.door.rate_services = UNLIMITED;
        config.door.rate_public = UNLIMITED;
        let running = kommune_gateway::standalone::start(
            &config,
            std::sync::Arc::new(kommune_platform::clock::SystemClock),
        )
        .await?;
        let key_file = running
            .admin_key_file
            .clone()
            .ok_or("the suite made no admin key")?;
        let gateway =
            tonic::transport::Channel::from_shared(format!("http://{}", running.gateway_addr))?
                .connect()
                .await?;
        let admin = kommune_platform::testing::exchange(
            &gateway,
            std::fs::read_to_string(key_file)?.trim(),
        )
        .await;
        Ok(Self {
            running,
            gateway,
            admin,
            data,
        })
    }

    /// Stops the suite and removes its data.
    pub async fn stop(self) -> Result<(), kommune_platform::BoxError> {
        self.running.stop().await?;
        let _ = std::fs::remove_dir_all(&self.data);
        Ok(())
    }
}

/// How long a measurement runs.
#[derive(Clone, Copy)]
pub enum Load {
    /// For a while.
    For(Duration),
    /// For a number of calls.
    Calls(usize),
}

/// What a measurement saw.
#[derive(Clone, Default)]
pub struct Row {
    /// Calls answered.
    pub calls: usize,
    /// Calls that failed.
    pub failed: usize,
    /// How long it ran.
    pub elapsed: Duration,
    /// The median latency.
    pub p50: Duration,
    /// The 99th percentile latency.
    pub p99: Duration,
}

impl Row {
    /// Calls answered per second.
    pub fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `call` with `in_flight` calls at a time until the load is done.
pub async fn measure<F, Fut, E>(in_flight: usize, load: Load, call: F) -> Row
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    let started = Instant::now();
    let issued = std::sync::atomic::AtomicUsize::new(0);
    let more = || match load {
        Load::For(duration) => started.elapsed() < duration,
        Load::Calls(calls) => issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls,
    };
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < in_flight && more() {
            let call = call();
            running.spawn(async move {
                let sent = Instant::now();
                let result = call.await;
                (sent.elapsed(), result.err())
            });
        }
        match running.join_next().await {
            Some(Ok((latency, error))) => {
                latencies.push(latency);
                if let Some(error) = error {
                    // The first failure says why; the count says how often.
                    if failed == 0 {
                        eprintln!("a call failed: {error:?}");
                    }
                    failed += 1;
                }
            }
            Some(Err(_)) => failed += 1,
            None => break,
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Row {
        calls: latencies.len(),
        failed,
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Prints a Markdown table row: calls, failures, calls/s, p50, p99, and the ratios to `echo`.
pub fn print_row(in_flight: usize, what: &str, row: &Row, echo: &Row) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {in_flight} | {what} | {} | {} | {:.0} | {:.0} µs | {:.0} µs | {:.2} | {:.1} |",
        row.calls,
        row.failed,
        row.per_second(),
        micros(row.p50),
        micros(row.p99),
        row.per_second() / echo.per_second(),
        micros(row.p50) / micros(echo.p50).max(1e-3),
    );
}
