//! The one error type of kommune's APIs and its mapping to `tonic::Status`, in one place.
//! Handlers return `Result<_, Error>` and use `?`; internal causes are logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field that failed validation, named as in the proto request (`user.email`, `roles[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
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
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The system is not in a state where this can be done.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// An update named a stale version, or a concurrent write won.
    #[error("aborted: {0}")]
    Aborted(String),
    /// A dependency is unreachable; the call may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; the cause is logged, the caller sees only that it failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
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
        match err {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let summary = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                Status::with_error_details(Code::InvalidArgument, summary, details)
            }
            Error::NotFound { entity, id, field } => {
                let message = format!("{entity} {id} not found");
                match field {
                    Some(field) => {
                        let mut details = ErrorDetails::new();
                        details.add_bad_request_violation(field, message.clone());
                        Status::with_error_details(Code::NotFound, message, details)
                    }
                    None => Status::not_found(message),
                }
            }
            Error::AlreadyExists { field, description } => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(field, description.clone());
                Status::with_error_details(
                    Code::AlreadyExists,
                    format!("{field}: {description}"),
                    details,
                )
            }
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::Aborted(message) => Status::aborted(message),
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Internal(_) => Status::internal("internal error"),
        }
    }
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
    fn internal_errors_hide_their_cause() {
        let status = Status::from(Error::internal("database password is hunter2"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
