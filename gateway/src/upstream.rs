//! The services behind the gateway and their replicas. A service's address is one URI or several,
//! comma-separated; a name that resolves to several addresses (a headless Kubernetes Service) is one
//! replica per address, resolved again every [`RESOLVE_EVERY`]. Each replica is health-checked by the
//! gateway (`lib.rs`) and ejected for a while after calls to it keep failing to connect or keep ending
//! unanswered (outlier detection, as Envoy and Linkerd do); a call goes to the less busy of two
//! replicas that are in service, so one hung replica never stalls callers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use http::Uri;
use tokio::time::Instant;

use kommune_platform::BoxError;

/// How often names are resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(10);
/// Failures in a row that eject a replica.
const FAILURES_TO_EJECT: u32 = 5;
/// How long a first ejection lasts; each further one lasts twice as long, up to [`LONGEST_EJECTION`].
const FIRST_EJECTION: Duration = Duration::from_secs(10);
const LONGEST_EJECTION: Duration = Duration::from_secs(300);
/// A call dropped unanswered after this long counts against its replica (its deadline passed);
/// one dropped sooner was most likely given up by its caller.
pub const UNANSWERED_AFTER: Duration = Duration::from_millis(500);

/// One replica of a service.
#[derive(Debug)]
pub struct Replica {
    /// Where it serves, e.g. `http://10.0.3.7:50051`.
    pub base: Uri,
    healthy: AtomicBool,
    in_flight: AtomicUsize,
    failures_in_a_row: AtomicU32,
    ejection: Mutex<Ejection>,
}

#[derive(Debug, Default)]
struct Ejection {
    until: Option<Instant>,
    times: u32,
}

impl Replica {
    fn new(base: Uri) -> Self {
        Self {
            base,
            healthy: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
            failures_in_a_row: AtomicU32::new(0),
            ejection: Mutex::new(Ejection::default()),
        }
    }

    /// Records what the latest health check found.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Whether calls may go to it now: healthy, and not ejected.
    pub fn in_service(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
            && self
                .ejection
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .until
                .is_none_or(|until| Instant::now() >= until)
    }

    /// Counts a call to it until the guard is told how it went (or dropped).
    pub fn begin(self: &Arc<Self>) -> Call {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Call {
            replica: self.clone(),
            started: Instant::now(),
            ended: false,
        }
    }

    fn succeeded(&self) {
        self.failures_in_a_row.store(0, Ordering::Relaxed);
    }

    /// One more failure in a row; the fifth ejects it.
    fn failed(&self) {
        if self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 < FAILURES_TO_EJECT {
            return;
        }
        self.failures_in_a_row.store(0, Ordering::Relaxed);
        let mut ejection = self.ejection.lock().unwrap_or_else(PoisonError::into_inner);
        let lasts = FIRST_EJECTION
            .saturating_mul(1 << ejection.times.min(8))
            .min(LONGEST_EJECTION);
        ejection.until = Some(Instant::now() + lasts);
        ejection.times += 1;
        tracing::warn!(replica = %self.base, ejected_for = ?lasts, "calls keep failing: replica ejected");
    }
}

/// A call to a replica in progress.
#[derive(Debug)]
pub struct Call {
    replica: Arc<Replica>,
    started: Instant,
    ended: bool,
}

impl Call {
    /// The replica answered.
    pub fn answered(mut self) {
        self.ended = true;
        self.replica.succeeded();
    }

    /// The replica could not be reached.
    pub fn unreachable(mut self) {
        self.ended = true;
        self.replica.failed();
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.replica.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.ended && self.started.elapsed() >= UNANSWERED_AFTER {
            self.replica.failed();
        }
    }
}

/// A service's replicas, as last resolved.
#[derive(Debug)]
pub struct Upstream {
    /// The addresses as configured.
    addresses: Vec<Uri>,
    replicas: RwLock<Arc<Vec<Arc<Replica>>>>,
    turn: AtomicUsize,
}

impl Upstream {
    /// A service at `addresses` (one URI, or several comma-separated), each taken as one replica until
    /// resolved.
    pub fn parse(addresses: &str) -> Result<Self, BoxError> {
        let addresses = addresses
            .split(',')
            .map(|address| Ok(address.trim().parse::<Uri>()?))
            .collect::<Result<Vec<Uri>, BoxError>>()?;
        let replicas = addresses
            .iter()
            .map(|uri| Arc::new(Replica::new(uri.clone())))
            .collect();
        Ok(Self {
            addresses,
            replicas: RwLock::new(Arc::new(replicas)),
            turn: AtomicUsize::new(0),
        })
    }

