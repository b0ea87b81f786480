//! The one error type of kommune's APIs and its mapping to `tonic::Status`, in one place.
//! Handlers return `Result<_, Error>` and use `?`; internal causes are logged, never sent. Every
//! refusal carries a `google.rpc.ErrorInfo` with a stable [`Reason`] in the domain [`ERROR_DOMAIN`], so
//! programs branch on reasons rather than on messages; `UNAVAILABLE` also carries `RetryInfo`.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every [`Reason`] in `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = "kommune.dk";

/// How long a client should wait before retrying a call answered `UNAVAILABLE`.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Why a call was refused, stable for programs to branch on (`google.rpc.ErrorInfo.reason`). A
        /// name is never reused for another meaning; the catalogue is in docs/api.md.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            /// Every reason, as in the catalogue.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// Its name in `ErrorInfo.reason`, e.g. `STALE_VERSION`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)*
                }
            }
        }
    };
}

reasons! {
    /// INVALID_ARGUMENT: a field is missing, malformed or out of range (the field is named).
    InvalidField = "INVALID_FIELD",
    /// INVALID_ARGUMENT or FAILED_PRECONDITION: a personal ID number stands in a free-text field.
    PersonalIdInText = "PERSONAL_ID_IN_TEXT",
    /// INVALID_ARGUMENT: an idempotency key was used before with other parameters.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED",
    /// NOT_FOUND: the named entity does not exist, or the caller may not know it exists.
    NotFound = "NOT_FOUND",
    /// ALREADY_EXISTS: a unique field (a name, a code, an e-mail address) is taken.
    AlreadyExists = "ALREADY_EXISTS",
    /// UNAUTHENTICATED: no token, or one that is malformed, expired, revoked or untrusted.
    Unauthenticated = "UNAUTHENTICATED",
    /// PERMISSION_DENIED: the caller lacks a role the action needs.
    RoleRequired = "ROLE_REQUIRED",
    /// PERMISSION_DENIED: the data belongs to another municipality than the caller's.
    OtherMunicipality = "OTHER_MUNICIPALITY",
    /// PERMISSION_DENIED: the reporter is not support-eligible for the municipality today.
    NotSupportEligible = "NOT_SUPPORT_ELIGIBLE",
    /// PERMISSION_DENIED: only its owner (or an admin) may do this to it.
    NotOwner = "NOT_OWNER",
    /// FAILED_PRECONDITION: the entity is not in a state that allows this (resolved, published, …).
    WrongState = "WRONG_STATE",
    /// FAILED_PRECONDITION: the date falls outside the window that allows it (reopen window, a
    /// release's selection window, a project's frozen zone).
    OutsideWindow = "OUTSIDE_WINDOW",
    /// FAILED_PRECONDITION: a service this needs is not configured in this deployment.
    NotConfigured = "NOT_CONFIGURED",
    /// ABORTED: the version named is not the stored one; read again and retry.
    StaleVersion = "STALE_VERSION",
    /// ABORTED: a concurrent write of the same thing won; retry.
    ConcurrentChange = "CONCURRENT_CHANGE",
    /// UNAVAILABLE: the service or one it depends on cannot answer now; retry after `RetryInfo`.
    Unavailable = "UNAVAILABLE",
    /// UNAVAILABLE: the server sheds load; retry after `RetryInfo`.
    Overloaded = "OVERLOADED",
    /// RESOURCE_EXHAUSTED: the caller (or, for public RPCs, its address) is past its rate; retry
    /// after `RetryInfo`.
    RateLimited = "RATE_LIMITED",
    /// UNIMPLEMENTED: no such method behind this gateway.
    UnknownMethod = "UNKNOWN_METHOD",
    /// INTERNAL: a fault of kommune's; quote the `x-trace-id` to support.
    Internal = "INTERNAL",
}

/// A field that failed validation, named as in the proto request (`user.email`, `roles[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
    /// Why, for programs.
    pub reason: Reason,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::because(Reason::InvalidField, field, description)
    }

    /// A violation of `field` for a particular reason.
    pub fn because(
        reason: Reason,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
            reason,
        }
    }
}

