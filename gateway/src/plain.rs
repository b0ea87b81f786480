//! What the door serves over plain HTTP, besides calls: health for load balancers that do not speak
//! gRPC health (`GET /healthz` while the gateway runs, `GET /readyz` only while every service it routes
//! to is serving, as the gateway's gRPC health reports them; Kubernetes keeps its gRPC probes), and
//! the OpenAPI document of the JSON API (`GET /openapi.json`), its readable reference (`GET /api`), and
//! the JSON Schema of each message (`GET /schemas/kommune.cases.v1.Case.json`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use prost::Message;
use tonic::body::Body;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::{Service, ServiceExt};

use kommune_platform::server::Behind;

use crate::connect::{grpc_request, json_response, unframe};

/// The documents the door serves, made when it starts.
#[derive(Clone)]
pub struct Pages {
    /// The OpenAPI document.
    pub openapi: Bytes,
    /// The API reference page.
    pub reference: Bytes,
    /// The document's schemas, one per message, by full name.
    pub schemas: Arc<serde_json::Map<String, serde_json::Value>>,
    /// Where the door is reached, for the `$id` of each JSON Schema.
    pub public_url: Arc<str>,
}

/// The plain HTTP pages before `inner`; every other request passes through.
#[derive(Clone)]
pub struct Plain<S> {
    inner: S,
    behind: Behind,
    upstreams: Arc<Vec<String>>,
    pages: Pages,
}

impl<S> Plain<S> {
    /// The pages before `inner`, asking `behind` (the gateway's gRPC stack) for the health of each of
    /// `upstreams` (health names such as `kommune.cases.v1`), serving `pages`.
    pub fn new(inner: S, behind: Behind, upstreams: Arc<Vec<String>>, pages: Pages) -> Self {
        Self {
            inner,
            behind,
            upstreams,
            pages,
        }
    }
}

impl<S> Service<Request<Body>> for Plain<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if request.method() != Method::GET {
            return Box::pin(self.inner.call(request));
        }
        match request.uri().path() {
            "/healthz" => Box::pin(async { Ok(answer(StatusCode::OK, serde_json::json!({}))) }),
            "/readyz" => {
                let (behind, upstreams) = (self.behind.clone(), self.upstreams.clone());
                Box::pin(async move { Ok(ready(behind, &upstreams).await) })
            }
            "/openapi.json" => {
                let document = self.pages.openapi.clone();
                Box::pin(async move { Ok(json_response(StatusCode::OK, document.to_vec())) })
            }
            "/api" => {
                let page = self.pages.reference.clone();
                Box::pin(async move { Ok(html_response(page)) })
            }
            path => match path
                .strip_prefix("/schemas/")
                .and_then(|file| file.strip_suffix(".json"))
            {
                Some(name) => {
                    let id = format!("{}{path}", self.pages.public_url.trim_end_matches('/'));
                    let found = match crate::openapi::json_schema(&self.pages.schemas, name, &id) {
                        Some(schema) => answer(StatusCode::OK, schema),
                        None => answer(
                            StatusCode::NOT_FOUND,
                            serde_json::json!({"code": "not_found", "message": format!("no message {name}")}),
                        ),
                    };
                    Box::pin(async move { Ok(found) })
                }
                None => Box::pin(self.inner.call(request)),
            },
        }
    }
}

/// 200 when every upstream serves, 503 naming those that do not.
async fn ready(behind: Behind, upstreams: &[String]) -> Response<Body> {
    let mut not_serving = Vec::new();
    for upstream in upstreams {
        if !serving(behind.clone(), upstream).await {
            not_serving.push(upstream.clone());
        }
    }
    if not_serving.is_empty() {
        answer(StatusCode::OK, serde_json::json!({}))
    } else {
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "notServing": not_serving }),
        )
    }
}

/// Whether the gateway's health says `service` is serving.
async fn serving(behind: Behind, service: &str) -> bool {
    let request = grpc_request(
        "/grpc.health.v1.Health/Check",
        &HeaderMap::new(),
        &HealthCheckRequest {
            service: service.to_owned(),
        },
    );
    let Ok(response) = behind.oneshot(request).await;
    let Ok(body) = response.into_body().collect().await else {
        return false;
    };
    unframe(body.to_bytes())
        .and_then(|message| HealthCheckResponse::decode(message).ok())
        .is_some_and(|health| health.status == ServingStatus::Serving as i32)
}

fn html_response(page: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(page)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    json_response(status, body.to_string().into_bytes())
}