    /// The replicas now.
    pub fn replicas(&self) -> Arc<Vec<Arc<Replica>>> {
        self.replicas
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Where the next call goes: of two replicas in service taken in turn, the one with fewer calls in
    /// progress; `None` when no replica is in service.
    pub fn pick(&self) -> Option<Arc<Replica>> {
        let replicas = self.replicas();
        // Without collecting: this runs on every call.
        let in_service = || replicas.iter().filter(|r| r.in_service());
        let count = in_service().count();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let first = in_service().nth(turn % count.max(1))?;
        let second = in_service().nth((turn + 1) % count).unwrap_or(first);
        let busy = |r: &Replica| r.in_flight.load(Ordering::Relaxed);
        Some(
            if busy(second) < busy(first) {
                second
            } else {
                first
            }
            .clone(),
        )
    }

    /// Resolves the configured names again: a replica per address found, keeping the state of those
    /// already known. While a name does not resolve, the replicas stay as they are.
    pub async fn resolve(&self) {
        let mut bases = Vec::new();
        for address in &self.addresses {
            let resolved = resolve(address).await;
            if resolved.is_empty() {
                return;
            }
            bases.extend(resolved);
        }
        bases.sort_by_key(ToString::to_string);
        bases.dedup();
        let known: HashMap<Uri, Arc<Replica>> = self
            .replicas()
            .iter()
            .map(|r| (r.base.clone(), r.clone()))
            .collect();
        let replicas = bases
            .into_iter()
            .map(|base| {
                known
                    .get(&base)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Replica::new(base)))
            })
            .collect();
        *self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(replicas);
    }
}

/// Whether `address` names its host by an IP address (nothing to resolve).
fn is_ip(address: &Uri) -> bool {
    address
        .host()
        .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
        .is_some_and(|host| host.parse::<IpAddr>().is_ok())
}

/// The replicas' base URIs `address` stands for: itself when its host is an IP address, else one per
/// address its name resolves to (none when it does not resolve).
async fn resolve(address: &Uri) -> Vec<Uri> {
    if is_ip(address) {
        return vec![address.clone()];
    }
    let (Some(host), Some(scheme)) = (address.host(), address.scheme_str()) else {
        return Vec::new();
    };
    let port = address
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let Ok(found) = tokio::net::lookup_host((host, port)).await else {
        return Vec::new();
    };
    found
        .filter_map(|socket| format!("{scheme}://{socket}").parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(base: &str) -> Arc<Replica> {
        Arc::new(Replica::new(
            base.parse().unwrap_or_else(|_| unreachable!()),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_whose_calls_keep_failing_is_ejected_for_a_while_longer_each_time() {
        let replica = replica("http://127.0.0.1:1");
        for _ in 0..FAILURES_TO_EJECT - 1 {
            replica.begin().unreachable();
        }
        assert!(
            replica.in_service(),
            "four failures in a row are not enough"
        );
        replica.begin().answered();
        for _ in 0..FAILURES_TO_EJECT - 1 {
            replica.begin().unreachable();
        }
        assert!(replica.in_service(), "an answer starts the count again");
        // Calls given up by their deadline count too; calls given up at once do not.
        for _ in 0..FAILURES_TO_EJECT {
            drop(replica.begin());
        }
        assert!(replica.in_service());
        let unanswered = replica.begin();
        tokio::time::advance(UNANSWERED_AFTER).await;
        drop(unanswered);
        assert!(!replica.in_service(), "the fifth failure ejects");
        tokio::time::advance(FIRST_EJECTION).await;
        assert!(replica.in_service(), "back after the ejection");
        for _ in 0..FAILURES_TO_EJECT {
            replica.begin().unreachable();
        }
        tokio::time::advance(FIRST_EJECTION).await;
        assert!(!replica.in_service(), "the second ejection lasts longer");
        tokio::time::advance(FIRST_EJECTION).await;
        assert!(replica.in_service());
    }

    #[test]
    fn calls_go_to_replicas_in_service_and_the_less_busy_first() {
        let upstream = Upstream::parse("http://127.0.0.1:1, http://127.0.0.1:2")
            .unwrap_or_else(|_| unreachable!());
        let replicas = upstream.replicas();
        assert_eq!(replicas.len(), 2);
        let busy = replicas[0].begin();
        for _ in 0..4 {
            assert_eq!(
                upstream.pick().map(|r| r.base.clone()),
                Some(replicas[1].base.clone()),
                "the idle replica is picked"
            );
        }
        drop(busy);
        replicas[1].set_healthy(false);
        for _ in 0..4 {
            assert_eq!(
                upstream.pick().map(|r| r.base.clone()),
                Some(replicas[0].base.clone())
            );
        }
        replicas[0].set_healthy(false);
        assert!(upstream.pick().is_none(), "none in service");
    }

    #[tokio::test]
    async fn a_name_becomes_a_replica_per_address_and_known_replicas_keep_their_state() {
        let upstream = Upstream::parse("http://localhost:50051").unwrap_or_else(|_| unreachable!());
        upstream.resolve().await;
        let resolved: Vec<String> = upstream
            .replicas()
            .iter()
            .map(|r| r.base.to_string())
            .collect();
        assert!(
            resolved.contains(&"http://127.0.0.1:50051/".to_owned()),
            "{resolved:?}"
        );
        upstream.replicas()[0].set_healthy(false);
        upstream.resolve().await;
        assert!(
            !upstream.replicas()[0].in_service(),
            "the same replica, as it was"
        );

        let fixed = Upstream::parse("http://10.0.0.1:50051").unwrap_or_else(|_| unreachable!());
        fixed.resolve().await;
        assert_eq!(fixed.replicas().len(), 1);
    }
}
