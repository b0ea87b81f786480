//! Who is calling: JWT verification against identity's published keys, the caller put into request
//! extensions by a layer, and the one rule of who may see which municipality.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
use crate::error::Reason;

mod verified;
use verified::{Signer, Verified};

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

/// Whether `role` acts only within its principal's own municipality: a role the contract does not
/// mark suite-wide ([`kommune_proto::SUITE_WIDE_ROLES`]).
pub fn is_municipal(role: Role) -> bool {
    role != Role::Unspecified && !kommune_proto::SUITE_WIDE_ROLES.contains(&role)
}

impl Caller {
    /// The actor of what a service does by itself (a detection, a feed it follows, its delivery),
    /// audited under `system:<what>`; it holds no roles and no token.
    pub fn system(what: &str) -> Self {
        Self {
            subject: format!("system:{what}"),
            municipality_id: None,
            roles: Vec::new(),
            token: String::new(),
        }
    }

    /// The actor of what a service does when identity's feed says a person was anonymised.
    pub fn identity_feed() -> Self {
        Self::system("identity-feed")
    }

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
        self.has_any_role(kommune_proto::SUITE_WIDE_ROLES)
    }

    /// Whether the caller may see the data of municipality `municipality_id`.
    pub fn can_see_municipality(&self, municipality_id: Uuid) -> bool {
        self.is_suite_wide() || self.municipality_id == Some(municipality_id)
    }

    /// `PERMISSION_DENIED` unless the caller may see the data of the municipality `municipality_id`
    /// (a UUID; anything else is nobody's): `what` names the data in the refusal.
    pub fn require_sees(&self, municipality_id: &str, what: &str) -> Result<(), Error> {
        match Uuid::parse_str(municipality_id) {
            Ok(m) if self.can_see_municipality(m) => Ok(()),
            _ => Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                format!("a municipality's users see only their own municipality's {what}"),
            )),
        }
    }

    /// The municipality whose data alone the caller sees: `None` for suite-wide callers;
    /// `PERMISSION_DENIED` for a caller neither suite-wide nor of a municipality.
    pub fn own_municipality(&self) -> Result<Option<Uuid>, Error> {
        if self.is_suite_wide() {
            return Ok(None);
        }
        self.municipality_id.map(Some).ok_or_else(|| {
            Error::PermissionDenied(
                Reason::OtherMunicipality,
                "the caller belongs to no municipality and is not suite-wide".into(),
            )
        })
    }

    /// `PERMISSION_DENIED` unless the caller holds one of `roles`.
    pub fn require_any_role(&self, roles: &[Role], action: &str) -> Result<(), Error> {
        if self.has_any_role(roles) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str_name()).collect();
            Err(Error::PermissionDenied(
                Reason::RoleRequired,
                format!("{action} requires one of the roles {}", names.join(", ")),
            ))
        }
    }

    /// `PERMISSION_DENIED` (reason `ROLE_REQUIRED`) unless the caller holds a role the RPC at the gRPC
    /// `path` admits, as its `(kommune.common.v1.access)` option declares; every caller passes an RPC
    /// that admits every signed-in caller, is public, or is not kommune's.
    pub fn require_admitted(&self, path: &str) -> Result<(), Error> {
        let Some(access) = kommune_proto::access_of(path) else {
            return Ok(());
        };
        let admitted = access.roles.is_empty()
            || self
                .roles
                .iter()
                .any(|role| access.roles.contains(&role.as_str_name()));
        if admitted {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::RoleRequired,
                format!(
                    "{} admits only the roles {}",
                    path.trim_start_matches('/'),
                    access.roles.join(", ")
                ),
            ))
        }
    }

    fn from_claims(claims: Claims) -> Result<Self, Error> {
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
            token: String::new(),
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

/// Where the keys of kommune's own tokens come from.
pub trait KeySource: Send + Sync + 'static {
    /// The currently published keys.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Vec<PublicKey>, Error>> + Send + '_>>;
}

/// Identity's public `GetPublicKeys` RPC at an address.
struct IdentityKeys {
    identity_addr: String,
}

