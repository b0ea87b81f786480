//! Signing access tokens: the key ring every replica loads from the database, rotation, and issuing.
//!
//! The newest published key signs. A rotation adds a key and sets every older key to retire once the
//! tokens it may still sign have expired (token lifetime plus [`RETIRE_MARGIN`], which also covers
//! replicas that have not reloaded yet), so tokens issued before a rotation keep verifying.

use std::sync::RwLock;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{EncodingKey, Header};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::{ALGORITHM, AUDIENCE, Claims, ISSUER};
use kommune_platform::clock::to_timestamp;
use kommune_proto::identity::v1::{PublicKey, Role};

use crate::store::signing_keys;

/// How often every replica reloads the keys (so all sign with the newest soon after a rotation).
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// Extra time an old key stays published beyond the token lifetime; must exceed [`RELOAD_INTERVAL`].
pub const RETIRE_MARGIN: Duration = Duration::minutes(5);

/// The keys as loaded.
struct Keys {
    key_id: String,
    signing: EncodingKey,
    /// Each published key with the time it retires.
    public: Vec<(Option<DateTime<Utc>>, PublicKey)>,
}

/// The signing key and every published public key, reloadable.
pub struct KeyRing {
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one on an empty database. Replicas starting together may
    /// each create one; all are published and the newest signs.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        if signing_keys::published(db, now).await?.is_empty() {
            signing_keys::insert(db, generate(now)?).await?;
        }
        Ok(Self {
            keys: RwLock::new(load(db, now).await?),
        })
    }

    /// Reloads the keys from the database; returns the published public keys.
    pub async fn reload(
        &self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> Result<Vec<PublicKey>, Error> {
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = load(db, now).await?;
        Ok(self.public_keys(now))
    }

    /// The public keys published at `now` (a retired key drops out even before the next reload).
    pub fn public_keys(&self, now: DateTime<Utc>) -> Vec<PublicKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.public
            .iter()
            .filter(|(retire_after, _)| retire_after.is_none_or(|t| now < t))
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// Signs an access token for `subject`.
    pub fn issue(
        &self,
        subject: String,
        municipality_id: Option<String>,
        roles: &[Role],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, Error> {
        let claims = Claims {
            sub: subject,
            mun: municipality_id,
            roles: roles.iter().map(|r| r.as_str_name().to_owned()).collect(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(keys.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &keys.signing).map_err(Error::internal)
    }
}

async fn load(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Keys, Error> {
    let keys = signing_keys::published(db, now).await?;
    let newest = keys
        .first()
        .ok_or_else(|| Error::internal("no published signing key"))?;
    Ok(Keys {
        key_id: newest.key_id.clone(),
        signing: EncodingKey::from_ed_der(&newest.private_key),
        public: keys
            .iter()
            .map(|k| (k.retire_after, public_key(k)))
            .collect(),
    })
}

/// The published form of a key.
pub fn public_key(key: &signing_keys::Model) -> PublicKey {
    PublicKey {
        key_id: key.key_id.clone(),
        algorithm: "EdDSA".into(),
        public_key: key.public_key.clone(),
        create_time: Some(to_timestamp(key.created_at)),
        retire_time: key.retire_after.map(to_timestamp),
    }
}

/// A new Ed25519 signing key.
pub fn generate(now: DateTime<Utc>) -> Result<signing_keys::Model, Error> {
    let key = SigningKey::from_bytes(&random_key_bytes()?);
    let der = key.to_pkcs8_der().map_err(Error::internal)?;
    Ok(signing_keys::Model {
        key_id: Uuid::now_v7().simple().to_string(),
        private_key: der.as_bytes().to_vec(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        created_at: now,
        retire_after: None,
    })
}

/// 32 random bytes, for a key.
pub fn random_key_bytes() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(bytes)
}