/// A status with `ErrorInfo` (and any other `details`).
pub fn refusal(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    metadata: HashMap<String, String>,
    mut details: ErrorDetails,
) -> Status {
    details.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    if code == Code::Unavailable {
        details.set_retry_info(Some(RETRY_AFTER));
    }
    Status::with_error_details(code, message, details)
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; each violation names its field.
    #[error("invalid argument: {0:?}")]
    InvalidArgument(Vec<FieldViolation>),
    /// A named entity does not exist (or the caller may not know it exists).
    #[error("{entity} {id} not found")]
    NotFound {
        /// The kind of entity, e.g. `municipality`.
        entity: &'static str,
        /// The id looked for.
        id: String,
        /// The request field that named it, when it came from one.
        field: Option<&'static str>,
    },
    /// A create collides with an existing entity on a unique field.
    #[error("{field} already exists: {description}")]
    AlreadyExists {
        /// The request field that collides.
        field: &'static str,
        /// What collides.
        description: String,
    },
    /// No valid credentials.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Valid credentials, not allowed.
    #[error("permission denied: {1}")]
    PermissionDenied(Reason, String),
    /// The system is not in a state where this can be done.
    #[error("failed precondition: {1}")]
    FailedPrecondition(Reason, String),
    /// An update named a stale version, or a concurrent write won.
    #[error("aborted: {1}")]
    Aborted(Reason, String),
    /// A dependency is unreachable; the call may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; the cause is logged, the caller sees only that it failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl std::fmt::Display) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description.to_string())])
    }

    /// A missing entity named by a request field.
    pub fn not_found_field(
        entity: &'static str,
        id: impl Into<String>,
        field: &'static str,
    ) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
            field: Some(field),
        }
    }

    /// A missing entity.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
            field: None,
        }
    }

    /// Optimistic concurrency: `ABORTED` (`STALE_VERSION`) unless the `entity` is still at the
    /// `expected` version the caller read, so no write overwrites a change its caller has not seen.
    pub fn require_version(entity: &str, current: i64, expected: i64) -> Result<(), Self> {
        Self::require_unchanged(entity, "version", current, expected)
    }

    /// [`Error::require_version`] for what counts its changes as revisions (drafts, items, guides).
    pub fn require_revision(entity: &str, current: i64, expected: i64) -> Result<(), Self> {
        Self::require_unchanged(entity, "revision", current, expected)
    }

    fn require_unchanged(
        entity: &str,
        counter: &str,
        current: i64,
        expected: i64,
    ) -> Result<(), Self> {
        if current == expected {
            return Ok(());
        }
        Err(Self::Aborted(
            Reason::StaleVersion,
            format!("the {entity} is at {counter} {current}, not {expected}; read it again"),
        ))
    }

    /// A domain rule refusing a move from the entity's current state (`FAILED_PRECONDITION`,
    /// `WRONG_STATE`), in the rule's own words.
    pub fn wrong_state(why: impl std::fmt::Display) -> Self {
        Self::FailedPrecondition(Reason::WrongState, why.to_string())
    }

    /// An internal failure; `cause` is logged here and not sent to the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(cause.to_string())
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::internal(err)
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(err) => err,
        }
    }
}