impl KeySource for IdentityKeys {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Vec<PublicKey>, Error>> + Send + '_>> {
        Box::pin(fetch_public_keys(&self.identity_addr))
    }
}

/// An identity provider outside kommune whose tokens are trusted, and how its claims map to a caller.
/// Read from the JSON file named by `KOMMUNE_TRUSTED_ISSUERS_FILE` (a list of these).
#[derive(Debug, Clone, Deserialize)]
pub struct TrustedIssuer {
    /// The `iss` of its tokens.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// Its public keys (a JWK set: RSA, EC or Ed25519).
    pub jwks: jsonwebtoken::jwk::JwkSet,
    /// The claim naming the caller's municipality, if any.
    #[serde(default)]
    pub municipality_claim: Option<String>,
    /// That claim's values (e.g. CVR numbers) mapped to kommune municipality ids.
    #[serde(default)]
    pub municipalities: HashMap<String, Uuid>,
    /// The claim holding the caller's roles (a string or a list of strings).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Its role names mapped to kommune's (`ROLE_MUNICIPAL_CASEWORKER`, …); others are ignored.
    #[serde(default)]
    pub roles: HashMap<String, String>,
}

fn default_roles_claim() -> String {
    "roles".into()
}

/// Reads the trusted issuers from a JSON file.
pub fn load_trusted_issuers(path: &std::path::Path) -> Result<Vec<TrustedIssuer>, crate::BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let issuers: Vec<TrustedIssuer> = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a list of trusted issuers: {e}", path.display()))?;
    for issuer in &issuers {
        for (external, role) in &issuer.roles {
            if Role::from_str_name(role).is_none() {
                return Err(format!(
                    "issuer {}: role {external} maps to unknown role {role}",
                    issuer.issuer
                )
                .into());
            }
        }
    }
    Ok(issuers)
}

/// Settings of token verification shared by the gateway and every service.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthConfig {
    /// A JSON file listing outside identity providers whose tokens are trusted.
    #[arg(long, env = "KOMMUNE_TRUSTED_ISSUERS_FILE")]
    pub trusted_issuers_file: Option<std::path::PathBuf>,
}

impl AuthConfig {
    /// The trusted issuers, if a file is configured.
    pub fn trusted_issuers(&self) -> Result<Vec<TrustedIssuer>, crate::BoxError> {
        self.trusted_issuers_file
            .as_deref()
            .map_or(Ok(Vec::new()), load_trusted_issuers)
    }
}

/// Verifies access tokens: kommune's own (EdDSA, keys from identity, cached by key id and refetched
/// on an unknown one at most once per `REFRESH_INTERVAL`, so rotation needs no restart) and those of
/// configured outside issuers.
pub struct TokenVerifier {
    source: Box<dyn KeySource>,
    clock: SharedClock,
    trusted: Vec<TrustedIssuer>,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    /// How many signatures it has checked (the rest were remembered).
    signature_checks: AtomicU64,
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

/// The claims every token has, read before its issuer's key is chosen.
#[derive(Deserialize)]
struct Issued {
    iss: String,
}

impl TokenVerifier {
    /// A verifier fetching kommune's keys from identity at `identity_addr` (e.g. `http://127.0.0.1:50052`).
    pub fn remote(
        identity_addr: impl Into<String>,
        clock: SharedClock,
        trusted: Vec<TrustedIssuer>,
    ) -> Arc<Self> {
        Self::new(
            IdentityKeys {
                identity_addr: identity_addr.into(),
            },
            clock,
            trusted,
        )
    }

    /// A verifier fetching kommune's keys from `source`.
    pub fn new(
        source: impl KeySource,
        clock: SharedClock,
        trusted: Vec<TrustedIssuer>,
    ) -> Arc<Self> {
        Arc::new(Self {
            source: Box::new(source),
            clock,
            trusted,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            signature_checks: AtomicU64::new(0),
        })
    }

