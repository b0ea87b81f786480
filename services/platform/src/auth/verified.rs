//! The tokens this process has verified. A call's token is checked at the gateway, again at the
//! service (zero trust) and again when a service calls another on the caller's behalf; with the suite
//! in one process that was three signature checks of ~50 µs each. Here a token's verified claims are
//! kept, by a SHA-256 of the token, until the token expires, so each token costs one signature check
//! per process. A verifier accepts a remembered token only when it trusts its signer itself (it holds
//! the same key id, or trusts the same outside issuer), so remembering never widens trust.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::Caller;

/// How many tokens are remembered at most (a few hundred bytes each).
const CAPACITY: usize = 16_384;

/// Who signed a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Signer {
    /// One of identity's keys, by key id.
    Own(String),
    /// A configured outside issuer.
    External(String),
}

/// A token's verified claims.
#[derive(Debug, Clone)]
pub(super) struct Verified {
    /// Its signer.
    pub signer: Signer,
    /// Its caller, without the token itself (the key holds that).
    pub caller: Caller,
    /// When it expires (seconds since the epoch).
    pub expires: i64,
}

/// A token's fingerprint: what it is remembered by, so the map holds no bearer token.
pub(super) type Fingerprint = [u8; 32];

static VERIFIED: LazyLock<Mutex<HashMap<Fingerprint, Verified>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The fingerprint of `token`.
pub(super) fn fingerprint(token: &str) -> Fingerprint {
    Sha256::digest(token.as_bytes()).into()
}

/// What was verified of the token with `fingerprint`, if it was.
pub(super) fn recall(fingerprint: &Fingerprint) -> Option<Verified> {
    remembered().get(fingerprint).cloned()
}

/// Remembers a verified token. When full, the tokens expired by `now` go first; if none has, all are
/// forgotten (they are verified again on their next use), so memory stays bounded.
pub(super) fn remember(fingerprint: Fingerprint, verified: Verified, now: i64) {
    let mut tokens = remembered();
    if tokens.len() >= CAPACITY {
        tokens.retain(|_, v| v.expires >= now);
        if tokens.len() >= CAPACITY {
            tokens.clear();
        }
    }
    tokens.insert(fingerprint, verified);
}

/// Forgets every token signed by one of identity's keys that `still_published` no longer holds (a key
/// retired), so no retired key's token outlives it here.
pub(super) fn forget_retired(still_published: impl Fn(&str) -> bool) {
    remembered().retain(|_, v| match &v.signer {
        Signer::Own(key_id) => still_published(key_id),
        Signer::External(_) => true,
    });
}

fn remembered() -> std::sync::MutexGuard<'static, HashMap<Fingerprint, Verified>> {
    // The map holds no invariant a panic could break halfway.
    VERIFIED.lock().unwrap_or_else(PoisonError::into_inner)
}
