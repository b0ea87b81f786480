//! The operations site (driftsiden): public, server-rendered pages at `/` in Danish, and under `/en/` in
//! English, with the Atom feeds of operational messages. It reads kommune only through the public RPCs,
//! called through the gateway's own stack as any client's calls are (rate limits per visitor address,
//! traces, metrics); it has no database of its own. No cookies; every answer says how long it may be
//! cached and carries an ETag, so a repeat fetch is answered `304 Not Modified`.
//!
//! The templates, texts (one file per language), stylesheet and script live in `gateway/site/`, where a
//! designer finds them; this module routes, calls and caches, and [`pages`] turns answers into views.

mod pages;
pub mod status;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    RETRY_AFTER,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use opentelemetry::trace::TraceContextExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tonic_types::StatusExt;
use tower::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use kommune_platform::server::{Behind, TRACE_ID_HEADER};

/// The site's files, as a designer keeps them.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../site/templates/base.html")),
    (
        "catalogue.html",
        include_str!("../../site/templates/catalogue.html"),
    ),
    (
        "macros.html",
        include_str!("../../site/templates/macros.html"),
    ),
    (
        "status.html",
        include_str!("../../site/templates/status.html"),
    ),
    (
        "message.html",
        include_str!("../../site/templates/message.html"),
    ),
    (
        "error.html",
        include_str!("../../site/templates/error.html"),
    ),
    (
        "change_requests.html",
        include_str!("../../site/templates/change_requests.html"),
    ),
    (
        "change_request.html",
        include_str!("../../site/templates/change_request.html"),
    ),
    (
        "releases.html",
        include_str!("../../site/templates/releases.html"),
    ),
];
const DANISH: &str = include_str!("../../site/texts/da.json");
const ENGLISH: &str = include_str!("../../site/texts/en.json");
const STYLESHEET: &str = include_str!("../../site/static/site.css");
const SCRIPT: &str = include_str!("../../site/static/status.js");

/// The language of a page: Danish at `/`, English under `/en/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Danish, the site's own.
    Danish,
    /// English.
    English,
}

impl Language {
    /// The path prefix of its pages.
    fn prefix(self) -> &'static str {
        match self {
            Self::Danish => "",
            Self::English => "/en",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Danish => Self::English,
            Self::English => Self::Danish,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Danish => "da",
            Self::English => "en",
        }
    }
}

/// The site's templates and texts, loaded once when the gateway starts.
pub struct Assets {
    templates: minijinja::Environment<'static>,
    danish: Value,
    english: Value,
    /// Where visitors reach the site (absolute), or empty to take it from each request's host.
    public_url: String,
}

impl Assets {
    /// Loads the templates and texts; the site is reached at `public_url` when it is absolute.
    pub fn load(public_url: &str) -> Result<Self, minijinja::Error> {
        let mut templates = minijinja::Environment::new();
        for (name, source) in TEMPLATES {
            templates.add_template(name, source)?;
        }
        let texts = |source: &str| {
            serde_json::from_str(source).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
            })
        };
        let public_url = if public_url.starts_with("http://") || public_url.starts_with("https://")
        {
            public_url.trim_end_matches('/').to_owned()
        } else {
            String::new()
        };
        Ok(Self {
            templates,
            danish: texts(DANISH)?,
            english: texts(ENGLISH)?,
            public_url,
        })
    }
}

/// What every page needs: the assets, and the gateway's stack to call through.
pub(crate) struct Shared {
    assets: Arc<Assets>,
    behind: Behind,
}

/// The site before `inner`: every `GET` or `HEAD` that names no RPC is the site's; the rest passes.
#[derive(Clone)]
pub struct Site<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Site<S> {
    /// The site of `assets` before `inner`, calling through `behind`.
    pub fn new(inner: S, behind: Behind, assets: Arc<Assets>) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared { assets, behind }),
        }
    }
}

