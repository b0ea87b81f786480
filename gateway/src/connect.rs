//! JSON over HTTP for every RPC, by the Connect protocol (<https://connectrpc.com/docs/protocol>): a
//! unary call is `POST /kommune.cases.v1.CaseService/FileCase` with `Content-Type: application/json`
//! and the request message in the canonical proto3 JSON mapping, over HTTP/1.1 or HTTP/2; an RPC
//! marked `idempotency_level = NO_SIDE_EFFECTS` may also be called with `GET …?encoding=json&message=…`.
//! Connect clients that send binary protobuf (`application/proto`, Connect's default in several
//! languages) are answered in kind.
//!
//! Nothing here knows an RPC: the method, its input and its output are looked up in the descriptor set
//! the contracts compile to, so an RPC is reachable in JSON the moment its proto is merged. The JSON
//! call becomes an ordinary gRPC call to the service behind (the gateway's layers: trace and metrics,
//! shedding, auth, then the proxy), and its answer or error is turned back into JSON: errors as the
//! Connect protocol has them, with the HTTP status of their code and each rich detail decoded beside
//! its bytes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full, Limited};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};
use serde::de::DeserializeSeed;
use tonic::body::Body;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::{Service, ServiceExt};

use kommune_platform::Error;
use kommune_platform::server::Behind;

mod stream;

/// The largest request body taken, as gRPC's default message limit.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The number `NO_SIDE_EFFECTS` has in `google.protobuf.MethodOptions.IdempotencyLevel`.
const NO_SIDE_EFFECTS: i32 = 1;

/// Connect's JSON in front of a gRPC service; gRPC and anything else passes through.
#[derive(Clone)]
pub struct Connect {
    behind: Behind,
    pool: DescriptorPool,
}

impl Connect {
    /// Connect in front of `behind`, its RPCs looked up in `pool`.
    pub fn new(behind: Behind, pool: DescriptorPool) -> Self {
        Self { behind, pool }
    }
}

impl Service<Request<Body>> for Connect {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.behind.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(codec) = stream::connect_stream_codec(&request) {
            let connect = self.clone();
            return Box::pin(async move { Ok(connect.server_stream(request, codec).await) });
        }
        let Some(codec) = connect_unary_codec(&request) else {
            return Box::pin(self.behind.call(request));
        };
        let connect = self.clone();
        Box::pin(async move {
            Ok(connect
                .unary(request, codec)
                .await
                .unwrap_or_else(|status| error_response(&status, &HeaderMap::new(), &connect.pool)))
        })
    }
}

/// How a Connect call's messages are written: the canonical proto3 JSON mapping, or binary protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Json,
    Proto,
}

impl Codec {
    /// The codec Connect names `name` (`json`, `proto`), as in `application/<name>` or `encoding=<name>`.
    fn named(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "proto" => Some(Self::Proto),
            _ => None,
        }
    }

    /// The content type of an answer in this encoding, of a unary call or of a stream.
    pub(crate) fn content_type(self, streaming: bool) -> &'static str {
        match (self, streaming) {
            (Self::Json, false) => "application/json",
            (Self::Proto, false) => "application/proto",
            (Self::Json, true) => "application/connect+json",
            (Self::Proto, true) => "application/connect+proto",
        }
    }

    /// The request message of `method` from its encoding; a refusal names the field at fault.
    pub(crate) fn read(
        self,
        method: &MethodDescriptor,
        bytes: &[u8],
    ) -> Result<DynamicMessage, Status> {
        match self {
            Self::Json => read_json(method, bytes),
            Self::Proto => DynamicMessage::decode(method.input(), bytes).map_err(|err| {
                Error::invalid(
                    "body",
                    format!("is not a {}: {err}", method.input().full_name()),
                )
                .into()
            }),
        }
    }

    /// The service's answer (the bytes of one `method` output message) in this encoding.
    pub(crate) fn write(self, method: &MethodDescriptor, message: Bytes) -> Result<Bytes, Status> {
        match self {
            Self::Proto => Ok(message),
            Self::Json => {
                let output = DynamicMessage::decode(method.output(), message)
                    .map_err(|_| Status::internal("the service's answer is not its message"))?;
                let mut json = serde_json::Serializer::new(Vec::new());
                output
                    .serialize_with_options(&mut json, &SerializeOptions::new())
                    .map_err(|err| {
                        Status::internal(format!("cannot write the answer as JSON: {err}"))
                    })?;
                Ok(Bytes::from(json.into_inner()))
            }
        }
    }
}

