//! The registry's view of access control. The registry knows nothing of users: it describes
//! who is calling and what they want, and an [`Authorizer`] answers.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::error::Result;

/// What a caller wants to do to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// What is being accessed.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `GET /v2/`: the version check, which is also how clients discover the auth challenge.
    Base,
    /// `GET /v2/_catalog`.
    Catalog,
    /// A repository and every action the request needs on it.
    Repository {
        name: &'a str,
        actions: &'a [Action],
    },
}

/// The caller as the request presents itself.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The raw `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    pub peer: Option<IpAddr>,
}

/// Who the authorizer decided the caller is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `None` for an anonymous caller.
    pub subject: Option<String>,
}

/// The subject Berth names itself by when it acts on its own (retention rules deleting tags):
/// a name the accounts crate reserves, so no user or organization can hold it.
pub const SYSTEM_SUBJECT: &str = "system";

impl Principal {
    /// Berth itself, acting on no one's request: what webhooks and logs name as the actor of
    /// a deletion a retention rule made.
    pub fn system() -> Principal {
        Principal {
            subject: Some(SYSTEM_SUBJECT.to_owned()),
        }
    }
}

#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// Allows the request (naming the caller) or refuses it with the registry error to send:
    /// `UNAUTHORIZED` with a `WWW-Authenticate` challenge, `DENIED`, or `NAME_UNKNOWN` for a
    /// repository the caller may not even know exists.
    async fn authorize(&self, caller: &Caller<'_>, target: Target<'_>) -> Result<Principal>;

    /// Keeps only the repositories the principal may pull: what a catalog page shows them, and
    /// where a blob may be mounted from. Asked of who the principal is, whatever the scope of
    /// the credentials it came with.
    async fn visible(&self, _principal: &Principal, names: Vec<String>) -> Result<Vec<String>> {
        Ok(names)
    }
}

/// Lets everyone do everything: a registry without accounts, e.g. on a trusted network.
pub struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(&self, _caller: &Caller<'_>, _target: Target<'_>) -> Result<Principal> {
        Ok(Principal::default())
    }
}
