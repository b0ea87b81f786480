//! kommune-gateway: the one door for other systems. It verifies every call's token (except RPCs marked
//! public), starts the trace, and forwards the call by its path to the owning service; its own health
//! reports each upstream. The crate also holds the all-in-one `kommune` binary ([`standalone`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use kommune_platform::BoxError;

use crate::limits::Rate;
use kommune_platform::auth::{AuthConfig, TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::{ServerConfig, TelemetryConfig};
use kommune_platform::server::{Behind, Front, GrpcServer, TRACE_ID_HEADER};
use kommune_platform::service::{Addresses, ServiceRole};

pub mod connect;
pub mod limits;
pub mod openapi;
pub mod plain;
pub mod proxy;
pub mod reference;
pub mod site;
pub mod standalone;
pub mod upstream;

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
    /// What the door accepts besides gRPC.
    #[command(flatten)]
    pub door: DoorConfig,
    /// Telemetry settings.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

/// What the door accepts besides gRPC: JSON (Connect) and gRPC-Web always; browsers of other origins
/// only from those listed.
#[derive(Debug, Clone, clap::Args)]
pub struct DoorConfig {
    /// Web origins whose browser applications may call (CORS), comma-separated, e.g.
    /// `https://selvbetjening.aarhus.dk`; none by default.
    #[arg(long, env = "KOMMUNE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The address clients reach the door at, as the OpenAPI document names its server, e.g.
    /// `https://api.kommune.dk`; the document's own origin by default.
    #[arg(long, env = "KOMMUNE_PUBLIC_URL", default_value = "/")]
    pub public_url: String,
    /// The rate of each service account (`ROLE_SERVICE`) on this replica: calls per second/burst.
    #[arg(long, env = "KOMMUNE_RATE_SERVICES", default_value = DEFAULT_RATE_SERVICES)]
    pub rate_services: Rate,
    /// The rate of each other principal (people, admin accounts) on this replica.
    #[arg(long, env = "KOMMUNE_RATE_PEOPLE", default_value = DEFAULT_RATE_PEOPLE)]
    pub rate_people: Rate,
    /// The rate of public RPCs per client address on this replica.
    #[arg(long, env = "KOMMUNE_RATE_PUBLIC", default_value = DEFAULT_RATE_PUBLIC)]
    pub rate_public: Rate,
}

const DEFAULT_RATE_SERVICES: &str = "1000/2000";
const DEFAULT_RATE_PEOPLE: &str = "100/400";
const DEFAULT_RATE_PUBLIC: &str = "50/200";

impl Default for DoorConfig {
    fn default() -> Self {
        let rate = |text: &str| text.parse().unwrap_or_else(|err| panic!("{err}"));
        Self {
            cors_origins: Vec::new(),
            public_url: "/".to_owned(),
            rate_services: rate(DEFAULT_RATE_SERVICES),
            rate_people: rate(DEFAULT_RATE_PEOPLE),
            rate_public: rate(DEFAULT_RATE_PUBLIC),
        }
    }
}

/// The headers a browser may send and read, besides the CORS-safelisted ones.
const BROWSER_REQUEST_HEADERS: [&str; 8] = [
    "authorization",
    "content-type",
    "traceparent",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "connect-protocol-version",
    "connect-timeout-ms",
];
const BROWSER_RESPONSE_HEADERS: [&str; 4] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    TRACE_ID_HEADER,
];

