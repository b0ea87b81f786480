//! Identity's rules as plain functions: who a principal may be, who may manage whom, and the shape of
//! API keys. No I/O here.

pub mod eligibility;

use chrono::{DateTime, Utc};
use kommune_platform::Reason;
use kommune_platform::auth::{Caller, is_municipal};
use kommune_platform::error::Error;
use kommune_proto::identity::v1::{DebtorSystem, Role};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Checks a principal's roles against its municipality: at least one role; municipal roles need a
/// municipality and suite-wide roles forbid one (so a principal is never both). `ROLE_SERVICE` is
/// for service accounts only. Returns the roles without duplicates.
pub fn check_roles(
    roles: &[Role],
    municipality_id: Option<Uuid>,
    service_account: bool,
) -> Result<Vec<Role>, String> {
    let mut unique: Vec<Role> = Vec::new();
    for role in roles {
        if *role == Role::Unspecified {
            return Err("must not contain ROLE_UNSPECIFIED".into());
        }
        if *role == Role::Service && !service_account {
            return Err("ROLE_SERVICE is only for service accounts".into());
        }
        if !unique.contains(role) {
            unique.push(*role);
        }
    }
    if unique.is_empty() {
        return Err("must name at least one role".into());
    }
    let municipal = unique.iter().filter(|r| is_municipal(**r)).count();
    if municipal > 0 && municipal < unique.len() {
        return Err("must not mix municipal and suite-wide roles".into());
    }
    match (municipal > 0, municipality_id.is_some()) {
        (true, false) => Err("municipal roles need a municipality_id".into()),
        (false, true) if !service_account => {
            Err("suite-wide roles must not have a municipality_id".into())
        }
        _ => Ok(unique),
    }
}

/// Whether `caller` may create or change a user of `municipality_id` holding `roles`: consortium
/// admins manage everyone; a municipality's project leaders manage their own municipality's users.
pub fn may_manage_user(
    caller: &Caller,
    municipality_id: Option<Uuid>,
    roles: &[Role],
) -> Result<(), Error> {
    if caller.has_role(Role::ConsortiumAdmin) {
        return Ok(());
    }
    let own = municipality_id.is_some() && municipality_id == caller.municipality_id;
    if caller.has_role(Role::MunicipalProjectLeader)
        && own
        && roles.iter().all(|r| is_municipal(*r))
    {
        return Ok(());
    }
    let reason = if caller.has_role(Role::MunicipalProjectLeader) && !own {
        Reason::OtherMunicipality
    } else {
        Reason::RoleRequired
    };
    Err(Error::PermissionDenied(
        reason,
        "only consortium admins, or a municipality's project leaders for their own municipality's users, manage users".into(),
    ))
}

/// Whether `caller` may see a principal belonging to `municipality_id` (`None`: suite-wide).
pub fn may_see(caller: &Caller, municipality_id: Option<Uuid>) -> bool {
    match municipality_id {
        Some(m) => caller.can_see_municipality(m),
        None => caller.is_suite_wide(),
    }
}

/// The CVR number's modulus-11 check (weights 2, 7, 6, 5, 4, 3, 2, 1).
pub fn check_cvr(cvr: &str) -> Result<(), BadCvr> {
    const WEIGHTS: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];
    let digits: Vec<u32> = cvr.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 8 || cvr.len() != 8 {
        return Err(BadCvr::NotEightDigits);
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    if sum.is_multiple_of(11) {
        Ok(())
    } else {
        Err(BadCvr::CheckDigit)
    }
}

/// A CVR number that is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadCvr {
    /// Not eight digits.
    #[error("must be 8 digits")]
    NotEightDigits,
    /// The digits do not add up (modulus 11).
    #[error("is not a valid CVR number (check digit)")]
    CheckDigit,
}

/// A service-account name outside the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 2-63 lowercase letters, digits and dashes, starting with a letter")]
pub struct BadName;

/// Why a list of bootstrap service keys is refused; never repeats a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapKeysError {
    /// An entry without `=`.
    #[error("each entry must be a service-account name, `=` and its API key")]
    NotAPair,
    /// A name outside the pattern.
    #[error("the name {0} {BadName}")]
    BadName(String),
    /// A key too short to be one.
    #[error("the key of {0} must be at least {MIN_API_KEY_LEN} characters")]
    ShortKey(String),
    /// A name given twice.
    #[error("{0} is named twice")]
    Twice(String),
}

