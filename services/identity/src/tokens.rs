//! Signing access tokens: the key ring every replica loads from the database, and token issuing.

use chrono::{DateTime, Utc};
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

/// The signing key and every published public key.
pub struct KeyRing {
    key_id: String,
    signing: EncodingKey,
    public: Vec<PublicKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one on an empty database. Replicas starting together may
    /// each create one; all are published and the newest signs.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let mut keys = signing_keys::all(db).await?;
        if keys.is_empty() {
            signing_keys::insert(db, generate(now)?).await?;
            keys = signing_keys::all(db).await?;
        }
        let newest = keys
            .first()
            .ok_or_else(|| Error::internal("no signing key after creating one"))?;
        let signing = EncodingKey::from_ed_der(&newest.private_key);
        let public = keys
            .iter()
            .map(|k| PublicKey {
                key_id: k.key_id.clone(),
                algorithm: "EdDSA".into(),
                public_key: k.public_key.clone(),
                create_time: Some(to_timestamp(k.created_at)),
            })
            .collect();
        Ok(Self {
            key_id: newest.key_id.clone(),
            signing,
            public,
        })
    }

    /// The published public keys.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
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
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).map_err(Error::internal)
    }
}

fn generate(now: DateTime<Utc>) -> Result<signing_keys::Model, Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(Error::internal)?;
    let key = SigningKey::from_bytes(&seed);
    let der = key.to_pkcs8_der().map_err(Error::internal)?;
    Ok(signing_keys::Model {
        key_id: Uuid::now_v7().simple().to_string(),
        private_key: der.as_bytes().to_vec(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        created_at: now,
    })
}

/// 32 random bytes for a new API key.
pub fn random_key_bytes() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(bytes)
}
