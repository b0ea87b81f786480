//! The server every kommune process runs: its gRPC services plus grpc.health.v1 and reflection, behind
//! one stack of layers (trace context and RED metrics, deadlines, load shedding, authentication), on
//! connections taken as `connections` says, with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::{KeyValue, global};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic::{Code, Status};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::{Layer, Service, ServiceBuilder};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::BoxError;
use crate::auth::{Caller, TokenVerifier, bearer_token};
use crate::config::ServerConfig;

mod connections;
mod deadline;
mod front;
use crate::error::Reason;
use deadline::DeadlineLayer;
pub use deadline::remaining_deadline;
pub use front::{Behind, Front};

/// Response header carrying the trace id of the call.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A gRPC server under construction: add the process's services, then [`GrpcServer::serve`].
pub struct GrpcServer {
    routes: RoutesBuilder,
    served: Vec<&'static str>,
    health: HealthReporter,
    front: Option<Front>,
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcServer {
    /// A server with health and reflection only.
    pub fn new() -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Self {
            routes,
            served: Vec::new(),
            health,
            front: None,
        }
    }

    /// Puts `front` before the layers, and accepts HTTP/1.1 besides HTTP/2 (the gateway: JSON and
    /// gRPC-Web clients).
    pub fn with_front(mut self, front: Front) -> Self {
        self.front = Some(front);
        self
    }

