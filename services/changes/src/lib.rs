//! kommune changes: change requests ("ændringsønsker") and the release timeline that decides when each
//! can happen.
//!
//! This first slice holds the service's domain rules: the 42-week release timeline on ISO weeks
//! ([`domain::timeline`]). The gRPC service, its store and the conversion from a support case build on it
//! (issue #6).

pub mod domain;
