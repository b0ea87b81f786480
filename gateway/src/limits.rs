//! Rates per caller: a token bucket per principal (its subject, from the verified token) and, for
//! public RPCs, per client address, so no single caller can take the suite from the others. Past its
//! rate a call is refused `RESOURCE_EXHAUSTED` with `RetryInfo` (429 with `Retry-After` in JSON).
//! Buckets are per gateway replica: with N replicas behind a balancer a caller gets up to N times the
//! rate, so set each replica's rate to the suite's wanted rate divided by N.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::Request;
use tonic::{Code, Status};
use tonic_types::ErrorDetails;
#[cfg(test)]
use tonic_types::StatusExt;

use kommune_platform::Reason;
use kommune_platform::auth::Caller;
use kommune_proto::identity::v1::Role;

/// A rate: calls per second, and how many may come at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls per second, sustained.
    pub per_second: NonZeroU32,
    /// Calls at once.
    pub burst: NonZeroU32,
}

impl FromStr for Rate {
    type Err = String;

    /// `50/100`: 50 calls per second, bursts of 100.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a rate such as 50/100 (per second/burst)");
        let (per_second, burst) = text.split_once('/').ok_or_else(bad)?;
        Ok(Self {
            per_second: per_second.trim().parse().map_err(|_| bad())?,
            burst: burst.trim().parse().map_err(|_| bad())?,
        })
    }
}

impl Rate {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// Who a call is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Principal(String),
    Address(IpAddr),
}

/// The buckets of one gateway replica.
#[derive(Clone)]
pub struct Limits {
    /// Service accounts (`ROLE_SERVICE`): other municipal systems and kommune's own services.
    services: Arc<DefaultKeyedRateLimiter<Key>>,
    /// Every other principal.
    people: Arc<DefaultKeyedRateLimiter<Key>>,
    /// Public RPCs, by client address.
    addresses: Arc<DefaultKeyedRateLimiter<Key>>,
}

/// How often buckets back at full (callers idle long enough to have refilled) are dropped, so memory
/// follows the callers of the last minute, not every caller ever seen.
pub const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

impl Limits {
    /// Buckets at these rates.
    pub fn new(services: Rate, people: Rate, addresses: Rate) -> Self {
        let limiter = |rate: Rate| Arc::new(DefaultKeyedRateLimiter::keyed(rate.quota()));
        Self {
            services: limiter(services),
            people: limiter(people),
            addresses: limiter(addresses),
        }
    }

    /// Drops the buckets of idle callers (off the calls' path: see [`FORGET_IDLE_EVERY`]).
    pub fn forget_idle(&self) {
        for limiter in [&self.services, &self.people, &self.addresses] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Counts `request` against its caller (or its address, when it has no token): `Err` with the
    /// refusal when the caller is past its rate.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), Status> {
        let (limiter, key) = match request.extensions().get::<Caller>() {
            Some(caller) if caller.has_role(Role::Service) => {
                (&self.services, Key::Principal(caller.subject.clone()))
            }
            Some(caller) => (&self.people, Key::Principal(caller.subject.clone())),
            None => {
                let address = request
                    .extensions()
                    .get::<tonic::transport::server::TcpConnectInfo>()
                    .and_then(|info| info.remote_addr())
                    .map(|addr| addr.ip());
                match address {
                    Some(ip) => (&self.addresses, Key::Address(ip)),
                    None => return Ok(()),
                }
            }
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            refusal(wait)
        })
    }
}

fn refusal(wait: Duration) -> Status {
    let wait = wait.max(Duration::from_millis(1));
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(wait));
    kommune_platform::error::refusal(
        Code::ResourceExhausted,
        format!("too many calls; retry in {} ms", wait.as_millis()),
        Reason::RateLimited,
        Default::default(),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_per_second_and_burst() {
        let rate: Rate = "50/100".parse().unwrap();
        assert_eq!((rate.per_second.get(), rate.burst.get()), (50, 100));
        assert!("50".parse::<Rate>().is_err());
        assert!("0/10".parse::<Rate>().is_err());
    }

    #[test]
    fn a_caller_past_its_burst_is_refused_with_a_retry_delay_and_others_are_not() {
        let one = "1/2".parse().unwrap();
        let limits = Limits::new(one, one, one);
        let request = |subject: &str| {
            let mut request = Request::new(());
            request.extensions_mut().insert(Caller {
                subject: subject.into(),
                municipality_id: None,
                roles: vec![Role::MunicipalCaseworker],
                token: String::new(),
            });
            request
        };
        assert!(limits.check(&request("user:a")).is_ok());
        assert!(limits.check(&request("user:a")).is_ok());
        let refused = limits.check(&request("user:a")).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        let wait = refused
            .get_details_retry_info()
            .unwrap()
            .retry_delay
            .unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limits.check(&request("user:b")).is_ok());
    }

    #[test]
    fn idle_callers_buckets_are_forgotten() {
        let fast = "1000/1".parse().unwrap();
        let limits = Limits::new(fast, fast, fast);
        let mut request = Request::new(());
        request.extensions_mut().insert(Caller {
            subject: "user:idle".into(),
            municipality_id: None,
            roles: vec![Role::MunicipalCaseworker],
            token: String::new(),
        });
        limits.check(&request).unwrap();
        assert_eq!(limits.people.len(), 1);
        std::thread::sleep(Duration::from_millis(20));
        limits.forget_idle();
        assert_eq!(limits.people.len(), 0);
    }
}