impl<S> Service<Request<Body>> for Site<S>
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
        let path = request.uri().path();
        let ours = matches!(*request.method(), Method::GET | Method::HEAD)
            && !path.starts_with("/kommune.")
            && !path.starts_with("/grpc.");
        if !ours {
            return Box::pin(self.inner.call(request));
        }
        let shared = self.shared.clone();
        // One trace per page: the calls it makes are its children, and the page names its trace id.
        let span =
            tracing::info_span!("site", otel.name = %format!("GET {path}"), otel.kind = "server");
        kommune_platform::server::continue_trace(&span, request.headers());
        let trace_id = span.context().span().span_context().trace_id();
        let visit = Visit::of(&request);
        Box::pin(
            async move {
                let mut response = shared.answer(visit).await;
                if trace_id != opentelemetry::trace::TraceId::INVALID
                    && let Ok(value) = HeaderValue::from_str(&trace_id.to_string())
                {
                    response.headers_mut().insert(TRACE_ID_HEADER, value);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// One request to the site, as the pages see it.
pub(crate) struct Visit {
    /// The path without the language prefix, split at slashes.
    segments: Vec<String>,
    /// The language asked for.
    language: Language,
    /// The query string's parameters, decoded.
    query: Vec<(String, String)>,
    /// The visitor's connection, for the rate limit of public calls.
    connection: Option<TcpConnectInfo>,
    /// The ETags the visitor already has.
    if_none_match: Option<HeaderValue>,
    /// Scheme and host the visitor used, for absolute links.
    origin: String,
}

impl Visit {
    fn of(request: &Request<Body>) -> Self {
        let path = request.uri().path();
        let (language, rest) = match path.strip_prefix("/en") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => (Language::English, rest),
            _ => (Language::Danish, path),
        };
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                request
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "localhost".to_owned());
        Self {
            segments: rest
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            language,
            query: url::form_urlencoded::parse(
                request.uri().query().unwrap_or_default().as_bytes(),
            )
            .into_owned()
            .collect(),
            connection: request.extensions().get::<TcpConnectInfo>().cloned(),
            if_none_match: request.headers().get(IF_NONE_MATCH).cloned(),
            origin: format!("http://{host}"),
        }
    }

    /// The query parameter `name`, when given and not empty.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    }

    /// `path` (after the language prefix) with `params` as its query string.
    pub(crate) fn link(&self, path: &str, params: &[(&str, &str)]) -> String {
        self.link_in(self.language, path, params)
    }

    fn link_in(&self, language: Language, path: &str, params: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
            query.append_pair(key, value);
        }
        let query = query.finish();
        let prefix = language.prefix();
        if query.is_empty() {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}{path}?{query}")
        }
    }

    /// A call's request, counted against the visitor's address like any public call.
    pub(crate) fn call<T>(&self, message: T) -> tonic::Request<T> {
        let mut headers = http::HeaderMap::new();
        kommune_platform::server::inject_trace_context(&mut headers);
        let mut request = tonic::Request::from_parts(
            tonic::metadata::MetadataMap::from_headers(headers),
            tonic::Extensions::default(),
            message,
        );
        if let Some(connection) = &self.connection {
            request.extensions_mut().insert(connection.clone());
        }
        request
    }
}

/// A page's content and how long it may be cached.
pub(crate) struct Page {
    pub(crate) body: Bytes,
    pub(crate) content_type: &'static str,
    /// Seconds a cache may keep it.
    pub(crate) max_age: u32,
}

/// Why a page could not be made.
pub(crate) enum Failure {
    /// Nothing is at this address.
    NotFound,
    /// The query parameter named cannot be used.
    BadQuery(&'static str),
    /// A call failed.
    Call(tonic::Status),
    /// A template failed: a fault of the site.
    Render(minijinja::Error),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Self::Call(status)
    }
}

impl From<minijinja::Error> for Failure {
    fn from(error: minijinja::Error) -> Self {
        Self::Render(error)
    }
}

impl Shared {
    fn texts(&self, language: Language) -> &Value {
        match language {
            Language::Danish => &self.assets.danish,
            Language::English => &self.assets.english,
        }
    }

    /// The site's address as the visitor reaches it, without a trailing slash.
    fn base(&self, visit: &Visit) -> String {
        if self.assets.public_url.is_empty() {
            visit.origin.clone()
        } else {
            self.assets.public_url.clone()
        }
    }

    async fn answer(&self, visit: Visit) -> Response<Body> {
        let segments: Vec<&str> = visit.segments.iter().map(String::as_str).collect();
        let page = match (segments.as_slice(), visit.language) {
            ([], _) => pages::status(self, &visit).await,
            (["driftsbeskeder", id], _) => pages::message(self, &visit, id).await,
            (["feed.atom"], _) => pages::feed(self, &visit, None).await,
            (["systemer", id, "feed.atom"], _) => pages::feed(self, &visit, Some(id)).await,
            (["aendringsanmodninger"], _) => pages::change_requests(self, &visit).await,
            (["aendringsanmodninger", key], _) => pages::change_request(self, &visit, key).await,
            (["udgivelser"], _) => pages::releases(self, &visit).await,
            (["servicekatalog"], _) => pages::catalogue(self, &visit).await,
            ([file], _) if file.starts_with("aendringsanmodninger.") => {
                return match pages::download(self, &visit, file).await {
                    Ok(response) => response,
                    Err(failure) => self.failure(&visit, failure),
                };
            }
            (["site.css"], Language::Danish) => Ok(Page {
                body: Bytes::from_static(STYLESHEET.as_bytes()),
                content_type: "text/css; charset=utf-8",
                max_age: 3600,
            }),
            (["status.js"], Language::Danish) => Ok(Page {
                body: Bytes::from_static(SCRIPT.as_bytes()),
                content_type: "text/javascript; charset=utf-8",
                max_age: 3600,
            }),
            _ => Err(Failure::NotFound),
        };
        match page {
            Ok(page) => cached(page, visit.language, visit.if_none_match.as_ref()),
            Err(failure) => self.failure(&visit, failure),
        }
    }