    /// Adds a service; its health is reported under its full name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.served.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// The health reporter, to report more than the process's own services (the gateway's upstreams).
    pub fn health_reporter(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight calls.
    /// `fallback` answers calls to any service not added (the gateway's proxy).
    pub async fn serve<F>(
        self,
        listener: TcpListener,
        verifier: Arc<TokenVerifier>,
        config: &ServerConfig,
        fallback: Option<F>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError>
    where
        F: Service<
                Request<axum::body::Body>,
                Response = Response<axum::body::Body>,
                Error = Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        F::Future: Send + 'static,
    {
        let mut reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(kommune_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        let mut reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(kommune_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        if fallback.is_none() {
            // Advertise only what this process serves; the gateway advertises the whole suite.
            for name in self.served.iter().chain([&"grpc.health.v1.Health"]) {
                reflection = reflection.with_service_name(*name);
                reflection_alpha = reflection_alpha.with_service_name(*name);
            }
        }
        let mut routes = self.routes;
        routes.add_service(reflection.build_v1()?);
        routes.add_service(reflection_alpha.build_v1alpha()?);
        let routes = match fallback {
            Some(fallback) => Routes::from(
                routes
                    .routes()
                    .into_axum_router()
                    .fallback_service(fallback),
            ),
            None => routes.routes(),
        };

        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
        for name in &self.served {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let health = self.health.clone();
        let served = self.served.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight calls");
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            for name in served {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
        };

        let accept_http1 = self.front.is_some();
        let service = ServiceBuilder::new()
            .layer(self.front.unwrap_or_else(Front::none))
            .layer(ObserveLayer::new())
            .layer(DeadlineLayer {
                cap: config.request_timeout(),
            })
            .layer(ShedLayer::new(config.concurrency_limit))
            .layer(AuthLayer { verifier })
            .service(routes.prepare());
        connections::serve(listener, service, config, accept_http1, shutdown).await
    }
}

/// No fallback: the server answers UNIMPLEMENTED for services it does not have.
pub type NoFallback = tower::util::BoxCloneSyncService<
    Request<axum::body::Body>,
    Response<axum::body::Body>,
    Infallible,
>;

/// Completes on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The `/package.Service` and `Method` of a gRPC path.
fn split_path(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.rsplit_once('/').unwrap_or((path, ""))
}

/// The gRPC status in a header or trailer map, if any.
fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// The status of a trailers-only response (errors, rejections); `None` when it comes in trailers.
fn header_status<B>(response: &Response<B>) -> Option<Code> {
    status_in(response.headers())
}

/// What tonic says when a request's message is larger than the server accepts.
const TOO_LARGE: &str = "Error, decoded message length too large";
/// What tonic says when a request's bytes are no message of its type.
const UNDECODABLE: &str = "failed to decode Protobuf message";

/// Gives the caller's faults the codes gRPC's convention has for them: tonic answers a message over
/// the size limit `OUT_OF_RANGE` and bytes that decode to no message `INTERNAL`; they are
/// `RESOURCE_EXHAUSTED` and `INVALID_ARGUMENT` (retrying will not help, and nothing failed inside).
fn conventional_status(headers: &mut HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let code = match status.code() {
        Code::OutOfRange if status.message().starts_with(TOO_LARGE) => Code::ResourceExhausted,
        Code::Internal if status.message().starts_with(UNDECODABLE) => Code::InvalidArgument,
        _ => return,
    };
    let _ = Status::new(code, status.message()).add_header(headers);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(key),
            http::HeaderValue::try_from(value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the W3C trace context (`traceparent`) in incoming `headers`, if any.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    let _ = span.set_parent(parent);
}

/// Writes the current span's W3C trace context (`traceparent`) into outgoing headers.
pub fn inject_trace_context(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// RED metrics of every RPC: a request counter and a duration histogram, both by service,
/// method and gRPC status code.
#[derive(Clone)]
struct RpcMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

#[derive(Clone)]
struct ObserveLayer {
    metrics: RpcMetrics,
}

impl ObserveLayer {
    fn new() -> Self {
        Self::with_meter(&global::meter("kommune"))
    }

    fn with_meter(meter: &opentelemetry::metrics::Meter) -> Self {
        let metrics = RpcMetrics {
            requests: meter
                .u64_counter("rpc.server.requests")
                .with_description("RPCs served, by service, method and gRPC status code")
                .build(),
            duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("s")
                .with_description("Time to the response headers of each RPC")
                .build(),
        };
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Starts a server span as a child of the caller's `traceparent` and records RED metrics.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: RpcMetrics,
}

impl<S, B, R> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (service, method) = split_path(request.uri().path());
        let (service, method) = (service.to_owned(), method.to_owned());
        let span = tracing::info_span!(
            "grpc",
            otel.name = %format!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            subject = tracing::field::Empty,
        );
        continue_trace(&span, request.headers());
        let trace_id = opentelemetry::trace::TraceContextExt::span(&span.context())
            .span_context()
            .trace_id();
        span.record("trace_id", tracing::field::display(trace_id));

        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let call = CallEnd {
            metrics: self.metrics.clone(),
            service,
            method,
            started: Instant::now(),
            span: span.clone(),
        };
        Box::pin(
            async move {
                let mut response = inner.call(request).await?;
                // The innermost server's id wins, so a caller sees the id its call was traced under
                // and can quote it to support.
                if trace_id != opentelemetry::trace::TraceId::INVALID
                    && let Ok(value) = http::HeaderValue::from_str(&trace_id.to_string())
                {
                    response
                        .headers_mut()
                        .entry(TRACE_ID_HEADER)
                        .or_insert(value);
                }
                conventional_status(response.headers_mut());
                // Errors come as trailers-only responses with the status in the headers; every other
                // call ends with trailers, read when the body ends.
                let call = match header_status(&response) {
                    Some(code) => {
                        call.record(code);
                        None
                    }
                    None => Some(call),
                };
                Ok(response.map(|inner| ObservedBody { inner, call }))
            }
            .instrument(span),
        )
    }
}

/// What is needed to record a call when it ends.
#[derive(Clone)]
struct CallEnd {
    metrics: RpcMetrics,
    service: String,
    method: String,
    started: Instant,
    span: tracing::Span,
}

impl CallEnd {
    fn record(self, code: Code) {
        let _entered = self.span.enter();
        self.span.record("rpc.grpc.status_code", code as i32);
        if matches!(code, Code::Internal | Code::Unknown | Code::DataLoss) {
            tracing::warn!(code = ?code, "rpc failed");
        } else {
            tracing::debug!(code = ?code, "rpc served");
        }
        let attributes = [
            KeyValue::new("rpc.service", self.service),
            KeyValue::new("rpc.method", self.method),
            KeyValue::new("rpc.grpc.status_code", code as i64),
        ];
        self.metrics.requests.add(1, &attributes);
        self.metrics
            .duration
            .record(self.started.elapsed().as_secs_f64(), &attributes);
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call's RED metrics when the call ends: at the trailers, at
    /// the end of the body, or, when the client goes away first, as CANCELLED.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<CallEnd>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(call) = this.project().call.take() {
                call.record(Code::Cancelled);
            }
        }
    }
}

impl<B: http_body::Body> http_body::Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|trailers| status_in(trailers).unwrap_or(Code::Unknown)),
            Poll::Ready(Some(Err(_))) => Some(Code::Internal),
            Poll::Ready(None) => Some(Code::Ok),
            Poll::Pending => None,
        };
        if let Some(code) = ended
            && let Some(call) = this.call.take()
        {
            call.record(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Clone)]
struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// Serves at most the configured number of calls at once and answers the rest UNAVAILABLE at once,
/// so an overloaded replica fails fast and clients retry elsewhere.
#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B, R> Service<Request<B>> for Shed<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!("shedding load: concurrency limit reached");
            return Box::pin(async {
                Ok(crate::error::status(
                    Code::Unavailable,
                    Reason::Overloaded,
                    "server overloaded; retry",
                )
                .into_http())
            });
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

#[derive(Clone)]
struct AuthLayer {
    verifier: Arc<TokenVerifier>,
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// Verifies the bearer token of every call except public RPCs, health and reflection, refuses a caller
/// without a role the RPC admits, and puts the [`Caller`] into the request's extensions.
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
}

/// Whether a call to `path` needs no token.
pub fn is_open_path(path: &str) -> bool {
    kommune_proto::is_public_method(path)
        || path.starts_with("/grpc.health.")
        || path.starts_with("/grpc.reflection.")
}

impl<S, B, R> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if is_open_path(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let token = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .map(str::to_owned);
            let caller: Result<Caller, Status> = match token {
                None => Err(crate::error::status(
                    Code::Unauthenticated,
                    Reason::Unauthenticated,
                    "missing bearer token",
                )),
                Some(token) => verifier.verify(&token).await.map_err(Status::from),
            };
            // Refused before the handler reads the request: a caller the RPC never admits learns
            // nothing from how its request would have been validated.
            let caller = caller.and_then(|caller| {
                caller
                    .require_admitted(request.uri().path())
                    .map_err(Status::from)
                    .map(|()| caller)
            });
            match caller {
                Ok(caller) => {
                    tracing::Span::current().record("subject", caller.subject.as_str());
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
