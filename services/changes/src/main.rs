//! The changes service binary.

use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kommune_changes::domain::DEFAULT_KEY_PREFIX;
use kommune_changes::{
    Changes, DEFAULT_PORT, DEFAULT_TIMELINE_SWEEP_INTERVAL, Options, SERVICE_NAME,
};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::config::ServiceConfig;

/// kommune changes: change requests and the 42-week release timeline.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServiceConfig,
    /// The prefix of new change requests' keys.
    #[arg(long, env = "KOMMUNE_CHANGES_KEY_PREFIX", default_value = DEFAULT_KEY_PREFIX)]
    key_prefix: String,
    /// How often (in seconds) releases' change requests are moved on along their timelines.
    #[arg(long, env = "KOMMUNE_CHANGES_TIMELINE_SWEEP_SECS", default_value_t = DEFAULT_TIMELINE_SWEEP_INTERVAL.as_secs())]
    timeline_sweep_secs: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    let config = cli.config;
    let _telemetry = kommune_platform::telemetry::init("kommune-changes", &config.telemetry)?;
    let database_url = config.database_url_or_default(SERVICE_NAME);
    if let Some(Command::Migrate) = cli.command {
        kommune_platform::db::connect_and_migrate::<kommune_changes::migration::Migrator>(
            &database_url,
        )
        .await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let changes = Changes::build(Options {
        database_url,
        identity_addr: config.identity_addr.clone(),
        key_prefix: cli.key_prefix,
        trusted_issuers: config.auth.trusted_issuers()?,
        clock: Arc::new(SystemClock),
        timeline_sweep_interval: Duration::from_secs(cli.timeline_sweep_secs),
    })
    .await?;
    let addr = config.listen_addr_or(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "changes listening");
    changes
        .serve(
            listener,
            &config.server,
            kommune_platform::server::shutdown_signal(),
        )
        .await
}
