//! How every kommune server takes its connections: at most so many at once (at the limit a new one
//! displaces the oldest that has not yet greeted the server, or is closed as soon as it is accepted,
//! never left to queue), each pinged over HTTP/2 so a dead peer is noticed, given a deadline to greet
//! the server and closed after a while without any call in progress; an accept loop that backs off
//! when the process is out of file descriptors instead of spinning; and a drain on shutdown that lets
//! calls in progress finish.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tonic::transport::server::TcpConnectInfo;
use tower::{Service, ServiceExt};

use crate::BoxError;
use crate::config::ServerConfig;

/// The service a server serves on each connection: every call answered, none failing.
pub(super) trait Served<B>:
    Service<
        Request<tonic::body::Body>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> Served<B> for S where
    S: Service<
            Request<tonic::body::Body>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// File descriptors kept back from connections, for database pools, files and outgoing calls.
const RESERVED_DESCRIPTORS: u64 = 256;
/// How long the accept loop waits when the process has no file descriptor left.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a connection told to close (idle, or the server stopping) may take to finish its calls.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a new connection waits for the place of one evicted to make room for it.
const EVICTION_WAIT: Duration = Duration::from_millis(100);
/// What a client sends first on an HTTP/2 connection (RFC 9113, 3.4); an HTTP/1 request head is
/// longer. A connection that has sent this much has greeted the server.
const GREETING_BYTES: usize = 24;

