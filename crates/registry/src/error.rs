//! The registry's one error type and its mapping to the distribution spec's JSON errors.
//!
//! Every code the spec defines is registered here with its HTTP status, in one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An error code of the OCI distribution spec (plus Docker's `TOOMANYREQUESTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    RangeInvalid,
    /// Notary's: trust metadata that does not exist.
    MetadataNotFound,
    /// Notary's: a trust update that fails validation.
    TrustInvalid,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::RangeInvalid => "BLOB_UPLOAD_INVALID",
            Code::MetadataNotFound => "METADATA_NOT_FOUND",
            Code::TrustInvalid => "INVALID_UPDATE",
            Code::Internal => "UNKNOWN",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown
            | Code::MetadataNotFound => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid
            | Code::TrustInvalid => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            Code::BlobUnknown => "blob unknown to registry",
            Code::BlobUploadInvalid => "blob upload invalid",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            Code::ManifestInvalid => "manifest invalid",
            Code::ManifestUnknown => "manifest unknown to registry",
            Code::NameInvalid => "invalid repository name",
            Code::NameUnknown => "repository name not known to registry",
            Code::SizeInvalid => "provided length did not match content length",
            Code::Unauthorized => "authentication required",
            Code::Denied => "requested access to the resource is denied",
            Code::Unsupported => "the operation is unsupported",
            Code::TooManyRequests => "too many requests",
            Code::RangeInvalid => "requested range is not satisfiable",
            Code::MetadataNotFound => "You have requested metadata that does not exist.",
            Code::TrustInvalid => "the trust update is invalid",
            Code::Internal => "internal server error",
        }
    }
}

/// What a registry operation can fail with. Renders itself as the spec's JSON body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {detail}", code.as_str())]
    Spec {
        code: Code,
        detail: String,
        /// Extra response headers (e.g. `WWW-Authenticate`, `Range`, `Retry-After`).
        headers: Vec<(String, String)>,
        /// A status other than the code's usual one (e.g. 413 for an oversized manifest).
        status: Option<StatusCode>,
        /// Whether the detail is also the message: clients such as docker print only the
        /// message, so a refusal that must say why puts its reason there.
        explained: bool,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// SQLite's `SQLITE_FULL`: the database's disk is full.
const SQLITE_FULL: &str = "13";
/// PostgreSQL's `disk_full` (SQLSTATE 53100).
const PG_DISK_FULL: &str = "53100";

impl Error {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Error::Spec {
            code,
            detail: detail.into(),
            headers: Vec::new(),
            status: None,
            explained: false,
        }
    }

    /// Sends the detail as the message too (see the `explained` field).
    pub fn explained(mut self) -> Self {
        if let Error::Spec { explained, .. } = &mut self {
            *explained = true;
        }
        self
    }

    /// Sends `400 Bad Request` instead of the code's usual status.
    pub fn with_status_400(mut self) -> Self {
        if let Error::Spec { status, .. } = &mut self {
            *status = Some(StatusCode::BAD_REQUEST);
        }
        self
    }

    /// Sends `413 Payload Too Large` instead of the code's usual status.
    pub fn with_status_413(mut self) -> Self {
        if let Error::Spec { status, .. } = &mut self {
            *status = Some(StatusCode::PAYLOAD_TOO_LARGE);
        }
        self
    }

    /// Sends `414 URI Too Long` instead of the code's usual status.
    pub fn with_status_414(mut self) -> Self {
        if let Error::Spec { status, .. } = &mut self {
            *status = Some(StatusCode::URI_TOO_LONG);
        }
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Error::Spec { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.into()));
        }
        self
    }

    pub fn code(&self) -> Code {
        match self {
            Error::Spec { code, .. } => *code,
            Error::Database(_) | Error::Io(_) => Code::Internal,
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Error::new(Code::Internal, detail)
    }

    /// Whether storage (the blob store, or the database's disk) ran out of space or quota: the
    /// operator's problem, worth saying so.
    fn storage_full(&self) -> bool {
        match self {
            Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            Error::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some(SQLITE_FULL | PG_DISK_FULL))
            }
            _ => false,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    errors: [Entry<'a>; 1],
}

#[derive(Serialize)]
struct Entry<'a> {
    code: &'a str,
    message: &'a str,
    detail: &'a str,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Spec {
                status: Some(s), ..
            } => *s,
            _ if self.storage_full() => StatusCode::INSUFFICIENT_STORAGE,
            _ => self.code().status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code();
        let detail = match self {
            Error::Spec { detail, .. } => detail.as_str(),
            // Internal details go to the log, not to the client.
            Error::Database(e) if self.storage_full() => {
                tracing::error!(error = %e, "the database's storage is full");
                "the registry's storage is full"
            }
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                ""
            }
            Error::Io(e) if self.storage_full() => {
                tracing::error!(error = %e, "storage is full");
                "the registry's storage is full"
            }
            Error::Io(e) => {
                tracing::error!(error = %e, "storage error");
                ""
            }
        };
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CONTENT_TYPE, "application/json"));
        if let Error::Spec { headers, .. } = self {
            for (name, value) in headers {
                resp.insert_header((name.as_str(), value.as_str()));
            }
        }
        let message = match self {
            Error::Spec {
                explained: true, ..
            } => detail,
            _ => code.default_message(),
        };
        let body = Body {
            errors: [Entry {
                code: code.as_str(),
                message,
                detail,
            }],
        };
        resp.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}
