//! The audit key: one secret per service, from configuration and never in the database, that seals
//! each audit record (HMAC-SHA-256 over its fields) and signs the log's checkpoints (Ed25519). With it
//! out of the database, write access to the database alone can neither forge a record nor re-seal an
//! edited chain, nor sign a checkpoint over a rewritten log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Why a configured audit key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadAuditKey {
    /// Not base64 text.
    #[error("an audit key is not base64")]
    NotBase64,
    /// Not 32 bytes.
    #[error("an audit key must be 32 bytes")]
    NotThirtyTwoBytes,
}

/// One audit key: what seals records and signs checkpoints, and its public half.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    seal: Hmac<Sha256>,
    signing: SigningKey,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A key from base64 of 32 random bytes; the sealing and signing keys are derived from it, so
    /// one secret is configured.
    pub fn from_base64(secret: &str) -> Result<Self, BadAuditKey> {
        let bytes = STANDARD
            .decode(secret.trim())
            .map_err(|_| BadAuditKey::NotBase64)?;
        if bytes.len() != 32 {
            return Err(BadAuditKey::NotThirtyTwoBytes);
        }
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let seal = <Hmac<Sha256> as Mac>::new_from_slice(&derive(b"kommune audit record seal"))
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        let signing = SigningKey::from_bytes(&derive(b"kommune audit checkpoint signing"));
        Ok(Self {
            id: key_id(signing.verifying_key().as_bytes()),
            seal,
            signing,
        })
    }

    /// A new random key, base64-encoded.
    pub fn generate() -> Result<String, Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(Error::internal)?;
        Ok(STANDARD.encode(key))
    }

    /// A new random key, for tests and tools.
    pub fn random() -> Self {
        Self::generate()
            .ok()
            .and_then(|secret| Self::from_base64(&secret).ok())
            .unwrap_or_else(|| unreachable!("a generated key is valid"))
    }

    /// Its id: the first 8 bytes of SHA-256 of its public key, in hex.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Ed25519 public key checkpoints are verified with.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Hex HMAC-SHA-256 over `fields`, each length-prefixed so no two field lists seal alike.
    pub fn seal(&self, fields: &[&str]) -> String {
        let mut mac = self.seal.clone();
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The Ed25519 signature of `note`.
    pub fn sign(&self, note: &str) -> [u8; 64] {
        self.signing.sign(note.as_bytes()).to_bytes()
    }
}

/// The id of the key with this public key.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Whether `signature` is the Ed25519 signature of `note` by `public_key`.
pub fn signature_holds(public_key: &[u8], note: &str, signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (
        <[u8; 32]>::try_from(public_key),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    VerifyingKey::from_bytes(&key).is_ok_and(|key| {
        key.verify(note.as_bytes(), &Signature::from_bytes(&signature))
            .is_ok()
    })
}

/// A service's audit keys: the current one seals and signs; earlier ones (after a rotation) still
/// verify what they sealed and signed.
#[derive(Debug, Clone)]
pub struct AuditKeys {
    current: AuditKey,
    previous: Vec<AuditKey>,
}

impl AuditKeys {
    /// The current key and the earlier ones.
    pub fn new(current: AuditKey, previous: Vec<AuditKey>) -> Self {
        Self { current, previous }
    }

    /// From configuration: the current key and a comma-separated list of earlier ones (base64).
    pub fn from_config(current: &str, previous: &str) -> Result<Self, BadAuditKey> {
        let previous = previous
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(AuditKey::from_base64)
            .collect::<Result<_, _>>()?;
        Ok(Self::new(AuditKey::from_base64(current)?, previous))
    }

    /// Keys of a fresh random secret, for tests and tools.
    pub fn random() -> Self {
        Self::new(AuditKey::random(), Vec::new())
    }

    /// The key that seals and signs now.
    pub fn current(&self) -> &AuditKey {
        &self.current
    }

    /// The key with this id, current or earlier.
    pub fn by_id(&self, id: &str) -> Option<&AuditKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_secret_gives_the_same_key_and_another_a_different_one() {
        let secret = AuditKey::generate().unwrap();
        let (a, b) = (
            AuditKey::from_base64(&secret).unwrap(),
            AuditKey::from_base64(&secret).unwrap(),
        );
        assert_eq!(a.id(), b.id());
        assert_eq!(a.seal(&["x", "y"]), b.seal(&["x", "y"]));
        let other = AuditKey::random();
        assert_ne!(a.id(), other.id());
        assert_ne!(a.seal(&["x", "y"]), other.seal(&["x", "y"]));
        assert_eq!(a.id().len(), 16);
    }

    #[test]
    fn fields_are_sealed_apart() {
        let key = AuditKey::random();
        assert_ne!(key.seal(&["ab", "c"]), key.seal(&["a", "bc"]));
    }

    #[test]
    fn signatures_hold_only_for_their_note_and_key() {
        let key = AuditKey::random();
        let signature = key.sign("tree_size 3");
        assert!(signature_holds(
            &key.public_key(),
            "tree_size 3",
            &signature
        ));
        assert!(!signature_holds(
            &key.public_key(),
            "tree_size 4",
            &signature
        ));
        let other = AuditKey::random();
        assert!(!signature_holds(
            &other.public_key(),
            "tree_size 3",
            &signature
        ));
        assert!(!signature_holds(b"short", "tree_size 3", &signature));
    }

    #[test]
    fn bad_keys_are_named() {
        assert_eq!(
            AuditKey::from_base64("not base64!").unwrap_err(),
            BadAuditKey::NotBase64
        );
        assert_eq!(
            AuditKey::from_base64("AAAA").unwrap_err(),
            BadAuditKey::NotThirtyTwoBytes
        );
        let keys = AuditKeys::from_config(&AuditKey::generate().unwrap(), "").unwrap();
        assert!(keys.by_id(keys.current().id()).is_some());
        assert!(keys.by_id("0000000000000000").is_none());
    }
}
