//! The gateway binary (production: one per replica, in front of the services).

use std::sync::Arc;

use clap::Parser;
use kommune_gateway::GatewayConfig;
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::service::Addresses;

/// kommune gateway: verifies tokens and forwards gRPC calls to the services.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: GatewayConfig,
}

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Cli::parse().config;
    let _telemetry = kommune_platform::telemetry::init("kommune-gateway", &config.telemetry)?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    tracing::info!(addr = %config.listen_addr, "gateway listening");
    kommune_gateway::serve(
        listener,
        &Addresses::from_env(),
        config.auth.trusted_issuers()?,
        Arc::new(SystemClock),
        &config.server,
        &config.door,
        kommune_platform::server::shutdown_signal(),
    )
    .await
}
