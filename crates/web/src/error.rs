//! What a failure of a domain crate means over HTTP: one table for the JSON API and the pages
//! alike. Each face renders the outcome its own way ([`crate::api::error`],
//! [`crate::pages::error`]).

use actix_web::http::StatusCode;
use berth_accounts::Error as AccountsError;

/// A failure, classified.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    /// The JSON API's error code.
    pub code: &'static str,
    /// What the client may be told.
    pub message: String,
    /// Seconds to wait before trying again (`429`).
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn internal() -> Self {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal server error".into(),
            retry_after: None,
        }
    }
}

impl From<AccountsError> for Failure {
    fn from(e: AccountsError) -> Self {
        let (status, code) = match &e {
            AccountsError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            AccountsError::BadCredentials => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AccountsError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            AccountsError::Conflict(_) | AccountsError::InUse(_) => {
                (StatusCode::CONFLICT, "conflict")
            }
            AccountsError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AccountsError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            AccountsError::Registry(e) => return Failure::from_registry(e),
            AccountsError::Database(_) | AccountsError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                return Failure::internal();
            }
        };
        let retry_after = match e {
            AccountsError::Throttled { retry_after } => Some(retry_after),
            _ => None,
        };
        let message = match e {
            AccountsError::Invalid(m) | AccountsError::InUse(m) => m,
            e => e.to_string(),
        };
        Failure {
            status,
            code,
            message,
            retry_after,
        }
    }
}

impl Failure {
    /// Registry errors reach the web from reads and deletions of stored data: they are Berth's
    /// fault, except a refusal by a rule (an immutable tag), which names the rule.
    fn from_registry(e: &berth_registry::Error) -> Self {
        match e {
            berth_registry::Error::Spec {
                code: berth_registry::Code::Denied,
                detail,
                ..
            } => Failure {
                status: StatusCode::FORBIDDEN,
                code: "denied",
                message: detail.clone(),
                retry_after: None,
            },
            _ => {
                tracing::error!(error = %e, "request failed in the registry");
                Failure::internal()
            }
        }
    }
}

impl From<berth_registry::Error> for Failure {
    fn from(e: berth_registry::Error) -> Self {
        Failure::from_registry(&e)
    }
}