/// A service account name: 2–63 lowercase letters, digits and dashes, starting with a letter.
pub fn check_service_account_name(name: &str) -> Result<(), BadName> {
    let valid = (2..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid { Ok(()) } else { Err(BadName) }
}

/// Service accounts with their API keys, configured for the first start of a deployment
/// (`notify=<key>,cases=<key>`), so services that read the others need no key made by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapServiceKeys(pub Vec<(String, String)>);

impl BootstrapServiceKeys {
    /// Reads `name=key` pairs separated by commas; names are service-account names, keys at least
    /// [`MIN_API_KEY_LEN`] characters. The refusal never repeats a key.
    pub fn parse(list: &str) -> Result<Self, BootstrapKeysError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, key) = pair.split_once('=').ok_or(BootstrapKeysError::NotAPair)?;
            let name = name.trim();
            check_service_account_name(name)
                .map_err(|_| BootstrapKeysError::BadName(name.to_owned()))?;
            if key.trim().len() < MIN_API_KEY_LEN {
                return Err(BootstrapKeysError::ShortKey(name.to_owned()));
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(BootstrapKeysError::Twice(name.to_owned()));
            }
            pairs.push((name.to_owned(), key.trim().to_owned()));
        }
        Ok(Self(pairs))
    }
}

/// The prefix of every generated API key, so leaked keys are recognisable by scanners.
pub const API_KEY_PREFIX: &str = "kmn_";
/// The shortest API key accepted (a configured bootstrap key may be any string this long).
pub const MIN_API_KEY_LEN: usize = 16;
/// How many characters of a key are kept to recognise it.
const DISPLAY_PREFIX_LEN: usize = 12;

/// A new API key from 32 random bytes.
pub fn api_key_from_random(random: &[u8; 32]) -> String {
    use base64::Engine;
    format!(
        "{API_KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    )
}

/// The stored form of an API key. Keys are 256-bit random, so a plain SHA-256 is enough (no
/// password hashing needed) and lets the key be looked up by its hash.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The part of a key shown to recognise it.
pub fn api_key_display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_PREFIX_LEN).collect()
}

/// A subject naming a user or a service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `user:<id>`.
    User(Uuid),
    /// `service-account:<id>`.
    ServiceAccount(Uuid),
}

impl Subject {
    /// Parses `user:<uuid>` or `service-account:<uuid>`.
    pub fn parse(value: &str) -> Option<Self> {
        use kommune_platform::auth::{SERVICE_ACCOUNT_SUBJECT_PREFIX, USER_SUBJECT_PREFIX};
        if let Some(id) = value.strip_prefix(USER_SUBJECT_PREFIX) {
            Uuid::parse_str(id).ok().map(Self::User)
        } else if let Some(id) = value.strip_prefix(SERVICE_ACCOUNT_SUBJECT_PREFIX) {
            Uuid::parse_str(id).ok().map(Self::ServiceAccount)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use kommune_platform::auth::{SERVICE_ACCOUNT_SUBJECT_PREFIX, USER_SUBJECT_PREFIX};
        match self {
            Self::User(id) => write!(f, "{USER_SUBJECT_PREFIX}{id}"),
            Self::ServiceAccount(id) => write!(f, "{SERVICE_ACCOUNT_SUBJECT_PREFIX}{id}"),
        }
    }
}

/// A municipality to register (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMunicipality {
    /// Three-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// CVR number (check digit verified).
    pub cvr_number: String,
    /// Debtor system.
    pub debtor_system: DebtorSystem,
}

/// Changes to a municipality; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MunicipalityChanges {
    /// New name.
    pub name: Option<String>,
    /// New CVR number.
    pub cvr_number: Option<String>,
    /// New debtor system.
    pub debtor_system: Option<DebtorSystem>,
    /// New active flag.
    pub active: Option<bool>,
}

