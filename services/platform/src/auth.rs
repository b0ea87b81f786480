//! Who is calling: JWT verification against identity's published keys, the caller put into request
//! extensions by a layer, and the one rule of who may see which municipality.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kommune_proto::identity::v1::Role;
use kommune_proto::identity::v1::token_service_client::TokenServiceClient;
use kommune_proto::identity::v1::{GetPublicKeysRequest, PublicKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::error::Error;

/// The issuer of every kommune access token.
pub const ISSUER: &str = "kommune-identity";
/// The audience of every kommune access token.
pub const AUDIENCE: &str = "kommune";
/// The signing algorithm of access tokens.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// Subject prefix of users.
pub const USER_SUBJECT_PREFIX: &str = "user:";
/// Subject prefix of service accounts.
pub const SERVICE_ACCOUNT_SUBJECT_PREFIX: &str = "service-account:";

/// The claims of a kommune access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `user:<uuid>` or `service-account:<uuid>`.
    pub sub: String,
    /// The principal's municipality, if it acts for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mun: Option<String>,
    /// Role names as in the proto (`ROLE_CONSORTIUM_ADMIN`, …).
    pub roles: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `user:<uuid>` or `service-account:<uuid>`.
    pub subject: String,
    /// The municipality the caller acts for; `None` for suite-wide principals.
    pub municipality_id: Option<Uuid>,
    /// The caller's roles.
    pub roles: Vec<Role>,
    /// The bearer token, forwarded when calling another service on the caller's behalf.
    pub token: String,
}

/// Roles that see every municipality.
const SUITE_WIDE_ROLES: [Role; 4] = [
    Role::SupplierSecondLine,
    Role::ThirdLineSpecialist,
    Role::ConsortiumAdmin,
    Role::Service,
];

impl Caller {
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller holds any of `roles`.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }

    /// Suite-wide callers (supplier, specialists, consortium admins, services) see every municipality;
    /// municipal users see only their own.
    pub fn is_suite_wide(&self) -> bool {
        self.has_any_role(&SUITE_WIDE_ROLES)
    }

    /// Whether the caller may see the data of municipality `municipality_id`.
    pub fn can_see_municipality(&self, municipality_id: Uuid) -> bool {
        self.is_suite_wide() || self.municipality_id == Some(municipality_id)
    }

    /// `PERMISSION_DENIED` unless the caller holds one of `roles`.
    pub fn require_any_role(&self, roles: &[Role], action: &str) -> Result<(), Error> {
        if self.has_any_role(roles) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str_name()).collect();
            Err(Error::PermissionDenied(format!(
                "{action} requires one of the roles {}",
                names.join(", ")
            )))
        }
    }

    fn from_claims(claims: Claims, token: String) -> Result<Self, Error> {
        let municipality_id = match claims.mun.as_deref() {
            None | Some("") => None,
            Some(m) => Some(
                Uuid::parse_str(m).map_err(|_| Error::Unauthenticated("malformed token".into()))?,
            ),
        };
        let roles = claims
            .roles
            .iter()
            .filter_map(|r| Role::from_str_name(r))
            .collect();
        Ok(Self {
            subject: claims.sub,
            municipality_id,
            roles,
            token,
        })
    }
}

/// The caller a request was authenticated as, put there by the auth layer.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Error> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Error::Unauthenticated("missing bearer token".into()))
}

/// Where verification keys come from.
enum KeySource {
    /// Fetched from identity's public `GetPublicKeys` RPC.
    Remote { identity_addr: String },
    /// Set by the owner (identity verifies its own tokens).
    Local,
}

