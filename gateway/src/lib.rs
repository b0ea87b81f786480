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
use kommune_platform::service::{Addresses, ServiceRole};

pub mod connect;
pub mod proxy;
pub mod standalone;

/// The gateway's default port.
pub const DEFAULT_PORT: u16 = 50051;
/// How often upstream health is checked.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// The gateway's configuration. Where each service serves is read from `KOMMUNE_<SERVICE>_ADDR` for
/// every [`ServiceRole`] ([`Addresses::from_env`]); a service without an address is not routed.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayConfig {
    /// Address to serve on.
    #[arg(long, env = "KOMMUNE_LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen_addr: SocketAddr,
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

/// The health-check name under which the gateway reports an upstream as a whole, e.g.
/// `kommune.identity.v1`; each of its gRPC services is reported under its full name too.
pub fn upstream_health_name(role: ServiceRole) -> String {
    role.package()
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    upstreams: &Addresses,
    trusted_issuers: Vec<TrustedIssuer>,
    clock: SharedClock,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    let verifier = TokenVerifier::remote(upstreams.identity()?, clock, trusted_issuers);
    let routes = upstreams
        .iter()
        .map(|(role, addr)| Ok((role.name().to_owned(), addr.parse()?)))
        .collect::<Result<HashMap<String, Uri>, BoxError>>()?;
    let server = GrpcServer::new().with_front(connect::front()?);
    let health = server.health_reporter();
    let watcher = tokio::spawn(watch_upstreams(health, upstreams.clone()));
    let result = server
        .serve(
            listener,
            verifier,
            config,
            Some(proxy::Proxy::new(routes)),
            shutdown,
        )
        .await;
    watcher.abort();
    result
}

/// Reports each upstream's own overall health under [`upstream_health_name`], and its health for each
/// of its gRPC services under the service's full name, as the upstream itself reports them.
async fn watch_upstreams(health: HealthReporter, upstreams: Addresses) {
    let mut clients: Vec<_> = upstreams
        .iter()
        .filter_map(|(role, addr)| {
            let endpoint = tonic::transport::Endpoint::from_shared(addr.to_owned()).ok()?;
            let channel = endpoint
                .connect_timeout(HEALTH_INTERVAL)
                .timeout(HEALTH_INTERVAL)
                .connect_lazy();
            let names: Vec<(String, String)> =
                std::iter::once((upstream_health_name(role), String::new()))
                    .chain(
                        role.grpc_services()
                            .map(|name| (name.to_owned(), name.to_owned())),
                    )
                    .collect();
            Some((names, HealthClient::new(channel)))
        })
        .collect();
    loop {
        for (names, client) in &mut clients {
            for (reported, asked) in names.iter() {
                let response = client
                    .check(HealthCheckRequest {
                        service: asked.clone(),
                    })
                    .await;
                let serving =
                    response.is_ok_and(|r| r.into_inner().status == WireStatus::Serving as i32);
                let status = if serving {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                health.set_service_status(reported.as_str(), status).await;
            }
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}
