//! kommune-gateway: the one door for other systems. It verifies every call's token (except RPCs marked
//! public), starts the trace, and forwards the call by its path to the owning service; its own health
//! reports each upstream. The crate also holds the all-in-one `kommune` binary ([`standalone`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use http::Uri;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;

use kommune_platform::BoxError;
use kommune_platform::auth::{AuthConfig, TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::{ServerConfig, TelemetryConfig};
use kommune_platform::server::GrpcServer;

pub mod proxy;
pub mod standalone;

/// The gateway's default port.
pub const DEFAULT_PORT: u16 = 50051;
/// How often upstream health is checked.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// The gateway's configuration: its address and each service's. A service without an address is not
/// routed; more services join by setting `KOMMUNE_<SERVICE>_ADDR`.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayConfig {
    /// Address to serve on.
    #[arg(long, env = "KOMMUNE_LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen_addr: SocketAddr,
    /// Identity's address (also where token keys come from).
    #[arg(
        long,
        env = "KOMMUNE_IDENTITY_ADDR",
        default_value = "http://127.0.0.1:50052"
    )]
    pub identity_addr: String,
    /// The cases service's address; it is not routed when unset.
    #[arg(long, env = "KOMMUNE_CASES_ADDR")]
    pub cases_addr: Option<String>,
    /// The changes service's address; it is not routed when unset.
    #[arg(long, env = "KOMMUNE_CHANGES_ADDR")]
    pub changes_addr: Option<String>,
    /// klik's address; klik is not routed when unset.
    #[arg(long, env = "KOMMUNE_KLIK_ADDR")]
    pub klik_addr: Option<String>,
    /// The notify service's address; it is not routed when unset.
    #[arg(long, env = "KOMMUNE_NOTIFY_ADDR")]
    pub notify_addr: Option<String>,
    /// Token verification settings.
    #[command(flatten)]
    pub auth: AuthConfig,
    /// Server settings.
    #[command(flatten)]
    pub server: ServerConfig,
    /// Telemetry settings.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl GatewayConfig {
    /// The services to route to, by name.
    pub fn upstreams(&self) -> Result<HashMap<String, Uri>, BoxError> {
        let mut upstreams = HashMap::new();
        upstreams.insert("identity".to_owned(), self.identity_addr.parse()?);
        for (service, addr) in [
            ("cases", &self.cases_addr),
            ("changes", &self.changes_addr),
            ("klik", &self.klik_addr),
            ("notify", &self.notify_addr),
        ] {
            if let Some(addr) = addr {
                upstreams.insert(service.to_owned(), addr.parse()?);
            }
        }
        Ok(upstreams)
    }
}

/// The health-check name under which the gateway reports an upstream, e.g. `kommune.identity.v1`.
pub fn upstream_health_name(service: &str) -> String {
    format!("kommune.{service}.v1")
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    upstreams: HashMap<String, Uri>,
    identity_addr: &str,
    trusted_issuers: Vec<TrustedIssuer>,
    clock: SharedClock,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    let verifier = TokenVerifier::remote(identity_addr, clock, trusted_issuers);
    let server = GrpcServer::new();
    let health = server.health_reporter();
    let watcher = tokio::spawn(watch_upstreams(health, upstreams.clone()));
    let result = server
        .serve(
            listener,
            verifier,
            config,
            Some(proxy::Proxy::new(upstreams)),
            shutdown,
        )
        .await;
    watcher.abort();
    result
}

/// Reports each upstream's own overall health under [`upstream_health_name`].
async fn watch_upstreams(health: HealthReporter, upstreams: HashMap<String, Uri>) {
    let mut clients: Vec<_> = upstreams
        .into_iter()
        .map(|(service, uri)| {
            let channel = tonic::transport::Endpoint::from(uri)
                .connect_timeout(HEALTH_INTERVAL)
                .timeout(HEALTH_INTERVAL)
                .connect_lazy();
            (upstream_health_name(&service), HealthClient::new(channel))
        })
        .collect();
    loop {
        for (name, client) in &mut clients {
            let response = client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            let serving =
                response.is_ok_and(|r| r.into_inner().status == WireStatus::Serving as i32);
            let status = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health.set_service_status(name.as_str(), status).await;
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}