/// Verifies access tokens. Keys are cached by key id; an unknown key id triggers a refetch
/// (at most once per `REFRESH_INTERVAL`), so key rotation needs no restart.
pub struct TokenVerifier {
    source: KeySource,
    clock: SharedClock,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

const REFRESH_INTERVAL: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Tolerated clock difference between issuer and verifier.
const LEEWAY_SECS: i64 = 30;

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier fetching keys from identity at `identity_addr` (e.g. `http://127.0.0.1:50052`).
    pub fn remote(identity_addr: impl Into<String>, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self::new(
            KeySource::Remote {
                identity_addr: identity_addr.into(),
            },
            clock,
        ))
    }

    /// A verifier whose keys the owner sets with [`TokenVerifier::set_keys`].
    pub fn local(clock: SharedClock) -> Arc<Self> {
        Arc::new(Self::new(KeySource::Local, clock))
    }

    fn new(source: KeySource, clock: SharedClock) -> Self {
        Self {
            source,
            clock,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// Replaces the verification keys.
    pub async fn set_keys(&self, keys: &[PublicKey]) {
        let mut decoded = HashMap::new();
        for key in keys {
            if key.algorithm == "EdDSA" {
                let x = URL_SAFE_NO_PAD.encode(&key.public_key);
                match DecodingKey::from_ed_components(&x) {
                    Ok(k) => {
                        decoded.insert(key.key_id.clone(), k);
                    }
                    Err(err) => {
                        tracing::warn!(key_id = %key.key_id, error = %err, "skipping unusable public key")
                    }
                }
            }
        }
        *self.keys.write().await = decoded;
    }

    /// Verifies `token` and returns its caller.
    pub async fn verify(&self, token: &str) -> Result<Caller, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::Unauthenticated("malformed bearer token".into()))?;
        if header.alg != ALGORITHM {
            return Err(Error::Unauthenticated(
                "token signed with an unsupported algorithm".into(),
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| Error::Unauthenticated("token names no signing key".into()))?;
        let key = match self.key(&kid).await {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.key(&kid).await.ok_or_else(|| {
                    Error::Unauthenticated("token signed by an unknown key".into())
                })?
            }
        };
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        // Expiry is checked below against the platform clock, so tests control time.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|err| Error::Unauthenticated(format!("invalid bearer token: {err}")))?;
        let now = self.clock.now().timestamp();
        if data.claims.exp + LEEWAY_SECS < now {
            return Err(Error::Unauthenticated("bearer token expired".into()));
        }
        Caller::from_claims(data.claims, token.to_owned())
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().await.get(kid).cloned()
    }

    async fn refresh(&self) -> Result<(), Error> {
        let KeySource::Remote { identity_addr } = &self.source else {
            return Ok(());
        };
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return Ok(());
        }
        let keys = fetch_public_keys(identity_addr).await?;
        self.set_keys(&keys).await;
        *last_fetch = Some(Instant::now());
        Ok(())
    }
}

async fn fetch_public_keys(identity_addr: &str) -> Result<Vec<PublicKey>, Error> {
    let unavailable = |err: &dyn std::fmt::Display| {
        tracing::warn!(error = %err, identity = %identity_addr, "cannot fetch token keys");
        Error::Unavailable("identity's token keys are unavailable".into())
    };
    let channel = tonic::transport::Endpoint::from_shared(identity_addr.to_owned())
        .map_err(|e| unavailable(&e))?
        .connect_timeout(FETCH_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .connect()
        .await
        .map_err(|e| unavailable(&e))?;
    let response = TokenServiceClient::new(channel)
        .get_public_keys(GetPublicKeysRequest {})
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(response.into_inner().keys)
}

/// The bearer token of an `authorization` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: Vec<Role>, municipality: Option<Uuid>) -> Caller {
        Caller {
            subject: "user:x".into(),
            municipality_id: municipality,
            roles,
            token: String::new(),
        }
    }

    #[test]
    fn municipal_users_see_only_their_own_municipality() {
        let own = Uuid::now_v7();
        let other = Uuid::now_v7();
        let caseworker = caller(vec![Role::MunicipalCaseworker], Some(own));
        assert!(caseworker.can_see_municipality(own));
        assert!(!caseworker.can_see_municipality(other));
        let supporter = caller(vec![Role::SupplierSecondLine], None);
        assert!(supporter.can_see_municipality(other));
    }

    #[test]
    fn role_requirements_name_the_roles() {
        let caseworker = caller(vec![Role::MunicipalCaseworker], None);
        let err = caseworker.require_any_role(&[Role::ConsortiumAdmin], "creating a municipality");
        assert!(
            matches!(err, Err(Error::PermissionDenied(m)) if m.contains("ROLE_CONSORTIUM_ADMIN"))
        );
    }

    #[test]
    fn bearer_tokens_are_parsed_leniently_but_not_blindly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
