//! The cases service binary.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use kommune_cases::{Cases, CasesConfig, DEFAULT_PORT, Options, SERVICE_NAME};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::config::ServiceConfig;

/// kommune cases: support cases, their reference data and comments.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServiceConfig,
    #[command(flatten)]
    cases: CasesConfig,
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
    let _telemetry = kommune_platform::telemetry::init("kommune-cases", &config.telemetry)?;
    let database_url = config.database_url_or_default(SERVICE_NAME);
    if let Some(Command::Migrate) = cli.command {
        kommune_platform::db::connect_and_migrate::<kommune_cases::migration::Migrator>(
            &database_url,
        )
        .await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let key = cli
        .cases
        .personal_id_key
        .ok_or("KOMMUNE_CASES_PERSONAL_ID_KEY is required: base64 of 32 random bytes")?;
    let mut options = Options::new(
        database_url,
        config.identity_addr.clone(),
        key,
        Arc::new(SystemClock),
    );
    options.reopen_window = chrono::Duration::days(cli.cases.reopen_days);
    options.incident_follow_up = chrono::Duration::minutes(cli.cases.incident_follow_up_minutes);
    options.trusted_issuers = config.auth.trusted_issuers()?;
    options.service_api_key = cli.cases.service_api_key;
    options.changes_addr = cli.cases.changes_addr;
    let cases = Cases::build(options).await?;
    let addr = config.listen_addr_or(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "cases listening");
    cases
        .serve(
            listener,
            &config.server,
            kommune_platform::server::shutdown_signal(),
        )
        .await
}