    /// Renders `template` in the visit's language with `context`, plus what every page has.
    pub(crate) fn render(
        &self,
        visit: &Visit,
        template: &str,
        page: &str,
        context: Value,
    ) -> Result<Bytes, minijinja::Error> {
        let language = visit.language;
        let path = visit.segments.join("/");
        let other = language.other();
        let params: Vec<(&str, &str)> = visit
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let common = serde_json::json!({
            "t": self.texts(language),
            "page": page,
            "home": format!("{}/", language.prefix()),
            "other_url": visit.link_in(other, &format!("/{path}"), &params),
        });
        let mut merged = common;
        if let (Some(into), Value::Object(from)) = (merged.as_object_mut(), context) {
            into.extend(from);
        }
        let html = self
            .assets
            .templates
            .get_template(template)?
            .render(&merged)?;
        Ok(Bytes::from(html))
    }

    /// The error page of `failure`, in the site's look.
    fn failure(&self, visit: &Visit, failure: Failure) -> Response<Body> {
        let (status, key) = match &failure {
            Failure::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Failure::BadQuery(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Failure::Call(call) => match call.code() {
                // What the address named does not exist, or cannot.
                tonic::Code::NotFound | tonic::Code::InvalidArgument => {
                    (StatusCode::NOT_FOUND, "not_found")
                }
                tonic::Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "busy"),
                tonic::Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "error"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
            },
            Failure::Render(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
        };
        let mut trace_id = None;
        let mut retry_after = None;
        match &failure {
            Failure::Call(call) if status == StatusCode::TOO_MANY_REQUESTS => {
                retry_after = Some(
                    call.get_details_retry_info()
                        .and_then(|info| info.retry_delay)
                        .map_or(1, |delay| delay.as_secs().max(1)),
                );
            }
            Failure::Call(call) if status.is_server_error() => {
                tracing::warn!(code = ?call.code(), message = call.message(), "a page's call failed");
                trace_id = call
                    .metadata()
                    .get(TRACE_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
            }
            Failure::Render(error) => tracing::error!(%error, "a page could not be rendered"),
            _ => {}
        }
        let t = self.texts(visit.language);
        let title = t[format!("{key}_title")].as_str().unwrap_or_default();
        let detail = match failure {
            Failure::BadQuery(param) => Some(param),
            _ => None,
        };
        let context = serde_json::json!({
            "title": title,
            "text": t[format!("{key}_text")],
            "detail": detail,
            "trace_id": trace_id,
        });
        let html = self
            .render(visit, "error.html", "error", context)
            .unwrap_or_else(|_| Bytes::from(title.to_owned()));
        let mut response = html_response(html, visit.language);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(wait) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

fn html_response(body: Bytes, language: Language) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(body)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    security_headers(headers);
    response
}

/// No script but the site's own, no framing, no referrer leaks.
pub(crate) fn security_headers(headers: &mut http::HeaderMap) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

/// `page` with its ETag and cache lifetime, or `304 Not Modified` when the visitor has it already.
fn cached(page: Page, language: Language, if_none_match: Option<&HeaderValue>) -> Response<Body> {
    let digest = Sha256::digest(&page.body);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let fresh = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',').any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == etag
            })
        });
    let mut response = if fresh {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::new(http_body_util::Full::new(page.body)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(page.content_type));
        response
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, etag);
    }
    if let Ok(cache) = HeaderValue::from_str(&format!("public, max-age={}", page.max_age)) {
        headers.insert(CACHE_CONTROL, cache);
    }
    headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    security_headers(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_in_the_folder_is_loaded_and_both_languages_have_every_text() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("site/templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut loaded: Vec<String> = TEMPLATES
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        loaded.sort();
        assert_eq!(loaded, on_disk);
        assert!(Assets::load("/").is_ok());

        let keys = |source: &str| {
            let texts: Value = serde_json::from_str(source).unwrap();
            let mut keys: Vec<String> = texts.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(DANISH), keys(ENGLISH));
    }

    #[test]
    fn an_etag_the_visitor_has_is_answered_not_modified() {
        let page = || Page {
            body: Bytes::from_static(b"<p>hej</p>"),
            content_type: "text/html; charset=utf-8",
            max_age: 30,
        };
        let first = cached(page(), Language::Danish, None);
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[ETAG].clone();
        assert_eq!(first.headers()[CACHE_CONTROL], "public, max-age=30");
        let again = cached(page(), Language::Danish, Some(&etag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let listed =
            HeaderValue::from_str(&format!("\"other\", W/{}", etag.to_str().unwrap())).unwrap();
        assert_eq!(
            cached(page(), Language::Danish, Some(&listed)).status(),
            StatusCode::NOT_MODIFIED
        );
        let other = HeaderValue::from_static("\"other\"");
        assert_eq!(
            cached(page(), Language::Danish, Some(&other)).status(),
            StatusCode::OK
        );
    }
}
