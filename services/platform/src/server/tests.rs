use super::*;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tower::ServiceExt;

type Body = tonic::body::Body;

fn grpc_request(path: &str) -> Request<Body> {
    Request::builder()
        .uri(format!("http://test{path}"))
        .body(Body::default())
        .unwrap()
}

/// A service answering each call with `code` in its headers, as tonic answers errors.
fn answering(
    code: Code,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    tower::service_fn(move |_request: Request<Body>| async move {
        Ok::<_, Infallible>(Status::new(code, "no").into_http())
    })
}

/// A service whose response ends with `code` in its trailers, as streams and unary successes do.
fn ending_with(
    code: Code,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    tower::service_fn(move |_request: Request<Body>| async move {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", (code as i32).into());
        let frames = futures::stream::iter([Ok::<_, Status>(http_body::Frame::trailers(trailers))]);
        Ok::<_, Infallible>(Response::new(Body::new(http_body_util::StreamBody::new(
            frames,
        ))))
    })
}

/// Sends one request through `service` and reads the whole response, as a client would.
async fn call<S>(service: S, path: &str)
where
    S: Service<Request<Body>, Response = Response<ObservedBody<Body>>, Error = Infallible>,
{
    let response = service.oneshot(grpc_request(path)).await.unwrap();
    http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
}

#[tokio::test]
async fn every_rpc_is_counted_by_method_and_status() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let layer = ObserveLayer::with_meter(&provider.meter("test"));
    let path = "/kommune.identity.v1.UserService/GetUser";
    call(layer.layer(answering(Code::NotFound)), path).await;
    call(layer.layer(answering(Code::NotFound)), path).await;
    call(layer.layer(ending_with(Code::Ok)), path).await;
    call(layer.layer(ending_with(Code::Internal)), path).await;
    // A client that goes away before the end of the response.
    drop(
        layer
            .layer(ending_with(Code::Ok))
            .oneshot(grpc_request(path))
            .await
            .unwrap(),
    );
    provider.force_flush().unwrap();

    let mut counts = Vec::new();
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope
                .metrics()
                .filter(|m| m.name() == "rpc.server.requests")
            {
                if let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() {
                    for point in sum.data_points() {
                        let attribute = |key: &str| {
                            point
                                .attributes()
                                .find(|kv| kv.key.as_str() == key)
                                .map(|kv| kv.value.to_string())
                        };
                        let method = attribute("rpc.method").unwrap_or_default();
                        let code = attribute("rpc.grpc.status_code").unwrap_or_default();
                        counts.push((method, code, point.value()));
                    }
                }
            }
        }
    }
    counts.sort();
    let expected: Vec<(String, String, u64)> = [("0", 1), ("1", 1), ("13", 1), ("5", 2)]
        .into_iter()
        .map(|(code, n)| ("GetUser".to_owned(), code.to_owned(), n))
        .collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn calls_beyond_the_limit_are_shed_at_once() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let slow = tower::service_fn(move |_request: Request<Body>| {
        let released = released.clone();
        async move {
            if let Some(released) = released.lock().await.take() {
                let _ = released.await;
            }
            Ok::<_, Infallible>(Response::new(Body::default()))
        }
    });
    let shed = ShedLayer::new(1);
    let first = tokio::spawn(shed.layer(slow.clone()).oneshot(grpc_request("/a.B/C")));
    tokio::task::yield_now().await;
    while shed.permits.available_permits() > 0 {
        tokio::task::yield_now().await;
    }
    let second = shed
        .layer(slow.clone())
        .oneshot(grpc_request("/a.B/C"))
        .await
        .unwrap();
    assert_eq!(header_status(&second), Some(Code::Unavailable));
    release.send(()).unwrap();
    assert_eq!(header_status(&first.await.unwrap().unwrap()), None);
    let third = shed
        .layer(slow)
        .oneshot(grpc_request("/a.B/C"))
        .await
        .unwrap();
    assert_eq!(header_status(&third), None);
}

/// Nagle's algorithm holds the tail of an answer until the client's delayed ACK (~40 ms on Linux),
/// so without nodelay every answer of a few kilobytes takes ~40 ms on loopback instead of well under
/// one. Asked ten times, the median tells the two apart with a wide margin either way.
/// A server with health and reflection only, on loopback.
async fn serve_health_and_reflection() -> (std::net::SocketAddr, crate::testing::Running) {
    serve_health_with(ServerConfig::default()).await
}

/// A server with health and reflection only, on loopback, configured as `config` says.
async fn serve_health_with(
    config: ServerConfig,
) -> (std::net::SocketAddr, crate::testing::Running) {
    let (listener, addr) = crate::testing::loopback_listener().await;
    let verifier = TokenVerifier::remote(
        "http://127.0.0.1:1",
        Arc::new(crate::clock::SystemClock),
        Vec::new(),
    );
    let server = crate::testing::spawn(|stop| async move {
        GrpcServer::new()
            .serve(listener, verifier, &config, None::<NoFallback>, stop)
            .await
            .unwrap_or_else(|e| panic!("the server failed: {e}"));
    });
    (addr, server)
}

