//! Deadlines: a call has until the caller's `grpc-timeout`, at most the server's request timeout, to
//! answer; past it the call is dropped and answers DEADLINE_EXCEEDED (which callers know to mean
//! "too late", unlike the CANCELLED tonic's own timeout answers).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use tonic::{Code, Status};
use tower::{Layer, Service};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The header a gRPC caller states its deadline in.
const GRPC_TIMEOUT: &str = "grpc-timeout";

tokio::task_local! {
    /// When the call being served must have answered by.
    static CALL_DEADLINE: tokio::time::Instant;
}

/// What is left of the deadline of the call being served, when run within one: calls made on its
/// behalf to other services carry it on, so nobody works on for a caller that has gone.
pub fn remaining_deadline() -> Option<Duration> {
    CALL_DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(tokio::time::Instant::now()))
        .ok()
}

/// The deadline a caller asks for in `grpc-timeout` (up to eight digits and a unit), if it asks for
/// one it can: a malformed one is ignored, as gRPC's servers do.
fn requested_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(GRPC_TIMEOUT)?.to_str().ok()?;
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Gives every call its deadline.
#[derive(Clone)]
pub(super) struct DeadlineLayer {
    /// The longest any call may take.
    pub cap: Duration,
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            cap: self.cap,
        }
    }
}

/// Answers DEADLINE_EXCEEDED for a call that has not answered by its deadline.
#[derive(Clone)]
pub(super) struct Deadline<S> {
    inner: S,
    cap: Duration,
}

impl<S, B, R> Service<Request<B>> for Deadline<S>
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
        let limit =
            requested_timeout(request.headers()).map_or(self.cap, |asked| asked.min(self.cap));
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deadline = tokio::time::Instant::now() + limit;
        let call = CALL_DEADLINE.scope(deadline, inner.call(request));
        Box::pin(async move {
            match tokio::time::timeout_at(deadline, call).await {
                Ok(answered) => answered,
                Err(_) => Ok(Status::new(
                    Code::DeadlineExceeded,
                    format!(
                        "no answer within the call's deadline ({} ms)",
                        limit.as_millis()
                    ),
                )
                .into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(
            GRPC_TIMEOUT,
            value.parse().unwrap_or_else(|_| unreachable!()),
        );
        requested_timeout(&headers)
    }

    #[test]
    fn a_callers_timeout_is_read_in_every_unit() {
        assert_eq!(asking("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(asking("3M"), Some(Duration::from_secs(180)));
        assert_eq!(asking("10S"), Some(Duration::from_secs(10)));
        assert_eq!(asking("250m"), Some(Duration::from_millis(250)));
        assert_eq!(asking("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(asking("5n"), Some(Duration::from_nanos(5)));
        for malformed in ["", "S", "123456789S", "10s", "-1S", "1.5S", "10"] {
            assert_eq!(asking(malformed), None, "{malformed:?}");
        }
        assert_eq!(requested_timeout(&HeaderMap::new()), None);
    }

    /// The code a call through a deadline of `cap` answers, sent with `grpc-timeout: asked` when
    /// given, to a service that takes `takes` to answer.
    async fn answer(cap: Duration, asked: Option<&str>, takes: Duration) -> (Code, Duration) {
        use tower::ServiceExt;
        let slow = tower::service_fn(move |_: Request<()>| async move {
            tokio::time::sleep(takes).await;
            Ok::<_, std::convert::Infallible>(Response::new(tonic::body::Body::default()))
        });
        let mut request = Request::new(());
        if let Some(asked) = asked {
            request.headers_mut().insert(
                GRPC_TIMEOUT,
                asked.parse().unwrap_or_else(|_| unreachable!()),
            );
        }
        let started = tokio::time::Instant::now();
        let response = DeadlineLayer { cap }
            .layer(slow)
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let code = Status::from_header_map(response.headers()).map_or(Code::Ok, |s| s.code());
        (code, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_left_is_known_while_serving_and_carried_on_calls_made_for_the_caller() {
        use tower::ServiceExt;
        let caller = crate::auth::Caller {
            token: "token".into(),
            ..crate::auth::Caller::system("test")
        };
        let serve = tower::service_fn(move |_: Request<()>| {
            let caller = caller.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let left = remaining_deadline();
                let onward = crate::client::on_behalf_of(&caller, ());
                let mut response = Response::new(tonic::body::Body::default());
                response.headers_mut().insert(
                    "left-ms",
                    left.map_or(u128::MAX, |left| left.as_millis())
                        .to_string()
                        .parse()
                        .unwrap_or_else(|_| unreachable!()),
                );
                if let Some(onward) = onward.metadata().get(GRPC_TIMEOUT) {
                    response.headers_mut().insert(
                        "onward-timeout",
                        onward
                            .to_str()
                            .unwrap_or_default()
                            .parse()
                            .unwrap_or_else(|_| unreachable!()),
                    );
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let mut request = Request::new(());
        request.headers_mut().insert(
            GRPC_TIMEOUT,
            "500m".parse().unwrap_or_else(|_| unreachable!()),
        );
        let response = DeadlineLayer {
            cap: Duration::from_secs(30),
        }
        .layer(serve)
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("left-ms"), "350", "500 ms asked, 150 ms spent");
        let onward = header("onward-timeout");
        let mut onward_headers = HeaderMap::new();
        onward_headers.insert(
            GRPC_TIMEOUT,
            onward.parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(
            requested_timeout(&onward_headers),
            Some(Duration::from_millis(350)),
            "the onward call's grpc-timeout: {onward:?}"
        );
        assert_eq!(remaining_deadline(), None, "outside a call there is none");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_deadline_answers_deadline_exceeded() {
        let second = Duration::from_secs(1);
        assert_eq!(answer(30 * second, None, second).await, (Code::Ok, second));
        assert_eq!(
            answer(30 * second, Some("200m"), 10 * second).await,
            (Code::DeadlineExceeded, Duration::from_millis(200)),
            "the caller's deadline"
        );
        assert_eq!(
            answer(2 * second, Some("1H"), 10 * second).await,
            (Code::DeadlineExceeded, 2 * second),
            "capped by the server's"
        );
        assert_eq!(
            answer(2 * second, None, 10 * second).await,
            (Code::DeadlineExceeded, 2 * second)
        );
    }
}
