//! Forwarding by path: `/kommune.<service>.v1.X/Method` goes to `<service>`'s address, frames as they
//! are, with no per-RPC code, to a replica in service (`upstream`). A service none of whose replicas
//! is in service (reachable, passing its health checks, not ejected) is answered UNAVAILABLE (with
//! `RetryInfo`) at once, so callers do not wait on a hung service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::{Code, Status};
use tower::Service;

use kommune_platform::Reason;

use crate::limits::Limits;
use crate::upstream::{Replica, Upstream};
use kommune_platform::error::status;
use kommune_platform::server::inject_trace_context;

/// How long connecting to a service may take before the call fails UNAVAILABLE.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The service a gRPC path belongs to: `identity` for `/kommune.identity.v1.UserService/GetUser`.
pub fn owning_service(path: &str) -> Option<&str> {
    let package = path.strip_prefix("/kommune.")?;
    let (service, _) = package.split_once('.')?;
    Some(service)
}

/// Forwards calls to the services' addresses.
#[derive(Clone)]
pub struct Proxy {
    upstreams: Arc<HashMap<String, Arc<Upstream>>>,
    client: Client<HttpConnector, Body>,
    limits: Option<Limits>,
}

impl Proxy {
    /// A proxy to `upstreams` (by service name).
    pub fn new(upstreams: HashMap<String, Arc<Upstream>>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        Self {
            upstreams: Arc::new(upstreams),
            client,
            limits: None,
        }
    }

    /// Counts every call against its caller's rate first.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Where a call to `uri` goes: its service, the replica picked and the replica's URI for it;
    /// refused when no service here owns it or none of its replicas is in service.
    fn target(&self, uri: &Uri) -> Result<(String, Arc<Replica>, Uri), Status> {
        let path = uri.path();
        let unknown = |message: String| status(Code::Unimplemented, Reason::UnknownMethod, message);
        let service =
            owning_service(path).ok_or_else(|| unknown(format!("unknown method {path}")))?;
        let upstream = self.upstreams.get(service).ok_or_else(|| {
            unknown(format!(
                "service {service} is not served behind this gateway"
            ))
        })?;
        let replica = upstream.pick().ok_or_else(|| {
            status(
                Code::Unavailable,
                Reason::Unavailable,
                format!("{service} is not serving; retry later"),
            )
        })?;
        let mut parts = replica.base.clone().into_parts();
        parts.path_and_query = uri.path_and_query().cloned();
        let target = Uri::from_parts(parts)
            .map_err(|_| status(Code::Internal, Reason::Internal, "bad upstream address"))?;
        Ok((service.to_owned(), replica, target))
    }
}

impl Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        if let Some(Err(refusal)) = self.limits.as_ref().map(|l| l.check(&request)) {
            return Box::pin(async move { Ok(refusal.into_http()) });
        }
        let (service, replica, target) = match self.target(request.uri()) {
            Ok(found) => found,
            Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
        };
        *request.uri_mut() = target;
        // The gateway's span becomes the parent of the service's.
        inject_trace_context(request.headers_mut());
        let client = self.client.clone();
        // Counted against the replica if it fails, or is dropped unanswered (its deadline passed).
        let call = replica.begin();
        Box::pin(async move {
            match client.request(request).await {
                Ok(response) => {
                    call.answered();
                    Ok(response.map(Body::new))
                }
                Err(err) => {
                    call.unreachable();
                    tracing::warn!(%service, replica = %replica.base, error = %err, "upstream unreachable");
                    let message = format!("{service} is unavailable; retry later");
                    Ok(status(Code::Unavailable, Reason::Unavailable, message).into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn paths_name_their_service() {
        assert_eq!(
            owning_service("/kommune.identity.v1.UserService/GetUser"),
            Some("identity")
        );
        assert_eq!(
            owning_service("/kommune.cases.v2.CaseService/FileCase"),
            Some("cases")
        );
        assert_eq!(owning_service("/grpc.health.v1.Health/Check"), None);
        assert_eq!(owning_service("/kommune"), None);
    }

    #[test]
    fn targets_keep_the_path_and_swap_the_authority() {
        let identity = Arc::new(Upstream::parse("http://127.0.0.1:50052").unwrap());
        let proxy = Proxy::new(HashMap::from([("identity".to_owned(), identity.clone())]));
        let (service, _, target) = proxy
            .target(&Uri::from_static(
                "http://gateway/kommune.identity.v1.UserService/GetUser",
            ))
            .unwrap();
        assert_eq!(service, "identity");
        assert_eq!(
            target,
            Uri::from_static("http://127.0.0.1:50052/kommune.identity.v1.UserService/GetUser")
        );
        let missing = proxy.target(&Uri::from_static(
            "http://gateway/kommune.cases.v1.CaseService/GetCase",
        ));
        assert_eq!(
            missing.map(|_| ()).unwrap_err().code(),
            tonic::Code::Unimplemented
        );
        // Failing its health checks, a service is answered for at once.
        identity.replicas()[0].set_healthy(false);
        let refused = proxy
            .target(&Uri::from_static(
                "http://gateway/kommune.identity.v1.UserService/GetUser",
            ))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        assert!(refused.get_details_retry_info().is_some());
        identity.replicas()[0].set_healthy(true);
        assert!(
            proxy
                .target(&Uri::from_static(
                    "http://gateway/kommune.identity.v1.UserService/GetUser",
                ))
                .is_ok()
        );
    }
}
