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
        let call = inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
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