/// The codec of a Connect unary call: a POST of `application/json` or `application/proto`, or a GET
/// naming its `encoding`; `None` for anything else (gRPC, gRPC-Web, plain HTTP).
fn connect_unary_codec(request: &Request<Body>) -> Option<Codec> {
    match *request.method() {
        Method::POST => request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|v| {
                v.trim()
                    .to_ascii_lowercase()
                    .strip_prefix("application/")
                    .and_then(Codec::named)
            }),
        Method::GET => query_param(request.uri(), "encoding")
            .as_deref()
            .and_then(Codec::named),
        _ => None,
    }
}

impl Connect {
    /// Answers one Connect unary call by the gRPC call it stands for.
    async fn unary(&self, request: Request<Body>, codec: Codec) -> Result<Response<Body>, Status> {
        let method = self.method(request.uri().path(), false)?;
        let (parts, body) = request.into_parts();
        let json = if parts.method == Method::GET {
            if !has_no_side_effects(&method) {
                return Err(Error::invalid(
                    "method",
                    format!("{} has side effects: call it with POST", method.full_name()),
                )
                .into());
            }
            let compression = query_param(&parts.uri, "compression");
            decompress(compression.as_deref(), get_message(&parts.uri, codec)?)?
        } else {
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|_| {
                    Status::resource_exhausted(format!(
                        "the request body is over {MAX_BODY_BYTES} bytes"
                    ))
                })?
                .to_bytes();
            let encoding = parts.headers.get("content-encoding");
            decompress(encoding.and_then(|v| v.to_str().ok()), body)?
        };
        let input = codec.read(&method, &json)?;
        let mut grpc = grpc_request(parts.uri.path(), &parts.headers, &input);
        // The connection's details (the client's address) go with the call.
        *grpc.extensions_mut() = parts.extensions;
        let response = self
            .behind
            .clone()
            .oneshot(grpc)
            .await
            .unwrap_or_else(|never| match never {});
        let (head, body) = response.into_parts();
        let collected = body
            .collect()
            .await
            .map_err(|status| Status::internal(format!("the answer broke off: {status}")))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let status = Status::from_header_map(&trailers)
            .or_else(|| Status::from_header_map(&head.headers))
            .unwrap_or_else(|| Status::internal("the service gave no status"));
        if status.code() != Code::Ok {
            return Ok(error_response(&status, &head.headers, &self.pool));
        }
        let output = unframe(collected.to_bytes())
            .ok_or_else(|| Status::internal("the service's answer is not one gRPC message"))?;
        let mut response = message_response(codec, codec.write(&method, output)?);
        copy_metadata(&head.headers, response.headers_mut(), "");
        copy_metadata(&trailers, response.headers_mut(), "trailer-");
        Ok(response)
    }

    /// The RPC a path names (`/kommune.cases.v1.CaseService/FileCase`), if it is called as it may be:
    /// a unary RPC unary, a server stream with the streaming protocol.
    fn method(&self, path: &str, streaming: bool) -> Result<MethodDescriptor, Status> {
        let no_such = || {
            kommune_platform::error::status(
                Code::NotFound,
                kommune_platform::Reason::UnknownMethod,
                format!("{path} names no RPC"),
            )
        };
        let (service, method) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .ok_or_else(no_such)?;
        let method = self
            .pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .ok_or_else(no_such)?;
        if method.is_client_streaming() {
            return Err(Status::unimplemented(format!(
                "{} takes a stream: call it with gRPC or gRPC-Web",
                method.full_name()
            )));
        }
        if method.is_server_streaming() != streaming {
            let how = if streaming {
                "application/json or application/proto"
            } else {
                "application/connect+json or application/connect+proto (the streaming protocol)"
            };
            return Err(Error::invalid(
                "content-type",
                format!("{} is called with {how}", method.full_name()),
            )
            .into());
        }
        Ok(method)
    }
}

/// Whether a method's proto says it has no side effects (`idempotency_level = NO_SIDE_EFFECTS`).
pub(crate) fn has_no_side_effects(method: &MethodDescriptor) -> bool {
    method
        .options()
        .get_field_by_name("idempotency_level")
        .and_then(|level| level.as_enum_number())
        == Some(NO_SIDE_EFFECTS)
}

/// The message of a GET: `message` (URL-encoded JSON, or URL-safe base64 of the encoded message with
/// `base64=1`, as binary protobuf always is).
fn get_message(uri: &Uri, codec: Codec) -> Result<Bytes, Status> {
    let message = query_param(uri, "message").unwrap_or_default();
    if codec == Codec::Proto || query_param(uri, "base64").as_deref() == Some("1") {
        let padded = message.trim_end_matches('=');
        URL_SAFE
            .decode(format!(
                "{padded}{}",
                "=".repeat((4 - padded.len() % 4) % 4)
            ))
            .map(Bytes::from)
            .map_err(|_| Error::invalid("message", "is not URL-safe base64").into())
    } else {
        Ok(Bytes::from(message))
    }
}

