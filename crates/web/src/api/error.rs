//! The JSON API's errors: `{"error":{"code","message"}}` with the status [`Failure`] gives.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use berth_accounts::Error as AccountsError;

use crate::error::Failure;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        ApiError {
            status: f.status,
            code: f.code,
            message: f.message,
            retry_after: f.retry_after,
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        Failure::from(e).into()
    }
}

impl From<berth_registry::Error> for ApiError {
    fn from(e: berth_registry::Error) -> Self {
        Failure::from(e).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Basic realm=\"berth\""));
        }
        resp.json(serde_json::json!({
            "error": { "code": self.code, "message": self.message },
            // Docker's token clients print `details`.
            "details": self.message,
        }))
    }
}