/// Raises the process's soft limit on open files to its hard limit, where the system allows, and
/// answers the limit now in force (`None` where there is none to read).
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!(error = %err, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connections a server takes at once: as configured, and below the open-file limit with room
/// for the rest of the process, so that accepting never runs the process out of descriptors.
fn connection_cap(configured: usize, open_file_limit: Option<u64>) -> usize {
    let fitting = open_file_limit.map_or(u64::MAX, |limit| {
        if limit > 2 * RESERVED_DESCRIPTORS {
            limit - RESERVED_DESCRIPTORS
        } else {
            limit / 2
        }
    });
    configured
        .min(usize::try_from(fitting).unwrap_or(usize::MAX))
        .max(1)
}

/// Serves `service` on the connections `listener` accepts until `shutdown` completes, then stops
/// accepting, tells every connection to close (HTTP/2 GOAWAY) and waits for their calls to end, at
/// most the request timeout.
pub(super) async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    config: &ServerConfig,
    accept_http1: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError>
where
    S: Served<B>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let cap = connection_cap(config.max_connections, raise_open_file_limit());
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, stopping) = watch::channel(false);
    let timing = Timing::of(config);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if !accept_http1 {
        builder = builder.http2_only();
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(timing.keepalive_interval))
        .keep_alive_timeout(timing.keepalive_timeout);
    // hyper enforces its HTTP/1 header read timeout (30 s) only with a timer.
    builder.http1().timer(TokioTimer::new());

    tokio::pin!(shutdown);
    let mut refused_since_warning = 0_u64;
    let mut silent = Silent::default();
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) if out_of_descriptors(&err) => {
                    tracing::warn!(error = %err, "out of file descriptors: accepting again shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
                // A connection that went away before it was accepted, and the like.
                Err(err) => {
                    tracing::debug!(error = %err, "a connection could not be accepted");
                    continue;
                }
            },
        };
        // At the limit, a connection that has not even greeted the server makes room for the new
        // one (the oldest such), so a flood of silent connections cannot keep others out.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if silent.evict_oldest() => {
                tokio::time::timeout(EVICTION_WAIT, permits.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(permit) = permit else {
            // Closed at once: the client learns now, not after a queue, and may go elsewhere.
            drop(stream);
            refused_since_warning += 1;
            if refused_since_warning == 1 || refused_since_warning.is_multiple_of(1_000) {
                tracing::warn!(
                    limit = cap,
                    refused = refused_since_warning,
                    "connection limit reached: refusing connections"
                );
            }
            continue;
        };
        refused_since_warning = 0;
        // Nagle off: an answer must not wait for the client's delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            info: TcpConnectInfo {
                local_addr: stream.local_addr().ok(),
                remote_addr: Some(remote),
            },
            activity: Arc::new(Activity::new()),
            timing: timing.clone(),
        };
        silent.add(&connection.activity, cap);
        tokio::spawn(connection.serve(
            stream,
            service.clone(),
            builder.clone(),
            stopping.clone(),
            permit,
        ));
    }
    // The listening socket closes first, so new clients are refused rather than left waiting.
    drop(listener);
    let _ = stop.send(true);
    // Each connection holds a permit until it ends: having them all back means all have ended.
    let _ = permits
        .acquire_many(u32::try_from(cap).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// The connections that may not yet have greeted the server, oldest first: those a new connection
/// may evict at the limit. Connections that greet or end are pruned as the list is used, so it holds
/// about the connections of the last handshake timeout.
#[derive(Default)]
struct Silent(std::collections::VecDeque<std::sync::Weak<Activity>>);

impl Silent {
    /// Adds a new connection; past `cap` entries, drops those that greeted or ended.
    fn add(&mut self, activity: &Arc<Activity>, cap: usize) {
        self.prune_front();
        if self.0.len() >= cap {
            self.0
                .retain(|entry| entry.upgrade().is_some_and(|a| !a.calls().greeted()));
        }
        self.0.push_back(Arc::downgrade(activity));
    }

    /// Drops the entries at the front that greeted or ended.
    fn prune_front(&mut self) {
        while self
            .0
            .front()
            .is_some_and(|entry| entry.upgrade().is_none_or(|a| a.calls().greeted()))
        {
            self.0.pop_front();
        }
    }

    /// Tells the oldest connection that has not greeted the server to close; whether there was one.
    fn evict_oldest(&mut self) -> bool {
        self.prune_front();
        let Some(oldest) = self.0.pop_front().and_then(|entry| entry.upgrade()) else {
            return false;
        };
        oldest.evict.notify_one();
        true
    }
}

/// Whether an accept failed because the process or system has no file descriptor (or memory) left.
fn out_of_descriptors(err: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(err.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The timeouts of one server's connections.
#[derive(Debug, Clone)]
struct Timing {
    handshake: Duration,
    idle: Duration,
    keepalive_interval: Duration,
    keepalive_timeout: Duration,
    drain: Duration,
}

impl Timing {
    fn of(config: &ServerConfig) -> Self {
        Self {
            handshake: Duration::from_millis(config.handshake_timeout_ms),
            idle: Duration::from_secs(config.idle_timeout_secs),
            keepalive_interval: Duration::from_secs(config.keepalive_interval_secs),
            keepalive_timeout: Duration::from_secs(config.keepalive_timeout_secs),
            drain: config.request_timeout(),
        }
    }
}

/// One accepted connection.
struct Connection {
    info: TcpConnectInfo,
    activity: Arc<Activity>,
    timing: Timing,
}

impl Connection {
    /// Serves the connection until the client closes it, it does not greet the server in time, it
    /// sits idle too long, or the server stops.
    async fn serve<S, B>(
        self,
        stream: TcpStream,
        service: S,
        builder: auto::Builder<TokioExecutor>,
        mut stopping: watch::Receiver<bool>,
        _permit: OwnedSemaphorePermit,
    ) where
        S: Served<B>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let accepted = Instant::now();
        let tracked = Tracked {
            inner: service,
            activity: self.activity.clone(),
            info: self.info.clone(),
        };
        let stream = Counted {
            inner: stream,
            activity: self.activity.clone(),
        };
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(tracked));
        tokio::pin!(connection);
        // Once told to close: the time its calls have left.
        let mut closing: Option<Instant> = None;
        loop {
            let due = self.activity.due(accepted, &self.timing);
            // Busy, it is looked at again an idle timeout from now.
            let check = closing
                .or(due.as_ref().map(|(_, at)| *at))
                .unwrap_or_else(|| Instant::now() + self.timing.idle);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = self.activity.evict.notified() => return,
                () = tokio::time::sleep_until(check) => {
                    if closing.is_some() {
                        return;
                    }
                    // Looked at again: a call may have begun or ended while it slept.
                    match self.activity.due(accepted, &self.timing) {
                        Some((Timeout::Handshake, at)) if at <= Instant::now() => return,
                        Some((Timeout::Idle, at)) if at <= Instant::now() => {
                            connection.as_mut().graceful_shutdown();
                            closing = Some(Instant::now() + IDLE_CLOSE_GRACE);
                        }
                        _ => {}
                    }
                }
                _ = stopping.changed(), if closing.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + self.timing.drain);
                }
            }
        }
    }
}

