//! Personal ID numbers at rest: sealed with AES-256-GCM under a key from configuration, so a copy of
//! the database alone does not reveal them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use kommune_platform::Error;

/// Seals and opens personal ID numbers, and tells equal ones apart without revealing them.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    /// Keys [`Vault::fingerprint`]; derived from the vault key, so one secret is configured.
    fingerprint_key: Hmac<Sha256>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

const NONCE_LEN: usize = 12;

/// Why a personal-ID key cannot open the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadVaultKey {
    /// Not base64 text.
    #[error("the personal ID key is not base64")]
    NotBase64,
    /// Not an AES-256 key.
    #[error("the personal ID key must be 32 bytes")]
    NotThirtyTwoBytes,
}

impl Vault {
    /// A vault from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, BadVaultKey> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| BadVaultKey::NotBase64)?;
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|_| BadVaultKey::NotThirtyTwoBytes)?;
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
            .map_err(|_| BadVaultKey::NotThirtyTwoBytes)?;
        derive.update(b"kommune personal ID fingerprint");
        let fingerprint_key =
            <Hmac<Sha256> as Mac>::new_from_slice(&derive.finalize().into_bytes())
                .map_err(|_| BadVaultKey::NotThirtyTwoBytes)?;
        Ok(Self {
            cipher,
            fingerprint_key,
        })
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> Result<String, Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(Error::internal)?;
        Ok(STANDARD.encode(key))
    }

    /// Seals `plain` under a fresh nonce: base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &str) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(Error::internal)?;
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .map_err(Error::internal)?;
        Ok(STANDARD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// A keyed hash of `plain`: equal numbers give equal fingerprints, and without the key no one
    /// can tell which number gave one (ten digits are too few to hide behind an unkeyed hash).
    pub fn fingerprint(&self, plain: &str) -> String {
        let mut mac = self.fingerprint_key.clone();
        mac.update(plain.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Opens what [`Vault::seal`] sealed.
    pub fn open(&self, sealed: &str) -> Result<String, Error> {
        let bytes = STANDARD.decode(sealed).map_err(Error::internal)?;
        if bytes.len() < NONCE_LEN {
            return Err(Error::internal("sealed personal ID too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(Error::internal)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| Error::internal("cannot open a sealed personal ID: wrong key?"))?;
        String::from_utf8(plain).map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_numbers_open_again_and_do_not_show() {
        let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        let sealed = vault.seal("0101901234").unwrap();
        assert!(!sealed.contains("0101901234"));
        assert_ne!(
            sealed,
            vault.seal("0101901234").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(vault.open(&sealed).unwrap(), "0101901234");
        let other = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert_eq!(
            Vault::from_base64("c2hvcnQ=").err(),
            Some(BadVaultKey::NotThirtyTwoBytes)
        );
    }

    #[test]
    fn fingerprints_tell_numbers_apart_only_under_their_key() {
        let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        let print = vault.fingerprint("0101901234");
        assert_eq!(print, vault.fingerprint("0101901234"));
        assert_ne!(print, vault.fingerprint("0101901235"));
        assert!(!print.contains("0101901234"));
        let other = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        assert_ne!(print, other.fingerprint("0101901234"));
    }
}
