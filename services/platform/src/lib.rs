//! kommune-platform: the plumbing every kommune service shares, so each service holds only its domain.
//!
//! - [`config`]: typed configuration from flags and environment, with defaults that need nothing set
//! - [`telemetry`]: logs, OTLP traces and metrics, W3C trace context
//! - [`service`]: the suite's services as one list, and one way to run each (alone or embedded)
//! - [`server`]: the gRPC server with health, reflection, tracing, RED metrics, load shedding, auth,
//!   timeouts and graceful shutdown
//! - [`auth`]: token verification and the caller; [`client`]: calls between services
//! - [`error`]: the one error type and its mapping to `tonic::Status`
//! - [`db`], [`migration`]: database connections and the platform's own tables
//! - [`outbox`], [`audit`], [`idempotency`]: the transactional outbox and event feed, the audit
//!   chain, idempotency keys; [`records`]: the audit and event RPCs every service serves;
//!   [`consumer`]: following another service's feed
//! - [`retention`]: how long each kind of data is kept, and the sweep that removes what is due
//! - [`clock`], [`paging`], [`validate`], [`pii`]: time, cursor paging, request validation and the
//!   personal-ID guard

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod client;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod export;
pub mod idempotency;
pub mod migration;
pub mod money;
pub mod numbers;
pub mod outbox;
pub mod paging;
pub mod pii;
pub mod privacy;
pub mod records;
pub mod retention;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;

pub use error::{Error, FieldViolation, Reason, Result};

/// A boxed error for start-up paths.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The allocator every kommune binary sets as its global allocator (`#[global_allocator] static
/// ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;`). glibc's malloc took a
/// quarter of a filing's instructions and kept what an overload burst had allocated; mimalloc costs
/// a fraction per call and gives freed pages back to the system shortly after (docs/benchmarks.md).
/// Set by the binaries, not here, so a benchmark can count allocations with its own.
pub use mimalloc::MiMalloc as Allocator;