/// How long until the server closes `socket`, reading whatever it sends; `None` if it is still open
/// after `at_most`.
async fn closed_within(
    mut socket: tokio::net::TcpStream,
    at_most: std::time::Duration,
) -> Option<std::time::Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buffer = [0; 1024];
    loop {
        match tokio::time::timeout_at((started + at_most).into(), socket.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// A raw HTTP/2 connection to `addr`; the task driving it ends when the server closes it.
async fn http2_connection(
    addr: std::net::SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Body>,
    tokio::task::JoinHandle<()>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driven = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, driven)
}

/// A health check over `sender`, answered `SERVING`.
async fn health_check(
    sender: &mut hyper::client::conn::http2::SendRequest<Body>,
    addr: std::net::SocketAddr,
) {
    let request = Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::new(http_body_util::Full::new(
            bytes::Bytes::from_static(&[0, 0, 0, 0, 0]),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let ended = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
    assert_eq!(ended.trailers().and_then(status_in), Some(Code::Ok));
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_and_excess_ones_refused_while_others_are_served() {
    use std::time::Duration;
    let (addr, server) = serve_health_with(ServerConfig {
        max_connections: 3,
        handshake_timeout_ms: 300,
        idle_timeout_secs: 1,
        ..ServerConfig::default()
    })
    .await;

    // A connection that never sends a thing: closed after the handshake timeout.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let silent = closed_within(silent, Duration::from_secs(5)).await;
    assert!(
        silent.is_some_and(|took| took < Duration::from_secs(2)),
        "a silent connection is closed after the handshake timeout: {silent:?}"
    );

    // A client that calls, then falls silent: closed (GOAWAY) a second after its last call.
    let (mut idle, idle_connection) = http2_connection(addr).await;
    health_check(&mut idle, addr).await;
    // A client that keeps calling is served throughout.
    let (mut busy, busy_connection) = http2_connection(addr).await;
    health_check(&mut busy, addr).await;
    // The third place taken by one that says nothing...
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ... which a newcomer, at the limit, displaces at once, and is served.
    let (mut newcomer, _) = http2_connection(addr).await;
    health_check(&mut newcomer, addr).await;
    assert!(
        closed_within(silent, Duration::from_millis(200))
            .await
            .is_some(),
        "at the limit, a silent connection makes room for a newcomer"
    );
    // With every place held by a client that spoke, one more is closed as soon as it is accepted.
    let excess = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(excess, Duration::from_millis(200))
            .await
            .is_some(),
        "a connection over the limit is closed at once"
    );

    let calling = async {
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(2_500) {
            health_check(&mut busy, addr).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (closed, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(5), idle_connection),
        calling
    );
    assert!(
        closed.is_ok(),
        "an idle connection is closed after the idle timeout"
    );
    assert!(
        !busy_connection.is_finished(),
        "a connection in use stays open"
    );
    // The idle connection's place is free again.
    let (mut again, _) = http2_connection(addr).await;
    health_check(&mut again, addr).await;
    server.stop().await;
}

#[tokio::test]
async fn bytes_that_are_no_message_or_too_many_are_the_callers_fault() {
    let (addr, server) = serve_health_and_reflection().await;
    let channel = crate::testing::channel_to(addr);
    // Raw gRPC frames: a flag byte, the length, the message.
    let frame = |length: u32, message: &[u8]| {
        let mut bytes = vec![0];
        bytes.extend(length.to_be_bytes());
        bytes.extend(message);
        bytes
    };
    let cases = [
        (frame(3, &[0xff, 0xff, 0xff]), Code::InvalidArgument),
        (frame(5 * 1024 * 1024, &[]), Code::ResourceExhausted),
        (frame(0, &[]), Code::Ok),
    ];
    for (body, expected) in cases {
        let request = Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Body::new(http_body_util::Full::new(bytes::Bytes::from(
                body,
            ))))
            .unwrap();
        let response = channel.clone().oneshot(request).await.unwrap();
        let code = match header_status(&response) {
            Some(code) => code,
            None => {
                let ended = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap();
                ended.trailers().and_then(status_in).unwrap()
            }
        };
        assert_eq!(code, expected);
    }
    server.stop().await;
}

#[tokio::test]
async fn answers_of_a_few_kilobytes_are_not_held_back_by_nagle() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let (addr, server) = serve_health_and_reflection().await;
    let mut client = ServerReflectionClient::new(crate::testing::channel_to(addr));
    let mut took = Vec::new();
    for _ in 0..10 {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "kommune.cases.v1.CaseService".into(),
            )),
        };
        let started = Instant::now();
        let mut answers = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let answer = answers.message().await.unwrap().unwrap();
        took.push(started.elapsed());
        let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
            panic!("no file descriptors in {answer:?}");
        };
        let size: usize = files.file_descriptor_proto.iter().map(Vec::len).sum();
        assert!(
            size > 2_000,
            "the answer should be a few kilobytes, was {size} bytes"
        );
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median < std::time::Duration::from_millis(20),
        "answers took {took:?}: held back by Nagle's algorithm?"
    );
    server.stop().await;
}

#[test]
fn paths_split_into_service_and_method() {
    assert_eq!(
        split_path("/kommune.identity.v1.UserService/CreateUser"),
        ("kommune.identity.v1.UserService", "CreateUser")
    );
    assert_eq!(split_path("garbage"), ("garbage", ""));
}

#[test]
fn only_public_rpcs_health_and_reflection_are_open() {
    assert!(is_open_path(
        "/kommune.identity.v1.TokenService/ExchangeApiKey"
    ));
    assert!(is_open_path("/grpc.health.v1.Health/Check"));
    assert!(is_open_path(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    ));
    assert!(!is_open_path("/kommune.identity.v1.TokenService/GetCaller"));
    assert!(!is_open_path("/kommune.identity.v1.UserService/CreateUser"));
}
