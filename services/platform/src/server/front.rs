//! A server's front: what turns a call in another protocol (Connect's JSON over HTTP, gRPC-Web) into an
//! ordinary gRPC call before the layers every server has (trace and metrics, shedding, auth) see it,
//! and its answer back. Only the gateway has one; the platform knows it only as a function from the
//! service behind it to the service in front.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use crate::BoxError;

/// The gRPC service behind a front, as it sees it.
pub type Behind =
    BoxCloneSyncService<Request<tonic::body::Body>, Response<tonic::body::Body>, Infallible>;

/// Puts a protocol translation in front of a server's layers.
#[derive(Clone)]
pub struct Front(Arc<dyn Fn(Behind) -> Behind + Send + Sync>);

impl Front {
    /// A front made by `wrap` from the service behind it.
    pub fn new(wrap: impl Fn(Behind) -> Behind + Send + Sync + 'static) -> Self {
        Self(Arc::new(wrap))
    }

    /// No translation: gRPC only (every service).
    pub fn none() -> Self {
        Self::new(|behind| behind)
    }
}

impl<S, B> Layer<S> for Front
where
    S: Service<Request<tonic::body::Body>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Service = Behind;

    fn layer(&self, inner: S) -> Behind {
        let behind = inner.map_response(|response| response.map(tonic::body::Body::new));
        (self.0)(BoxCloneSyncService::new(behind))
    }
}