/// A request message as the client sent it, inflated if it was compressed (`gzip`, which Connect
/// clients use by default) and refused past [`MAX_BODY_BYTES`] inflated, so a small bomb cannot
/// fill memory.
pub(crate) fn decompress(encoding: Option<&str>, message: Bytes) -> Result<Bytes, Status> {
    use std::io::Read;
    match encoding.map(str::trim) {
        None | Some("" | "identity") => Ok(message),
        Some(gzip) if gzip.eq_ignore_ascii_case("gzip") => {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(&message[..])
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|_| Status::from(Error::invalid("body", "is not valid gzip")))?;
            if inflated.len() > MAX_BODY_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "the request is over {MAX_BODY_BYTES} bytes inflated"
                )));
            }
            Ok(Bytes::from(inflated))
        }
        Some(other) => Err(Status::unimplemented(format!(
            "the compression {other} is not supported: send gzip or identity"
        ))),
    }
}

/// A query parameter, URL-decoded.
fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The request message of `method` from its JSON; a refusal names the field at fault.
pub(crate) fn read_json(method: &MethodDescriptor, json: &[u8]) -> Result<DynamicMessage, Status> {
    let input = method.input();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let mut track = serde_path_to_error::Track::new();
    let read = input
        .clone()
        .deserialize(serde_path_to_error::Deserializer::new(
            &mut deserializer,
            &mut track,
        ))
        .and_then(|message| deserializer.end().map(|()| message));
    read.map_err(|err| {
        // The path leads to the value at fault; an unknown field is not entered, so serde names it.
        let message = err.to_string();
        let unknown = message
            .strip_prefix("unrecognized field name '")
            .and_then(|rest| rest.split_once('\''))
            .map(|(name, _)| name);
        let field = match (track.path().to_string().as_str(), unknown) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (path, Some(name)) => format!("{path}.{name}"),
            (path, None) => path.to_owned(),
        };
        Error::invalid(field, format!("is not a {}: {message}", input.full_name())).into()
    })
}

