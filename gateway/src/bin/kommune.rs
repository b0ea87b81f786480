//! `kommune`: the whole suite in one process on SQLite under `./data`, for developers and evaluation.

use std::sync::Arc;

use clap::Parser;
use kommune_gateway::standalone::{self, StandaloneConfig};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;

/// kommune, all in one process: every service on its own loopback port and the gateway in front.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: StandaloneConfig,
}

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Cli::parse().config;
    let _telemetry = kommune_platform::telemetry::init("kommune", &config.telemetry)?;
    let running = standalone::start(&config, Arc::new(SystemClock)).await?;
    println!("{}", standalone::banner(&running));
    kommune_platform::server::shutdown_signal().await;
    running.stop().await
}
