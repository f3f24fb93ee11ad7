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
    /// Refused because something still depends on it (an organization's repositories); the
    /// message says what and how to go on.
    #[error("{0}")]
    InUse(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A failure of the registry's store, underneath an accounts operation.
    #[error("registry: {0}")]
    Registry(berth_registry::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<berth_registry::Error> for Error {
    fn from(e: berth_registry::Error) -> Self {
        Error::Registry(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// PostgreSQL's `character_not_in_repertoire`: text holding a NUL, which its text type cannot
/// store (SQLite can). Such text comes from the client, so it is the client's error, on every
/// query at once rather than at each place text is bound.
const NUL_IN_TEXT: &str = "22021";

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some(NUL_IN_TEXT) => {
                Error::Invalid("text must not contain NUL characters".into())
            }
            _ => Error::Database(e),
        }
    }
}
