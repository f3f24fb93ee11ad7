//! The accounts crate's one error type. The web crate maps it to HTTP in one place.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule (a bad user name, a weak password, …); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// Wrong user name, password or token. One message for all, so names cannot be probed.
    #[error("incorrect username or password")]
    BadCredentials,
    /// Too many failed logins; try again after this many seconds.
    #[error("too many failed login attempts")]
    Throttled { retry_after: u64 },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