/// A user to register (validated; roles checked against the municipality).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The user's municipality, for municipal roles.
    pub municipality_id: Option<Uuid>,
    /// Full name.
    pub name: String,
    /// E-mail, lowercased.
    pub email: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// New name.
    pub name: Option<String>,
    /// New e-mail, lowercased.
    pub email: Option<String>,
    /// New roles (checked against the user's municipality when applied).
    pub roles: Option<Vec<Role>>,
    /// New active flag.
    pub active: Option<bool>,
}

/// A service account to register (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceAccount {
    /// Unique slug.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The municipality it acts for, if any.
    pub municipality_id: Option<Uuid>,
    /// Roles.
    pub roles: Vec<Role>,
}

/// An API key to create (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Who it authenticates.
    pub subject: Subject,
    /// What it is for.
    pub description: String,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new support-eligible user (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEligibility {
    /// The user.
    pub user_id: Uuid,
    /// The municipality.
    pub municipality_id: Uuid,
    /// The valid days.
    pub period: eligibility::Period,
    /// Why.
    pub note: String,
}

/// A replacement of one eligible user by another (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The registration of the user replaced.
    pub replaced_registration_id: Uuid,
    /// The new user.
    pub new_user_id: Uuid,
    /// The new user's first valid day.
    pub effective: chrono::NaiveDate,
    /// The new user's last valid day, if known.
    pub last: Option<chrono::NaiveDate>,
    /// Why.
    pub note: String,
}

/// A stop of a registration (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The registration.
    pub registration_id: Uuid,
    /// Its last valid day.
    pub last: chrono::NaiveDate,
    /// Why.
    pub note: String,
}

/// Whether `caller` may file eligibility changes for `municipality_id`: consortium admins, the
/// supplier's 2nd line, and the municipality's own project leaders.
pub fn may_file_eligibility_change(caller: &Caller, municipality_id: Uuid) -> Result<(), Error> {
    if caller.has_any_role(&[Role::ConsortiumAdmin, Role::SupplierSecondLine]) {
        return Ok(());
    }
    let own = caller.municipality_id == Some(municipality_id);
    if caller.has_role(Role::MunicipalProjectLeader) && own {
        return Ok(());
    }
    let reason = if caller.has_role(Role::MunicipalProjectLeader) {
        Reason::OtherMunicipality
    } else {
        Reason::RoleRequired
    };
    Err(Error::PermissionDenied(
        reason,
        "eligibility changes are filed by consortium admins, the supplier's 2nd line or the municipality's own project leaders".into(),
    ))
}

/// The name an anonymised person is left with.
pub const ANONYMIZED_NAME: &str = "Anonymised user";

/// The e-mail address an anonymised person is left with: unique, and undeliverable by design
/// (`.invalid` is reserved, RFC 2606).
pub fn anonymized_email(user_id: &str) -> String {
    format!("anonymized-{user_id}@kommune.invalid")
}

/// The kinds of entity in identity's audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditedEntity {
    /// A municipality.
    Municipality,
    /// A user.
    User,
    /// A service account.
    ServiceAccount,
    /// An API key.
    ApiKey,
    /// A support-eligibility registration.
    EligibilityRegistration,
    /// A token signing key.
    SigningKey,
}

