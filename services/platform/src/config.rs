//! Typed configuration from flags and environment variables, with defaults that need nothing set.
//! Binaries flatten these `clap` structs; tests build them as plain values.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default, for developers).
    #[default]
    Text,
    /// One JSON object per line (for production log pipelines).
    Json,
}

/// Settings of logging and tracing. The OTLP endpoint is read from the standard
/// `OTEL_EXPORTER_OTLP_ENDPOINT` variable; log levels from `RUST_LOG`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TelemetryConfig {
    /// Log format: text or json.
    #[arg(long, env = "KOMMUNE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Settings every gRPC server shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Longest time a call may take to answer (a caller's shorter `grpc-timeout` wins); past it the
    /// call fails with DEADLINE_EXCEEDED.
    #[arg(long, env = "KOMMUNE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Calls served at once; calls beyond it are shed at once with UNAVAILABLE.
    #[arg(long, env = "KOMMUNE_CONCURRENCY_LIMIT", default_value_t = 1024)]
    pub concurrency_limit: usize,
    /// Connections served at once (kept below the open-file limit); more are closed when accepted.
    #[arg(long, env = "KOMMUNE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// How long a new connection may take to send its first call before it is closed.
    #[arg(long, env = "KOMMUNE_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,
    /// How long a connection may go without a call in progress before it is closed (GOAWAY; clients
    /// reconnect when they next call).
    #[arg(long, env = "KOMMUNE_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    pub idle_timeout_secs: u64,
    /// How often an HTTP/2 connection is pinged, so a peer that vanished is noticed.
    #[arg(long, env = "KOMMUNE_KEEPALIVE_INTERVAL_SECS", default_value_t = 60)]
    pub keepalive_interval_secs: u64,
    /// How long a ping's answer may take before the connection is closed.
    #[arg(long, env = "KOMMUNE_KEEPALIVE_TIMEOUT_SECS", default_value_t = 20)]
    pub keepalive_timeout_secs: u64,
    /// How often the service anchors the audit records written since its last checkpoint in its
    /// audit log and signs a new checkpoint.
    #[arg(long, env = "KOMMUNE_AUDIT_CHECKPOINT_SECS", default_value_t = 60)]
    pub audit_checkpoint_secs: u64,
    /// How long each kind of data is kept, overriding the defaults, comma-separated: `kind=days` for
    /// the kinds every service keeps, `service.kind=days` for a service's own (docs/privacy.md lists
    /// them all); one value can serve the whole suite.
    #[arg(long, env = "KOMMUNE_RETENTION", default_value = "")]
    pub retention: String,
    /// How often the service removes the data past its retention.
    #[arg(long, env = "KOMMUNE_RETENTION_SWEEP_SECS", default_value_t = 3600)]
    pub retention_sweep_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            concurrency_limit: 1024,
            max_connections: 10_000,
            handshake_timeout_ms: 10_000,
            idle_timeout_secs: 300,
            keepalive_interval_secs: 60,
            keepalive_timeout_secs: 20,
            audit_checkpoint_secs: 60,
            retention: String::new(),
            retention_sweep_secs: 3600,
        }
    }
}

impl ServerConfig {
    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How often retention sweeps.
    pub fn retention_sweep_interval(&self) -> Duration {
        Duration::from_secs(self.retention_sweep_secs.max(1))
    }

    /// How often audit checkpoints are signed.
    pub fn audit_checkpoint_interval(&self) -> Duration {
        Duration::from_secs(self.audit_checkpoint_secs.max(1))
    }
}

/// The configuration of one service binary.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceConfig {
    /// Address to serve gRPC on; defaults to the service's own loopback port.
    #[arg(long, env = "KOMMUNE_LISTEN_ADDR")]
    pub listen_addr: Option<SocketAddr>,
    /// Database URL (`postgres://…` or `sqlite://…`); defaults to a SQLite file under the data directory.
    #[arg(long, env = "KOMMUNE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for SQLite files and generated secrets in the embedded setup.
    #[arg(long, env = "KOMMUNE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The service's own service-account API key (a secret), for calls and feeds it makes on nobody's
    /// behalf. Where the other services serve is read from `KOMMUNE_<SERVICE>_ADDR`
    /// ([`crate::service::Addresses`]).
    #[arg(long, env = "KOMMUNE_SERVICE_API_KEY", hide_env_values = true)]
    pub service_api_key: Option<String>,
    /// Base64 of the 32-byte secret that seals the service's audit records and signs its audit
    /// checkpoints (a secret in production, never in the database).
    #[arg(long, env = "KOMMUNE_AUDIT_KEY", hide_env_values = true)]
    pub audit_key: Option<String>,
    /// Earlier audit keys after a rotation, comma-separated base64: they still verify what they
    /// sealed and signed.
    #[arg(
        long,
        env = "KOMMUNE_AUDIT_PREVIOUS_KEYS",
        hide_env_values = true,
        default_value = ""
    )]
    pub audit_previous_keys: String,
    /// Token verification settings.
    #[command(flatten)]
    pub auth: crate::auth::AuthConfig,
    /// Server settings.
    #[command(flatten)]
    pub server: ServerConfig,
    /// Telemetry settings.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl ServiceConfig {
    /// The listen address, or the service's default loopback port.
    pub fn listen_addr_or(&self, default_port: u16) -> SocketAddr {
        self.listen_addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)))
    }

    /// The database URL, or a SQLite file named after the service under the data directory.
    pub fn database_url_or_default(&self, service: &str) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.data_dir, service))
    }
}

/// The URL of a service's SQLite file under `data_dir`.
pub fn sqlite_url(data_dir: &std::path::Path, service: &str) -> String {
    format!("sqlite://{}/{service}.db?mode=rwc", data_dir.display())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        service: ServiceConfig,
    }

    #[test]
    fn defaults_need_nothing_set() {
        let config = Cli::try_parse_from(["kommune-identity"]).unwrap().service;
        assert_eq!(
            config.database_url_or_default("identity"),
            "sqlite://data/identity.db?mode=rwc"
        );
        assert_eq!(
            config.listen_addr_or(50052),
            SocketAddr::from(([127, 0, 0, 1], 50052))
        );
    }

    #[test]
    fn flags_override_defaults() {
        let config = Cli::try_parse_from([
            "kommune-identity",
            "--listen-addr",
            "0.0.0.0:50051",
            "--database-url",
            "postgres://db/identity",
            "--log-format",
            "json",
        ])
        .unwrap()
        .service;
        assert_eq!(config.listen_addr_or(1).port(), 50051);
        assert_eq!(
            config.database_url_or_default("identity"),
            "postgres://db/identity"
        );
        assert_eq!(config.telemetry.log_format, LogFormat::Json);
    }
}