/// A failed call to another service: unreachable or overloaded is UNAVAILABLE (retry), anything else
/// is internal to this service (logged here).
/// The fields another service's INVALID_ARGUMENT names (its `BadRequest` details), to refuse a request
/// of this service's own on its fields; none when the refusal carries no details.
pub fn field_violations(status: &Status) -> Vec<FieldViolation> {
    status
        .get_details_bad_request()
        .map(|found| {
            found
                .field_violations
                .into_iter()
                .map(|v| FieldViolation::new(v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                Self::Unavailable(status.message().to_owned())
            }
            _ => Self::internal(format!("a call to another service failed: {status}")),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let none = HashMap::new;
        let details = ErrorDetails::new;
        match err {
            Error::InvalidArgument(violations) => {
                let mut bad_request = ErrorDetails::new();
                for v in &violations {
                    bad_request.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let summary = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                // The first violation's reason leads; a personal ID number anywhere outranks it.
                let reason = violations
                    .iter()
                    .map(|v| v.reason)
                    .find(|r| *r == Reason::PersonalIdInText)
                    .or(violations.first().map(|v| v.reason))
                    .unwrap_or(Reason::InvalidField);
                let fields = violations
                    .iter()
                    .map(|v| v.field.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                let metadata = HashMap::from([("fields".to_owned(), fields)]);
                refusal(
                    Code::InvalidArgument,
                    summary,
                    reason,
                    metadata,
                    bad_request,
                )
            }
            Error::NotFound { entity, id, field } => {
                let message = format!("{entity} {id} not found");
                let mut found = ErrorDetails::new();
                if let Some(field) = field {
                    found.add_bad_request_violation(field, message.clone());
                }
                let metadata = HashMap::from([("entity".to_owned(), entity.to_owned())]);
                refusal(Code::NotFound, message, Reason::NotFound, metadata, found)
            }
            Error::AlreadyExists { field, description } => {
                let mut taken = ErrorDetails::new();
                taken.add_bad_request_violation(field, description.clone());
                let metadata = HashMap::from([("field".to_owned(), field.to_owned())]);
                refusal(
                    Code::AlreadyExists,
                    format!("{field}: {description}"),
                    Reason::AlreadyExists,
                    metadata,
                    taken,
                )
            }
            Error::Unauthenticated(message) => refusal(
                Code::Unauthenticated,
                message,
                Reason::Unauthenticated,
                none(),
                details(),
            ),
            Error::PermissionDenied(reason, message) => {
                refusal(Code::PermissionDenied, message, reason, none(), details())
            }
            Error::FailedPrecondition(reason, message) => {
                refusal(Code::FailedPrecondition, message, reason, none(), details())
            }
            Error::Aborted(reason, message) => {
                refusal(Code::Aborted, message, reason, none(), details())
            }
            Error::Unavailable(message) => refusal(
                Code::Unavailable,
                message,
                Reason::Unavailable,
                none(),
                details(),
            ),
            Error::Internal(_) => refusal(
                Code::Internal,
                "internal error",
                Reason::Internal,
                none(),
                details(),
            ),
        }
    }
}

/// A refusal made outside a service's handlers (by a layer or the gateway), with its reason.
pub fn status(code: Code, reason: Reason, message: impl Into<String>) -> Status {
    refusal(code, message, reason, HashMap::new(), ErrorDetails::new())
}

/// The result of an API operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_every_field() {
        let status = Status::from(Error::InvalidArgument(vec![
            FieldViolation::new("name", "must not contain a personal ID number"),
            FieldViolation::new("email", "is not an e-mail address"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<_> = status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["name", "email"]);
    }

    #[test]
    fn every_refusal_carries_its_reason_and_unavailable_a_retry_delay() {
        let status = Status::from(Error::InvalidArgument(vec![
            FieldViolation::new("title", "is required"),
            FieldViolation::because(Reason::PersonalIdInText, "description", "holds one"),
        ]));
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("PERSONAL_ID_IN_TEXT", "kommune.dk")
        );
        assert_eq!(info.metadata["fields"], "title,description");
        let status = Status::from(Error::Aborted(Reason::StaleVersion, "old".into()));
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "STALE_VERSION"
        );
        let status = Status::from(Error::Unavailable("later".into()));
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "UNAVAILABLE"
        );
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(RETRY_AFTER)
        );
        let status = Status::from(Error::not_found("case", "x"));
        assert_eq!(
            status.get_details_error_info().unwrap().metadata["entity"],
            "case"
        );
    }

    #[test]
    fn reason_names_are_unique_and_shouting() {
        let mut names: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
    }

    #[test]
    fn the_catalogue_in_the_api_guide_lists_every_reason_in_order() {
        let guide = include_str!("../../../docs/api.md");
        let table = guide
            .split("<!-- reasons:")
            .nth(1)
            .expect("docs/api.md has the reasons table");
        let documented: Vec<&str> = table
            .lines()
            .skip_while(|line| !line.starts_with("| `"))
            .take_while(|line| line.starts_with("| `"))
            .filter_map(|line| line.split('`').nth(1))
            .collect();
        let coded: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(documented, coded);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Status::from(Error::internal("database password is hunter2"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