/// The gRPC request a Connect call stands for: the message framed, the caller's headers kept (the
/// token, the trace context, custom metadata), Connect's own turned into gRPC's.
pub(crate) fn grpc_request(
    path: &str,
    headers: &HeaderMap,
    message: &impl Message,
) -> Request<Body> {
    let mut frame = BytesMut::with_capacity(5 + message.encoded_len());
    frame.put_u8(0);
    frame.put_u32(message.encoded_len() as u32);
    message.encode(&mut frame).unwrap_or_default();
    let mut request = Request::new(Body::new(Full::new(frame.freeze())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = Uri::builder()
        .path_and_query(path)
        .build()
        .unwrap_or_default();
    *request.version_mut() = Version::HTTP_2;
    let grpc_headers = request.headers_mut();
    for (name, value) in headers {
        if !is_connect_or_hop_header(name) {
            grpc_headers.append(name, value.clone());
        }
    }
    grpc_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    grpc_headers.insert("te", HeaderValue::from_static("trailers"));
    if let Some(timeout) = headers
        .get("connect-timeout-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && let Ok(value) = HeaderValue::from_str(&format!("{timeout}m"))
    {
        grpc_headers.insert("grpc-timeout", value);
    }
    request
}

/// Headers of HTTP/1.1 or of the Connect protocol that a gRPC request must not carry.
fn is_connect_or_hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-type"
            | "content-length"
            | "content-encoding"
            | "accept"
            | "accept-encoding"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "te"
            | "connect-protocol-version"
            | "connect-timeout-ms"
            | "connect-content-encoding"
            | "connect-accept-encoding"
    )
}

/// The message bytes of a body holding one uncompressed gRPC frame.
pub(crate) fn unframe(mut body: Bytes) -> Option<Bytes> {
    if body.len() < 5 || body[0] != 0 {
        return None;
    }
    body.advance(1);
    let length = body.get_u32() as usize;
    (body.len() == length).then_some(body)
}

/// The service's metadata as Connect headers: gRPC's own headers dropped, trailers prefixed.
pub(crate) fn copy_metadata(from: &HeaderMap, to: &mut HeaderMap, prefix: &str) {
    for (name, value) in from {
        let name = name.as_str();
        if name.starts_with("grpc-") || name == "content-type" || name == "te" {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(format!("{prefix}{name}").as_bytes()) {
            to.append(name, value.clone());
        }
    }
}

/// A Connect error: the HTTP status of its code, `code`, `message` and each detail with its type, its
/// bytes and (`debug`) its fields decoded, plus the service's headers (the trace id).
fn error_response(status: &Status, headers: &HeaderMap, pool: &DescriptorPool) -> Response<Body> {
    let body = error_json(status, pool);
    let mut response = json_response(http_status(status.code()), body.to_string().into_bytes());
    copy_metadata(headers, response.headers_mut(), "");
    if let Some(delay) = status.get_details_retry_info().and_then(|r| r.retry_delay) {
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}

/// A status as the Connect protocol writes an error in JSON.
pub(crate) fn error_json(status: &Status, pool: &DescriptorPool) -> serde_json::Value {
    let details: Vec<serde_json::Value> = tonic_types::pb::Status::decode(status.details())
        .map(|rich| rich.details)
        .unwrap_or_default()
        .into_iter()
        .map(|any| {
            let type_name = any
                .type_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let debug = pool
                .get_message_by_name(&type_name)
                .and_then(|desc| DynamicMessage::decode(desc, any.value.as_slice()).ok())
                .and_then(|message| serde_json::to_value(&message).ok());
            let mut detail = serde_json::json!({
                "type": type_name,
                "value": STANDARD_NO_PAD.encode(&any.value),
            });
            if let Some(debug) = debug {
                detail["debug"] = debug;
            }
            detail
        })
        .collect();
    let mut body = serde_json::json!({
        "code": code_name(status.code()),
        "message": status.message(),
    });
    if !details.is_empty() {
        body["details"] = serde_json::Value::Array(details);
    }
    body
}

/// A successful unary answer: the message in the call's encoding.
fn message_response(codec: Codec, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::new(Full::new(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(codec.content_type(false)),
    );
    response
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::new(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The Connect name of a code: `invalid_argument`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status the Connect protocol gives a code.
pub fn http_status(code: Code) -> StatusCode {
    let number = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    };
    StatusCode::from_u16(number).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_connect_name_and_status() {
        assert_eq!(code_name(Code::InvalidArgument), "invalid_argument");
        assert_eq!(code_name(Code::Cancelled), "canceled");
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
    }

    #[test]
    fn json_and_proto_posts_and_gets_are_connect_calls() {
        let request = |method: Method, uri: &str, content_type: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .header(CONTENT_TYPE, content_type)
                .body(Body::empty())
                .unwrap()
        };
        let path = "/kommune.identity.v1.TokenService/GetCaller";
        let codec = |method: Method, uri: &str, content_type: &str| {
            connect_unary_codec(&request(method, uri, content_type))
        };
        assert_eq!(
            codec(Method::POST, path, "application/json"),
            Some(Codec::Json)
        );
        assert_eq!(
            codec(Method::POST, path, "Application/JSON; charset=utf-8"),
            Some(Codec::Json)
        );
        assert_eq!(
            codec(Method::POST, path, "application/proto"),
            Some(Codec::Proto)
        );
        assert_eq!(codec(Method::POST, path, "application/grpc"), None);
        assert_eq!(
            codec(Method::POST, path, "application/grpc-web+proto"),
            None
        );
        assert_eq!(
            codec(
                Method::GET,
                &format!("{path}?encoding=json&message=%7B%7D"),
                ""
            ),
            Some(Codec::Json)
        );
        assert_eq!(
            codec(Method::GET, &format!("{path}?encoding=proto&message="), ""),
            Some(Codec::Proto)
        );
        assert_eq!(codec(Method::GET, path, ""), None);
    }

    #[test]
    fn gzip_messages_are_inflated_within_the_limit() {
        use std::io::Write;
        let gzip = |data: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).unwrap();
            Bytes::from(encoder.finish().unwrap())
        };
        let message = Bytes::from_static(b"{\"code\": \"101\"}");
        assert_eq!(decompress(None, message.clone()).unwrap(), message);
        assert_eq!(
            decompress(Some("identity"), message.clone()).unwrap(),
            message
        );
        assert_eq!(decompress(Some("gzip"), gzip(&message)).unwrap(), message);
        let bomb = gzip(&vec![b' '; MAX_BODY_BYTES + 1]);
        assert!(bomb.len() < 10_000);
        assert_eq!(
            decompress(Some("gzip"), bomb).unwrap_err().code(),
            Code::ResourceExhausted
        );
        assert_eq!(
            decompress(Some("gzip"), message.clone())
                .unwrap_err()
                .code(),
            Code::InvalidArgument
        );
        assert_eq!(
            decompress(Some("br"), message).unwrap_err().code(),
            Code::Unimplemented
        );
    }

    #[test]
    fn a_get_message_is_read_plain_or_from_base64() {
        let plain: Uri = "/x/Y?encoding=json&message=%7B%22a%22%3A1%7D"
            .parse()
            .unwrap();
        assert_eq!(
            get_message(&plain, Codec::Json).unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        let base64: Uri = "/x/Y?encoding=json&base64=1&message=eyJhIjoxfQ"
            .parse()
            .unwrap();
        assert_eq!(
            get_message(&base64, Codec::Json).unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
    }
}