    /// Replaces kommune's verification keys.
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
                        tracing::warn!(
                            key_id = %key.key_id,
                            error = %err,
                            "skipping unusable public key",
                        )
                    }
                }
            }
        }
        verified::forget_retired(|key_id| decoded.contains_key(key_id));
        *self.keys.write().await = decoded;
    }

    /// Verifies `token` and returns its caller. A token this process has verified before is taken
    /// from memory if this verifier trusts its signer (see `verified`); its expiry is always checked.
    pub async fn verify(&self, token: &str) -> Result<Caller, Error> {
        let fingerprint = verified::fingerprint(token);
        if let Some(known) = verified::recall(&fingerprint)
            && self.trusts(&known.signer).await
        {
            self.check_expiry(known.expires)?;
            return Ok(Caller {
                token: token.to_owned(),
                ..known.caller
            });
        }
        let known = self.verify_signature(token).await?;
        self.check_expiry(known.expires)?;
        let caller = Caller {
            token: token.to_owned(),
            ..known.caller.clone()
        };
        verified::remember(fingerprint, known, self.clock.now().timestamp());
        Ok(caller)
    }

    /// Whether this verifier itself trusts `signer`.
    async fn trusts(&self, signer: &Signer) -> bool {
        match signer {
            Signer::Own(key_id) => self.keys.read().await.contains_key(key_id),
            Signer::External(issuer) => self.trusted.iter().any(|t| &t.issuer == issuer),
        }
    }

    /// The claims of `token` once its signature is checked (its expiry is not).
    async fn verify_signature(&self, token: &str) -> Result<Verified, Error> {
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
        let malformed = || Error::Unauthenticated("malformed bearer token".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| malformed())?;
        let issued: Issued =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| malformed())?;
        if issued.iss == ISSUER {
            return self.verify_own(token, header).await;
        }
        match self.trusted.iter().find(|t| t.issuer == issued.iss) {
            Some(issuer) => self.verify_external(token, header, issuer),
            None => Err(Error::Unauthenticated(
                "token from an untrusted issuer".into(),
            )),
        }
    }

    async fn verify_own(
        &self,
        token: &str,
        header: jsonwebtoken::Header,
    ) -> Result<Verified, Error> {
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
        let claims: Claims = self.decode(token, &key, ALGORITHM, ISSUER, AUDIENCE)?;
        let expires = claims.exp;
        Ok(Verified {
            signer: Signer::Own(kid),
            caller: Caller::from_claims(claims)?,
            expires,
        })
    }

    fn verify_external(
        &self,
        token: &str,
        header: jsonwebtoken::Header,
        issuer: &TrustedIssuer,
    ) -> Result<Verified, Error> {
        let unknown_key =
            || Error::Unauthenticated("token signed by a key its issuer does not publish".into());
        let jwk = match &header.kid {
            Some(kid) => issuer.jwks.find(kid),
            None if issuer.jwks.keys.len() == 1 => issuer.jwks.keys.first(),
            None => None,
        }
        .ok_or_else(unknown_key)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| unknown_key())?;
        let claims: serde_json::Map<String, serde_json::Value> =
            self.decode(token, &key, header.alg, &issuer.issuer, &issuer.audience)?;
        let expires = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(i64::MIN);
        Ok(Verified {
            signer: Signer::External(issuer.issuer.clone()),
            caller: caller_from_external(issuer, &claims)?,
            expires,
        })
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
        issuer: &str,
        audience: &str,
    ) -> Result<T, Error> {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Expiry is checked against the platform clock, so tests control time.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|err| Error::Unauthenticated(format!("invalid bearer token: {err}")))
    }

    fn check_expiry(&self, exp: i64) -> Result<(), Error> {
        if exp.saturating_add(LEEWAY_SECS) < self.clock.now().timestamp() {
            return Err(Error::Unauthenticated("bearer token expired".into()));
        }
        Ok(())
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().await.get(kid).cloned()
    }

    async fn refresh(&self) -> Result<(), Error> {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return Ok(());
        }
        let keys = self.source.fetch().await?;
        self.set_keys(&keys).await;
        *last_fetch = Some(Instant::now());
        Ok(())
    }
}

