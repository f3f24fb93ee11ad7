//! The one function that decides who may do what to a repository.
//!
//! - administrators: everything;
//! - the user whose name is the repository's namespace: everything;
//! - anyone else: pull of public repositories (anonymous callers only when anonymous pull is on);
//! - a personal access token caps whatever its owner may do at its scope.
//!
//! Callers turn "no read access" into `404 NAME_UNKNOWN`, so a private repository is never
//! confirmed to exist.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repos::RepoSettings;
use crate::users::User;

/// What a personal access token allows at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Read,
    ReadWrite,
    ReadWriteDelete,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read-write",
            Scope::ReadWriteDelete => "read-write-delete",
        }
    }

    pub fn parse(s: &str) -> Result<Scope> {
        match s {
            "read" => Ok(Scope::Read),
            "read-write" => Ok(Scope::ReadWrite),
            "read-write-delete" => Ok(Scope::ReadWriteDelete),
            other => Err(Error::Invalid(format!(
                "unknown scope {other:?} (read, read-write or read-write-delete)"
            ))),
        }
    }

    fn cap(self) -> Permission {
        match self {
            Scope::Read => Permission::Read,
            Scope::ReadWrite => Permission::Write,
            Scope::ReadWriteDelete => Permission::Admin,
        }
    }
}

/// What a caller may do to one repository. Ordered: each level includes the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    None,
    /// pull
    Read,
    /// pull, push
    Write,
    /// pull, push, delete, settings
    Admin,
}

impl Permission {
    /// The registry actions this permission allows, in the token spec's words.
    pub fn allows(self, action: &str) -> bool {
        match action {
            "pull" => self >= Permission::Read,
            "push" => self >= Permission::Write,
            "delete" => self >= Permission::Admin,
            _ => false,
        }
    }
}

/// Who is asking: a user (by password or token) or nobody.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub user: Option<User>,
    /// Set when the user authenticated with a personal access token.
    pub scope: Option<Scope>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Identity::default()
    }

    pub fn name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }
}

/// The namespace a repository belongs to: its first path component (`alice` in `alice/app`).
/// A single-component name belongs to no account, so only administrators may push it.
pub fn namespace_of(repository: &str) -> Option<&str> {
    repository.split_once('/').map(|(ns, _)| ns)
}

/// The decision. `settings` is `None` when the repository does not exist as an account object.
pub fn permission(
    identity: &Identity,
    repository: &str,
    settings: Option<&RepoSettings>,
    anonymous_pull: bool,
) -> Permission {
    let base = match &identity.user {
        Some(u) if !u.active => Permission::None,
        Some(u) if u.is_admin => Permission::Admin,
        Some(u) if namespace_of(repository) == Some(u.name.as_str()) => Permission::Admin,
        user => match settings {
            Some(s) if !s.private && (user.is_some() || anonymous_pull) => Permission::Read,
            _ => Permission::None,
        },
    };
    match identity.scope {
        Some(scope) => base.min(scope.cap()),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, admin: bool) -> Identity {
        Identity {
            user: Some(User {
                id: 1,
                name: name.into(),
                email: format!("{name}@example.com"),
                is_admin: admin,
                active: true,
                created_at: 0,
            }),
            scope: None,
        }
    }

    fn repo(private: bool) -> RepoSettings {
        RepoSettings {
            repository: "alice/app".into(),
            namespace: "alice".into(),
            private,
            description: String::new(),
            full_description: String::new(),
            pull_count: 0,
            created_at: 0,
            last_pushed_at: None,
        }
    }

    #[test]
    fn the_rules() {
        use Permission::{Admin, Read, Write};
        let no = Permission::None;
        let public = repo(false);
        let private = repo(true);
        let alice = user("alice", false);
        let bob = user("bob1", false);
        let root = user("root1", true);
        let anon = Identity::anonymous();

        assert_eq!(permission(&alice, "alice/app", Some(&private), true), Admin);
        assert_eq!(
            permission(&alice, "alice/new", None, true),
            Admin,
            "own namespace"
        );
        assert_eq!(permission(&root, "alice/app", Some(&private), true), Admin);
        assert_eq!(permission(&root, "toplevel", None, true), Admin);
        assert_eq!(permission(&alice, "toplevel", None, true), no);

        assert_eq!(permission(&bob, "alice/app", Some(&public), true), Read);
        assert_eq!(permission(&bob, "alice/app", Some(&private), true), no);
        assert_eq!(permission(&bob, "alice/new", None, true), no);
        assert_eq!(permission(&anon, "alice/app", Some(&public), true), Read);
        assert_eq!(
            permission(&anon, "alice/app", Some(&public), false),
            no,
            "anonymous pull off"
        );
        assert_eq!(permission(&bob, "alice/app", Some(&public), false), Read);
        assert_eq!(permission(&anon, "alice/app", Some(&private), true), no);

        let mut read_token = alice.clone();
        read_token.scope = Some(Scope::Read);
        assert_eq!(
            permission(&read_token, "alice/app", Some(&private), true),
            Read
        );
        let mut rw = alice.clone();
        rw.scope = Some(Scope::ReadWrite);
        assert_eq!(permission(&rw, "alice/app", Some(&private), true), Write);

        let mut gone = alice.clone();
        if let Some(u) = gone.user.as_mut() {
            u.active = false;
        }
        assert_eq!(permission(&gone, "alice/app", Some(&public), true), no);

        assert!(Write.allows("push") && !Write.allows("delete") && Read.allows("pull"));
        assert!(!Read.allows("push") && !no.allows("pull") && !Admin.allows("*"));
    }
}