impl AuditedEntity {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Municipality,
        Self::User,
        Self::ServiceAccount,
        Self::ApiKey,
        Self::EligibilityRegistration,
        Self::SigningKey,
    ];

    /// Their names in audit records and requests, in the order of [`Self::ALL`].
    pub const NAMES: [&'static str; 6] = [
        "municipality",
        "user",
        "service_account",
        "api_key",
        "eligibility_registration",
        "signing_key",
    ];

    /// The name used in audit records and requests.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Parses a name from a request.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl From<AuditedEntity> for &str {
    fn from(entity: AuditedEntity) -> Self {
        entity.as_str()
    }
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
    fn roles_must_fit_the_municipality() {
        let m = Some(Uuid::now_v7());
        assert!(check_roles(&[Role::MunicipalCaseworker], m, false).is_ok());
        assert!(check_roles(&[Role::MunicipalCaseworker], None, false).is_err());
        assert!(check_roles(&[Role::SupplierSecondLine], m, false).is_err());
        assert!(
            check_roles(
                &[Role::SupplierSecondLine, Role::MunicipalCaseworker],
                m,
                false
            )
            .is_err()
        );
        assert!(check_roles(&[], None, false).is_err());
        assert!(check_roles(&[Role::Unspecified], None, false).is_err());
        assert!(check_roles(&[Role::Service], None, false).is_err());
        assert_eq!(
            check_roles(&[Role::Service, Role::Service], None, true),
            Ok(vec![Role::Service])
        );
        // A municipality's own system may act for it with a suite-wide-looking service role.
        assert!(check_roles(&[Role::Service], m, true).is_ok());
    }

    #[test]
    fn project_leaders_manage_only_their_own_municipal_users() {
        let own = Uuid::now_v7();
        let other = Uuid::now_v7();
        let leader = caller(vec![Role::MunicipalProjectLeader], Some(own));
        assert!(may_manage_user(&leader, Some(own), &[Role::MunicipalCaseworker]).is_ok());
        assert!(may_manage_user(&leader, Some(other), &[Role::MunicipalCaseworker]).is_err());
        assert!(may_manage_user(&leader, Some(own), &[Role::ConsortiumAdmin]).is_err());
        let caseworker = caller(vec![Role::MunicipalCaseworker], Some(own));
        assert!(may_manage_user(&caseworker, Some(own), &[Role::MunicipalCaseworker]).is_err());
        let admin = caller(vec![Role::ConsortiumAdmin], None);
        assert!(may_manage_user(&admin, None, &[Role::SupplierSecondLine]).is_ok());
    }

    #[test]
    fn cvr_numbers_carry_a_check_digit() {
        assert!(check_cvr("64942212").is_ok()); // Københavns Kommune
        assert!(check_cvr("55133018").is_ok()); // Aarhus Kommune
        assert!(check_cvr("64942213").is_err());
        assert!(check_cvr("1234567").is_err());
        assert!(check_cvr("6494221x").is_err());
    }

    #[test]
    fn api_keys_are_hashed_and_recognisable() {
        let key = api_key_from_random(&[7; 32]);
        assert!(key.starts_with(API_KEY_PREFIX));
        assert_eq!(key.len(), API_KEY_PREFIX.len() + 43);
        assert_eq!(api_key_hash(&key), api_key_hash(&key));
        assert_ne!(
            api_key_hash(&key),
            api_key_hash(&api_key_from_random(&[8; 32]))
        );
        assert_eq!(api_key_display_prefix(&key).len(), 12);
    }

    #[test]
    fn subjects_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(
            Subject::parse(&Subject::User(id).to_string()),
            Some(Subject::User(id))
        );
        assert_eq!(
            Subject::parse(&Subject::ServiceAccount(id).to_string()),
            Some(Subject::ServiceAccount(id))
        );
        assert_eq!(Subject::parse("group:1"), None);
        assert_eq!(Subject::parse("user:not-a-uuid"), None);
    }

    #[test]
    fn service_account_names_are_slugs() {
        assert!(check_service_account_name("cases").is_ok());
        assert!(check_service_account_name("aarhus-erp-2").is_ok());
        assert!(check_service_account_name("Cases").is_err());
        assert!(check_service_account_name("2cases").is_err());
        assert!(check_service_account_name("c").is_err());
    }

    #[test]
    fn bootstrap_service_keys_are_names_and_keys() {
        let keys = BootstrapServiceKeys::parse(
            " notify = kommune-dev-notify-key-0123 ,cases=kommune-dev-cases-key-0123,",
        );
        assert_eq!(
            keys,
            Ok(BootstrapServiceKeys(vec![
                ("notify".into(), "kommune-dev-notify-key-0123".into()),
                ("cases".into(), "kommune-dev-cases-key-0123".into()),
            ]))
        );
        assert_eq!(
            BootstrapServiceKeys::parse(""),
            Ok(BootstrapServiceKeys::default())
        );
        let short = BootstrapServiceKeys::parse("notify=short-secret");
        assert!(short.is_err_and(|e| !e.to_string().contains("short-secret")));
        assert!(BootstrapServiceKeys::parse("Notify=kommune-dev-notify-key-0123").is_err());
        assert!(BootstrapServiceKeys::parse("kommune-dev-notify-key-0123").is_err());
        assert!(
            BootstrapServiceKeys::parse(
                "a1=kommune-dev-notify-key-0123,a1=kommune-dev-notify-key-0124"
            )
            .is_err()
        );
    }
}