/// What a connection is doing, for its timeouts.
#[derive(Debug)]
struct Activity {
    calls: Mutex<Calls>,
    /// Set once the client has greeted the server, so reads after that take no lock.
    greeted: std::sync::atomic::AtomicBool,
    /// Told when a new connection needs this one's place.
    evict: tokio::sync::Notify,
}

#[derive(Debug)]
struct Calls {
    /// Calls in progress (a call ends when its answer's body does).
    in_flight: usize,
    /// Bytes received, counted until the client has greeted the server.
    received: usize,
    /// When the last call ended (or the connection was accepted).
    idle_since: Instant,
}

impl Calls {
    fn greeted(&self) -> bool {
        self.received >= GREETING_BYTES
    }
}

/// The timeout a connection runs against now.
#[derive(Debug, PartialEq, Eq)]
enum Timeout {
    /// The client has not yet greeted the server.
    Handshake,
    /// No call is in progress.
    Idle,
}

impl Activity {
    fn new() -> Self {
        Self {
            calls: Mutex::new(Calls {
                in_flight: 0,
                received: 0,
                idle_since: Instant::now(),
            }),
            greeted: std::sync::atomic::AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        }
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call from now until the returned guard is dropped.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.calls().in_flight += 1;
        InFlight(self.clone())
    }

    /// Counts `bytes` received, until the client has greeted the server.
    fn received(&self, bytes: usize) {
        use std::sync::atomic::Ordering;
        if self.greeted.load(Ordering::Relaxed) {
            return;
        }
        let mut calls = self.calls();
        calls.received += bytes;
        if calls.greeted() {
            self.greeted.store(true, Ordering::Relaxed);
        }
    }

    /// The timeout the connection runs against now and when it falls due; `None` while a call is in
    /// progress (calls may take as long as they need).
    fn due(&self, accepted: Instant, timing: &Timing) -> Option<(Timeout, Instant)> {
        let calls = self.calls();
        if !calls.greeted() {
            Some((Timeout::Handshake, accepted + timing.handshake))
        } else if calls.in_flight == 0 {
            Some((Timeout::Idle, calls.idle_since + timing.idle))
        } else {
            None
        }
    }
}

/// A call in progress; its end when dropped.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut calls = self.0.calls();
        calls.in_flight -= 1;
        if calls.in_flight == 0 {
            calls.idle_since = Instant::now();
        }
    }
}

/// A connection's socket, counting what the client sends until it has greeted the server.
struct Counted {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.received(read);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The server's service on one connection: counts its calls and tells them the connection's
/// addresses.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    info: TcpConnectInfo,
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    // Spelled out: the response type must name `B` for the impl to be well-formed.
    S: Served<B> + Service<Request<tonic::body::Body>, Response = Response<B>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<TrackedBody<B>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        let mut request = request.map(tonic::body::Body::new);
        request.extensions_mut().insert(self.info.clone());
        let inner = self.inner.clone();
        Box::pin(async move {
            let response = inner.oneshot(request).await?;
            Ok(response.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// An answer's body, which keeps its call counted until it ends.
    struct TrackedBody<B> {
        #[pin]
        inner: B,
        _in_flight: InFlight,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_below_the_open_file_limit() {
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10_000, Some(1_024)), 1_024 - 256);
        assert_eq!(connection_cap(100, Some(1_024)), 100);
        assert_eq!(connection_cap(10_000, Some(300)), 150);
        assert_eq!(connection_cap(10_000, Some(0)), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_does_not_greet_times_out_then_one_without_calls() {
        let timing = Timing {
            handshake: Duration::from_secs(2),
            idle: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(30),
        };
        let accepted = Instant::now();
        let activity = Arc::new(Activity::new());
        assert_eq!(
            activity.due(accepted, &timing),
            Some((Timeout::Handshake, accepted + timing.handshake))
        );

        activity.received(GREETING_BYTES - 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            activity.due(accepted, &timing).map(|(t, _)| t),
            Some(Timeout::Handshake)
        );
        activity.received(1);
        let call = activity.begin();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            activity.due(accepted, &timing),
            None,
            "a call in progress, however long, keeps its connection"
        );
        drop(call);
        assert_eq!(
            activity.due(accepted, &timing),
            Some((Timeout::Idle, Instant::now() + timing.idle)),
            "idle from the end of the last call"
        );
    }
}