/// The door's front: CORS for the configured origins, the plain HTTP pages (health, OpenAPI), the
/// operations site, then Connect's JSON, then gRPC-Web, each turning its calls into gRPC for the gateway's layers.
fn front(door: &DoorConfig, upstreams: Vec<String>) -> Result<Front, BoxError> {
    let pool = prost_reflect::DescriptorPool::decode(kommune_proto::FILE_DESCRIPTOR_SET)?;
    let origins = door
        .cors_origins
        .iter()
        .map(|origin| HeaderValue::from_str(origin.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(BROWSER_REQUEST_HEADERS.map(HeaderName::from_static))
        .expose_headers(BROWSER_RESPONSE_HEADERS.map(HeaderName::from_static))
        .max_age(Duration::from_secs(3600));
    let document = openapi::document(&pool, kommune_proto::PUBLIC_METHODS, &door.public_url);
    let pages = plain::Pages {
        openapi: bytes::Bytes::from(document.to_string()),
        reference: bytes::Bytes::from(reference::page(&document)?),
        schemas: Arc::new(
            document["components"]["schemas"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        public_url: door.public_url.as_str().into(),
    };
    let assets = Arc::new(site::Assets::load(&door.public_url)?);
    let upstreams = Arc::new(upstreams);
    Ok(Front::new(move |behind| {
        let web = Behind::new(tonic_web::GrpcWebLayer::new().layer(behind.clone()));
        let json = connect::Connect::new(web, pool.clone());
        let site = site::Site::new(json, behind.clone(), assets.clone());
        let plain = plain::Plain::new(site, behind, upstreams.clone(), pages.clone());
        Behind::new(cors.layer(plain))
    }))
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
    door: &DoorConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    let verifier = TokenVerifier::remote(upstreams.identity()?, clock, trusted_issuers);
    let watched = upstreams
        .iter()
        .map(|(role, addr)| Ok((role, Arc::new(upstream::Upstream::parse(addr)?))))
        .collect::<Result<Vec<_>, BoxError>>()?;
    let routes: HashMap<String, Arc<upstream::Upstream>> = watched
        .iter()
        .map(|(role, upstream)| (role.name().to_owned(), upstream.clone()))
        .collect();
    let health_names = upstreams
        .iter()
        .map(|(role, _)| upstream_health_name(role))
        .collect();
    let server = GrpcServer::new().with_front(front(door, health_names)?);
    let health = server.health_reporter();
    let watcher = tokio::spawn(watch_upstreams(health, watched));
    let limits = limits::Limits::new(door.rate_services, door.rate_people, door.rate_public);
    let forgetting = tokio::spawn({
        let limits = limits.clone();
        async move {
            let mut every = tokio::time::interval(limits::FORGET_IDLE_EVERY);
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        }
    });
    let result = server
        .serve(
            listener,
            verifier,
            config,
            Some(proxy::Proxy::new(routes).with_limits(limits.clone())),
            shutdown,
        )
        .await;
    watcher.abort();
    forgetting.abort();
    result
}

/// Keeps each upstream's replicas current (names resolved again every [`upstream::RESOLVE_EVERY`]) and
/// checks each replica's health: a replica failing its check takes no calls. Reports an upstream under
/// [`upstream_health_name`] as serving while any replica is in service, and each of its gRPC services
/// under the service's full name as a replica in service reports it.
async fn watch_upstreams(
    health: HealthReporter,
    upstreams: Vec<(ServiceRole, Arc<upstream::Upstream>)>,
) {
    let mut clients: HashMap<Uri, HealthClient<tonic::transport::Channel>> = HashMap::new();
    let mut resolved: Option<tokio::time::Instant> = None;
    loop {
        if resolved.is_none_or(|at| at.elapsed() >= upstream::RESOLVE_EVERY) {
            for (_, upstream) in &upstreams {
                upstream.resolve().await;
            }
            resolved = Some(tokio::time::Instant::now());
        }
        for (role, upstream) in &upstreams {
            let replicas = upstream.replicas();
            for replica in replicas.iter() {
                let Some(client) = health_client(&mut clients, &replica.base) else {
                    continue;
                };
                replica.set_healthy(check(client, "").await);
            }
            let in_service = replicas.iter().find(|replica| replica.in_service());
            let report = |serving: bool| {
                if serving {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                }
            };
            health
                .set_service_status(&upstream_health_name(*role), report(in_service.is_some()))
                .await;
            for name in role.grpc_services() {
                let serving = match in_service.and_then(|r| health_client(&mut clients, &r.base)) {
                    Some(client) => check(client, name).await,
                    None => false,
                };
                health.set_service_status(name, report(serving)).await;
            }
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}

/// The health client of the replica at `base`, made once.
fn health_client<'a>(
    clients: &'a mut HashMap<Uri, HealthClient<tonic::transport::Channel>>,
    base: &Uri,
) -> Option<&'a mut HealthClient<tonic::transport::Channel>> {
    if !clients.contains_key(base) {
        let channel = tonic::transport::Endpoint::from_shared(base.to_string())
            .ok()?
            .connect_timeout(HEALTH_INTERVAL)
            .timeout(HEALTH_INTERVAL)
            .connect_lazy();
        clients.insert(base.clone(), HealthClient::new(channel));
    }
    clients.get_mut(base)
}

/// Whether a replica reports `service` (`""`: itself) as serving.
async fn check(client: &mut HealthClient<tonic::transport::Channel>, service: &str) -> bool {
    client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == WireStatus::Serving as i32)
}