/// The caller an outside issuer's verified claims describe.
fn caller_from_external(
    issuer: &TrustedIssuer,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<Caller, Error> {
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Error::Unauthenticated("token names no subject".into()))?;
    let municipality_id = match issuer
        .municipality_claim
        .as_deref()
        .and_then(|c| claims.get(c))
    {
        None => None,
        Some(value) => {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            let mapped = issuer.municipalities.get(&value).copied();
            Some(mapped.ok_or_else(|| {
                Error::Unauthenticated("token names a municipality kommune does not know".into())
            })?)
        }
    };
    let named: Vec<&str> = match claims.get(&issuer.roles_claim) {
        Some(serde_json::Value::String(role)) => vec![role.as_str()],
        Some(serde_json::Value::Array(roles)) => {
            roles.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    let mut roles: Vec<Role> = named
        .iter()
        .filter_map(|name| issuer.roles.get(*name))
        .filter_map(|role| Role::from_str_name(role))
        .collect();
    roles.dedup();
    let municipal = roles
        .iter()
        .any(|r| matches!(r, Role::MunicipalCaseworker | Role::MunicipalProjectLeader));
    if municipal && municipality_id.is_none() {
        return Err(Error::Unauthenticated(
            "a municipal role needs a municipality in the token".into(),
        ));
    }
    Ok(Caller {
        subject: format!("external:{}#{sub}", issuer.issuer),
        municipality_id,
        roles,
        token: String::new(),
    })
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
    fn the_contract_marks_every_role_but_the_municipal_ones_suite_wide() {
        let municipal: Vec<Role> = [
            Role::MunicipalCaseworker,
            Role::MunicipalProjectLeader,
            Role::SupplierSecondLine,
            Role::ThirdLineSpecialist,
            Role::ConsortiumAdmin,
            Role::Service,
            Role::Unspecified,
        ]
        .into_iter()
        .filter(|r| is_municipal(*r))
        .collect();
        assert_eq!(
            municipal,
            [Role::MunicipalCaseworker, Role::MunicipalProjectLeader]
        );
        assert_eq!(kommune_proto::SUITE_WIDE_ROLES.len(), 4);
    }

    #[test]
    fn a_caller_of_no_municipality_who_is_not_suite_wide_sees_nobody_s_data() {
        let aarhus = Uuid::now_v7();
        let odense = Uuid::now_v7().to_string();
        let municipal = caller(vec![Role::MunicipalCaseworker], Some(aarhus));
        assert_eq!(municipal.own_municipality().ok(), Some(Some(aarhus)));
        assert!(
            municipal
                .require_sees(&aarhus.to_string(), "orders")
                .is_ok()
        );
        assert!(municipal.require_sees(&odense, "orders").is_err());
        assert!(municipal.require_sees("not-a-uuid", "orders").is_err());
        let admin = caller(vec![Role::ConsortiumAdmin], None);
        assert_eq!(admin.own_municipality().ok(), Some(None));
        assert!(admin.require_sees(&odense, "orders").is_ok());
        let nobody = caller(vec![], None);
        assert!(nobody.own_municipality().is_err());
        assert!(nobody.require_sees(&odense, "orders").is_err());
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
            matches!(err, Err(Error::PermissionDenied(_, m)) if m.contains("ROLE_CONSORTIUM_ADMIN"))
        );
    }

    #[test]
    fn bearer_tokens_are_parsed_leniently_but_not_blindly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    mod remembered_tokens {
        use super::*;
        use crate::clock::{Clock, ManualClock};
        use chrono::{TimeZone, Utc};
        use ed25519_dalek::SigningKey;
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        use jsonwebtoken::{EncodingKey, Header};

        /// A signing key with a key id no other test uses, and its published form.
        fn signing_key(seed: u8) -> (EncodingKey, PublicKey) {
            let key = SigningKey::from_bytes(&[seed; 32]);
            let der = key.to_pkcs8_der().unwrap();
            let public = PublicKey {
                key_id: Uuid::now_v7().simple().to_string(),
                algorithm: "EdDSA".into(),
                public_key: key.verifying_key().to_bytes().to_vec(),
                ..Default::default()
            };
            (EncodingKey::from_ed_der(der.as_bytes()), public)
        }

        fn token(key: &(EncodingKey, PublicKey), now: i64) -> String {
            let claims = Claims {
                sub: format!("user:{}", Uuid::now_v7()),
                mun: None,
                roles: vec!["ROLE_CONSORTIUM_ADMIN".into()],
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                iat: now,
                exp: now + 900,
            };
            let mut header = Header::new(ALGORITHM);
            header.kid = Some(key.1.key_id.clone());
            jsonwebtoken::encode(&header, &claims, &key.0).unwrap()
        }

        struct Published(Vec<PublicKey>);

        impl KeySource for Published {
            fn fetch(
                &self,
            ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicKey>, Error>> + Send + '_>>
            {
                Box::pin(async { Ok(self.0.clone()) })
            }
        }

        /// A verifier that has fetched the `published` keys, as a running service has.
        async fn verifier(clock: &ManualClock, published: &[PublicKey]) -> Arc<TokenVerifier> {
            let verifier = TokenVerifier::new(
                Published(published.to_vec()),
                Arc::new(clock.clone()),
                Vec::new(),
            );
            verifier.set_keys(published).await;
            verifier
        }

        fn start() -> ManualClock {
            ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap())
        }

        fn checks(verifier: &TokenVerifier) -> u64 {
            verifier.signature_checks.load(Ordering::Relaxed)
        }

        #[tokio::test]
        async fn a_token_is_checked_once_per_process_by_every_verifier_trusting_its_key() {
            let clock = start();
            let key = signing_key(1);
            let token = token(&key, clock.now().timestamp());
            let gateway = verifier(&clock, std::slice::from_ref(&key.1)).await;
            let service = verifier(&clock, std::slice::from_ref(&key.1)).await;
            let first = gateway.verify(&token).await.unwrap();
            assert_eq!(first.token, token);
            assert_eq!(first.roles, [Role::ConsortiumAdmin]);
            assert_eq!(gateway.verify(&token).await.unwrap(), first);
            assert_eq!(checks(&gateway), 1);
            assert_eq!(service.verify(&token).await.unwrap(), first);
            assert_eq!(checks(&service), 0, "the service took the gateway's check");

            let stranger = verifier(&clock, &[signing_key(2).1]).await;
            assert!(stranger.verify(&token).await.is_err());
            assert_eq!(
                checks(&stranger),
                1,
                "a verifier without the key checks itself"
            );
        }

        #[tokio::test]
        async fn a_retired_keys_tokens_are_forgotten() {
            let clock = start();
            let key = signing_key(3);
            let token = token(&key, clock.now().timestamp());
            // Identity publishes the key no more once it retires.
            let retiring = verifier(&clock, &[]).await;
            retiring.set_keys(std::slice::from_ref(&key.1)).await;
            let other = verifier(&clock, std::slice::from_ref(&key.1)).await;
            retiring.verify(&token).await.unwrap();
            retiring.set_keys(&[]).await;
            assert!(retiring.verify(&token).await.is_err());
            other.verify(&token).await.unwrap();
            assert_eq!(checks(&other), 1, "the remembered check went with the key");
        }

        #[tokio::test]
        async fn a_remembered_token_still_expires() {
            let clock = start();
            let key = signing_key(4);
            let token = token(&key, clock.now().timestamp());
            let verifier = verifier(&clock, std::slice::from_ref(&key.1)).await;
            verifier.verify(&token).await.unwrap();
            clock.advance(chrono::Duration::seconds(900 + LEEWAY_SECS + 1));
            let err = verifier.verify(&token).await.unwrap_err();
            assert!(matches!(err, Error::Unauthenticated(m) if m.contains("expired")));
            assert_eq!(checks(&verifier), 1);
        }
    }
}
