//! The identity service binary.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use kommune_identity::registry::Policy;
use kommune_identity::{DEFAULT_PORT, Identity, IdentityConfig, Options, SERVICE_NAME};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;

/// kommune identity: municipalities, users, support eligibility, service accounts, API keys and tokens.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: IdentityConfig,
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
    let _telemetry =
        kommune_platform::telemetry::init("kommune-identity", &config.service.telemetry)?;
    let database_url = config.service.database_url_or_default(SERVICE_NAME);
    if let Some(Command::Migrate) = cli.command {
        kommune_platform::db::connect_and_migrate::<kommune_identity::migration::Migrator>(
            &database_url,
        )
        .await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let identity = Identity::build(Options {
        database_url,
        bootstrap_admin_key: config.bootstrap_admin_key.clone(),
        bootstrap_service_keys: config.bootstrap_service_keys.clone(),
        policy: Policy {
            token_ttl: chrono::Duration::seconds(config.token_ttl_secs),
            baseline_date: config.eligibility_baseline_date,
        },
        trusted_issuers: config.service.auth.trusted_issuers()?,
        clock: Arc::new(SystemClock),
    })
    .await?;
    if let Some(key) = identity.generated_admin_key() {
        // Shown once: the operator must store it (or configure KOMMUNE_BOOTSTRAP_ADMIN_KEY instead).
        eprintln!("bootstrap consortium-admin API key (shown once): {key}");
    }
    let addr = config.service.listen_addr_or(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "identity listening");
    identity
        .serve(
            listener,
            &config.service.server,
            kommune_platform::server::shutdown_signal(),
        )
        .await
}
