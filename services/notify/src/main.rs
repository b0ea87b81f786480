//! The notify service binary.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use kommune_notify::{DEFAULT_PORT, Notify, NotifyConfig, Options, SERVICE_NAME};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::config::ServiceConfig;

/// kommune notify: subscriptions, e-mail, webhooks, the inbox and the operational-message feed.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServiceConfig,
    #[command(flatten)]
    notify: NotifyConfig,
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
    let _telemetry = kommune_platform::telemetry::init("kommune-notify", &config.telemetry)?;
    let database_url = config.database_url_or_default(SERVICE_NAME);
    if let Some(Command::Migrate) = cli.command {
        kommune_platform::db::connect_and_migrate::<kommune_notify::migration::Migrator>(
            &database_url,
        )
        .await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let key = cli
        .notify
        .service_api_key
        .ok_or("KOMMUNE_SERVICE_API_KEY is required: notify reads the other services with it")?;
    let mut options = Options::new(
        database_url,
        config.identity_addr.clone(),
        key,
        Arc::new(SystemClock),
    );
    options.cases_addr = cli.notify.cases_addr;
    options.klik_addr = cli.notify.klik_addr;
    options.changes_addr = cli.notify.changes_addr;
    options.smtp_url = cli.notify.smtp_url;
    options.mail_drop_dir = cli.notify.mail_drop_dir;
    options.mail_from = cli.notify.mail_from;
    options.task_reminder_days = cli.notify.task_reminder_days;
    options.webhook_hosts = cli.notify.webhook_hosts;
    options.trusted_issuers = config.auth.trusted_issuers()?;
    let notify = Notify::build(options).await?;
    let addr = config.listen_addr_or(DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "notify listening");
    notify
        .serve(
            listener,
            &config.server,
            kommune_platform::server::shutdown_signal(),
        )
        .await
}
