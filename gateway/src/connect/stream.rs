//! Connect's streaming protocol for server streams: `POST` with `Content-Type:
//! application/connect+json` (or `+proto`) and the request as one envelope (a flags byte, a 4-byte
//! length, the message). The answer is `200` with an envelope per message as the service sends it, and
//! a last end-stream envelope (flag `0x02`, always JSON) holding the error, if the stream failed, and
//! the trailers. Each gRPC frame is turned into an envelope as it arrives, so an export of any length
//! passes in constant memory.

use std::convert::Infallible;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Limited, StreamBody};
use prost_reflect::{DescriptorPool, MethodDescriptor};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::ServiceExt;

use kommune_platform::Error;

use super::{Codec, Connect, MAX_BODY_BYTES, copy_metadata, decompress, error_json, grpc_request};

/// The flag of a compressed envelope.
const COMPRESSED: u8 = 0x01;
/// The flag of the end-stream envelope.
const END_STREAM: u8 = 0x02;

/// The codec of a Connect streaming call (`application/connect+json`, `application/connect+proto`).
pub(super) fn connect_stream_codec(request: &Request<Body>) -> Option<Codec> {
    if request.method() != Method::POST {
        return None;
    }
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.trim()
                .to_ascii_lowercase()
                .strip_prefix("application/connect+")
                .and_then(Codec::named)
        })
}

impl Connect {
    /// Answers a Connect server-stream call by the gRPC stream it stands for; every failure is told
    /// in the end-stream envelope, as the protocol has it.
    pub(super) async fn server_stream(
        &self,
        request: Request<Body>,
        codec: Codec,
    ) -> Response<Body> {
        match self.open_stream(request, codec).await {
            Ok(response) => response,
            Err(status) => {
                let end = end_stream(Some(&status), &HeaderMap::new(), &self.pool);
                streaming_response(
                    codec,
                    futures::stream::iter([end]).boxed(),
                    &HeaderMap::new(),
                )
            }
        }
    }

    async fn open_stream(
        &self,
        request: Request<Body>,
        codec: Codec,
    ) -> Result<Response<Body>, Status> {
        let method = self.method(request.uri().path(), true)?;
        let (parts, body) = request.into_parts();
        let body = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|_| {
                Status::resource_exhausted(format!("the request is over {MAX_BODY_BYTES} bytes"))
            })?
            .to_bytes();
        let encoding = parts.headers.get("connect-content-encoding");
        let message = request_envelope(body, encoding.and_then(|v| v.to_str().ok()))?;
        let input = codec.read(&method, &message)?;
        let mut grpc = grpc_request(parts.uri.path(), &parts.headers, &input);
        *grpc.extensions_mut() = parts.extensions;
        let Ok(response) = self.behind.clone().oneshot(grpc).await;
        let (head, body) = response.into_parts();
        // A refusal before the first message comes as a trailers-only answer.
        if let Some(status) = Status::from_header_map(&head.headers) {
            let end = end_stream(
                (status.code() != Code::Ok).then_some(&status),
                &HeaderMap::new(),
                &self.pool,
            );
            return Ok(streaming_response(
                codec,
                futures::stream::iter([end]).boxed(),
                &head.headers,
            ));
        }
        let relay = Relay {
            body,
            buffer: BytesMut::new(),
            method,
            codec,
            pool: self.pool.clone(),
            ended: false,
        };
        let envelopes = futures::stream::unfold(relay, Relay::next).boxed();
        Ok(streaming_response(codec, envelopes, &head.headers))
    }
}

/// The message of the request's one envelope, inflated if its flag says it is compressed with the
/// stream's `encoding`.
fn request_envelope(mut body: Bytes, encoding: Option<&str>) -> Result<Bytes, Status> {
    let bad = |what: &str| Status::from(Error::invalid("body", what));
    if body.len() < 5 {
        return Err(bad("is not a Connect envelope"));
    }
    let flags = body.get_u8();
    let length = body.get_u32() as usize;
    if flags & !COMPRESSED != 0 {
        return Err(bad("must be one message envelope"));
    }
    if body.len() != length {
        return Err(bad("holds not exactly one envelope"));
    }
    if flags & COMPRESSED == 0 {
        return Ok(body);
    }
    match encoding {
        None | Some("identity") => Err(bad("is compressed without a connect-content-encoding")),
        encoding => decompress(encoding, body),
    }
}

/// A gRPC answer being turned into envelopes.
struct Relay {
    body: Body,
    buffer: BytesMut,
    method: MethodDescriptor,
    codec: Codec,
    pool: DescriptorPool,
    ended: bool,
}

impl Relay {
    /// The next envelope: a message, or the end of the stream.
    async fn next(mut self) -> Option<(Bytes, Self)> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(message) = self.take_message() {
                let envelope = match message {
                    Ok(message) => envelope(0, &message),
                    Err(status) => self.end(Some(&status), &HeaderMap::new()),
                };
                return Some((envelope, self));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.put(data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        let status = Status::from_header_map(&trailers)
                            .filter(|status| status.code() != Code::Ok);
                        let end = self.end(status.as_ref(), &trailers);
                        return Some((end, self));
                    }
                },
                Some(Err(status)) => {
                    let end = self.end(Some(&status), &HeaderMap::new());
                    return Some((end, self));
                }
                None => {
                    let end = self.end(None, &HeaderMap::new());
                    return Some((end, self));
                }
            }
        }
    }

    /// A whole gRPC message from the buffer, in the call's encoding, if one has arrived.
    fn take_message(&mut self) -> Option<Result<Bytes, Status>> {
        if self.buffer.len() < 5 {
            return None;
        }
        let length = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if self.buffer.len() < 5 + length {
            return None;
        }
        let compressed = self.buffer[0] != 0;
        let frame = self.buffer.split_to(5 + length).freeze().slice(5..);
        if compressed {
            return Some(Err(Status::internal("the service's answer is compressed")));
        }
        Some(self.codec.write(&self.method, frame))
    }

    fn end(&mut self, status: Option<&Status>, trailers: &HeaderMap) -> Bytes {
        self.ended = true;
        end_stream(status, trailers, &self.pool)
    }
}

/// The end-stream envelope: the error, if any, and the trailers as metadata.
fn end_stream(status: Option<&Status>, trailers: &HeaderMap, pool: &DescriptorPool) -> Bytes {
    let mut metadata = HeaderMap::new();
    copy_metadata(trailers, &mut metadata, "");
    let mut named = serde_json::Map::new();
    for name in metadata.keys() {
        let values: Vec<&str> = metadata
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        named.insert(name.as_str().to_owned(), serde_json::json!(values));
    }
    let mut end = serde_json::json!({ "metadata": named });
    if let Some(status) = status {
        end["error"] = error_json(status, pool);
    }
    envelope(END_STREAM, end.to_string().as_bytes())
}

fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut envelope = BytesMut::with_capacity(5 + payload.len());
    envelope.put_u8(flags);
    envelope.put_u32(payload.len() as u32);
    envelope.put_slice(payload);
    envelope.freeze()
}

fn streaming_response(
    codec: Codec,
    envelopes: futures::stream::BoxStream<'static, Bytes>,
    headers: &HeaderMap,
) -> Response<Body> {
    let frames = envelopes.map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)));
    let mut response = Response::new(Body::new(StreamBody::new(frames)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(codec.content_type(true)),
    );
    copy_metadata(headers, response.headers_mut(), "");
    response
}
