//! The one function that decides who may do what to a repository.
//!
//! - administrators: everything;
//! - the user whose name is the repository's namespace: everything;
//! - the owners of the organization whose name is the repository's namespace: everything;
//! - its other members: the best of what their teams grant on that repository;
//! - anyone else: pull of public repositories (anonymous callers only when anonymous pull is on);
//! - a personal access token caps whatever its owner may do at its scope;
//! - a robot account: exactly what it was given on its organization's repositories (plus the
//!   pull of public repositories that any signed-in caller has), never more.
//!
//! Callers turn "no read access" into `404 NAME_UNKNOWN`, so a private repository is never
//! confirmed to exist.

use serde::{Deserialize, Serialize};

use berth_registry::names::namespace_of;

use crate::error::{Error, Result};
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

    /// Whether this scope allows everything `other` does.
    pub fn includes(self, other: Scope) -> bool {
        self.cap() >= other.cap()
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
    /// A team's or robot's grant on a repository: `read`, `write` or `admin`.
    pub fn parse_grant(s: &str) -> Result<Permission> {
        match s {
            "read" => Ok(Permission::Read),
            "write" => Ok(Permission::Write),
            "admin" => Ok(Permission::Admin),
            other => Err(Error::Invalid(format!(
                "unknown permission {other:?} (read, write or admin)"
            ))),
        }
    }

    /// The grant's name, as [`Permission::parse_grant`] reads it (`none` for no grant).
    pub fn grant_str(self) -> &'static str {
        match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        }
    }

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

/// A robot account of an organization, as it logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Robot {
    pub id: i64,
    /// The full name, `org+name`.
    pub name: String,
    /// The organization it belongs to.
    pub org: String,
    /// Full repository names and what the robot may do to each.
    pub permissions: Vec<(String, Permission)>,
}

impl Robot {
    /// What the robot was given on `repository`; only repositories of its own organization count.
    pub fn permission_for(&self, repository: &str) -> Permission {
        if namespace_of(repository) != Some(self.org.as_str()) {
            return Permission::None;
        }
        self.permissions
            .iter()
            .filter(|(r, _)| r == repository)
            .map(|(_, p)| *p)
            .max()
            .unwrap_or(Permission::None)
    }
}

/// Who is asking: a user (by password or token), an organization's robot, or nobody.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub user: Option<User>,
    /// Set when the user authenticated with a personal access token.
    pub scope: Option<Scope>,
    /// Set when a robot account authenticated (then `user` is `None`).
    pub robot: Option<Robot>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Identity::default()
    }

    pub fn name(&self) -> Option<&str> {
        match (&self.user, &self.robot) {
            (Some(u), _) => Some(u.name.as_str()),
            (None, Some(r)) => Some(r.name.as_str()),
            (None, None) => None,
        }
    }

    /// Whether the caller proved who it is (a user or a robot).
    pub fn is_signed_in(&self) -> bool {
        self.user.is_some() || self.robot.is_some()
    }
}

/// A user's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "owner" => Ok(Role::Owner),
            "member" => Ok(Role::Member),
            other => Err(Error::Invalid(format!(
                "unknown role {other:?} (owner or member)"
            ))),
        }
    }
}

/// The caller's standing in the organization a repository's namespace names (all empty when
/// the namespace is no organization, or the caller is not a member of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgAccess {
    pub role: Option<Role>,
    /// The best permission any of the caller's teams grants on the repository.
    pub team: Permission,
}

impl Default for OrgAccess {
    fn default() -> Self {
        OrgAccess {
            role: None,
            team: Permission::None,
        }
    }
}

/// The decision. `private` is the repository's visibility, `None` when it does not exist as
/// an account object; `org` is the caller's standing in the organization of the repository's
/// namespace.
pub fn permission(
    identity: &Identity,
    repository: &str,
    private: Option<bool>,
    org: &OrgAccess,
    anonymous_pull: bool,
) -> Permission {
    let public = match private {
        Some(false) if identity.is_signed_in() || anonymous_pull => Permission::Read,
        _ => Permission::None,
    };
    if let Some(robot) = &identity.robot {
        // A robot never inherits anything from its organization: only its own list counts.
        return robot.permission_for(repository).max(public);
    }
    let base = match &identity.user {
        Some(u) if !u.active => Permission::None,
        Some(u) if u.is_admin => Permission::Admin,
        Some(u) if namespace_of(repository) == Some(u.name.as_str()) => Permission::Admin,
        Some(_) => match org.role {
            Some(Role::Owner) => Permission::Admin,
            Some(Role::Member) => org.team.max(public),
            // Team grants count only for members.
            None => public,
        },
        None => public,
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
            robot: None,
        }
    }

    const NONE: OrgAccess = OrgAccess {
        role: None,
        team: Permission::None,
    };

    #[test]
    fn the_rules() {
        use Permission::{Admin, Read, Write};
        let no = Permission::None;
        let public = Some(false);
        let private = Some(true);
        let alice = user("alice", false);
        let bob = user("bob1", false);
        let root = user("root1", true);
        let anon = Identity::anonymous();

        assert_eq!(permission(&alice, "alice/app", private, &NONE, true), Admin);
        assert_eq!(
            permission(&alice, "alice/new", None, &NONE, true),
            Admin,
            "own namespace"
        );
        assert_eq!(permission(&root, "alice/app", private, &NONE, true), Admin);
        assert_eq!(permission(&root, "toplevel", None, &NONE, true), Admin);
        assert_eq!(permission(&alice, "toplevel", None, &NONE, true), no);

        assert_eq!(permission(&bob, "alice/app", public, &NONE, true), Read);
        assert_eq!(permission(&bob, "alice/app", private, &NONE, true), no);
        assert_eq!(permission(&bob, "alice/new", None, &NONE, true), no);
        assert_eq!(permission(&anon, "alice/app", public, &NONE, true), Read);
        assert_eq!(
            permission(&anon, "alice/app", public, &NONE, false),
            no,
            "anonymous pull off"
        );
        assert_eq!(permission(&bob, "alice/app", public, &NONE, false), Read);
        assert_eq!(permission(&anon, "alice/app", private, &NONE, true), no);

        let mut read_token = alice.clone();
        read_token.scope = Some(Scope::Read);
        assert_eq!(
            permission(&read_token, "alice/app", private, &NONE, true),
            Read
        );
        let mut rw = alice.clone();
        rw.scope = Some(Scope::ReadWrite);
        assert_eq!(permission(&rw, "alice/app", private, &NONE, true), Write);

        let mut gone = alice.clone();
        if let Some(u) = gone.user.as_mut() {
            u.active = false;
        }
        assert_eq!(permission(&gone, "alice/app", public, &NONE, true), no);

        assert!(Write.allows("push") && !Write.allows("delete") && Read.allows("pull"));
        assert!(!Read.allows("push") && !no.allows("pull") && !Admin.allows("*"));
    }

    fn standing(role: Option<Role>, team: Permission) -> OrgAccess {
        OrgAccess { role, team }
    }

    #[test]
    fn organizations_and_teams() {
        use Permission::{Admin, Read, Write};
        let no = Permission::None;
        let private = Some(true);
        let public = Some(false);
        let carol = user("carol", false);

        // Owners: everything, existing repositories or new ones.
        let owner = standing(Some(Role::Owner), no);
        assert_eq!(permission(&carol, "acme/app", private, &owner, true), Admin);
        assert_eq!(permission(&carol, "acme/new", None, &owner, true), Admin);
        // Members: the best of their teams' grants, which may precede the repository.
        for (team, want) in [(Read, Read), (Write, Write), (Admin, Admin)] {
            let member = standing(Some(Role::Member), team);
            assert_eq!(permission(&carol, "acme/app", private, &member, true), want);
            assert_eq!(permission(&carol, "acme/new", None, &member, true), want);
        }
        // A member without a grant: a private repository is invisible, a public one pullable,
        // and nothing new may be pushed.
        let bare = standing(Some(Role::Member), no);
        assert_eq!(permission(&carol, "acme/app", private, &bare, true), no);
        assert_eq!(permission(&carol, "acme/site", public, &bare, true), Read);
        assert_eq!(permission(&carol, "acme/new", None, &bare, true), no);
        // A team grant without membership counts for nothing.
        let stale = standing(None, Admin);
        assert_eq!(permission(&carol, "acme/app", private, &stale, true), no);
        assert_eq!(permission(&carol, "acme/site", public, &stale, true), Read);
        // Outsiders and anonymous callers: public pulls only.
        assert_eq!(permission(&carol, "acme/app", private, &NONE, true), no);
        let anon = Identity::anonymous();
        assert_eq!(permission(&anon, "acme/site", public, &NONE, true), Read);
        assert_eq!(permission(&anon, "acme/app", private, &owner, true), no);
        // Token scopes still cap an owner.
        let mut read_token = carol.clone();
        read_token.scope = Some(Scope::Read);
        assert_eq!(
            permission(&read_token, "acme/app", private, &owner, true),
            Read
        );
        let mut rw = carol.clone();
        rw.scope = Some(Scope::ReadWrite);
        let writer = standing(Some(Role::Member), Admin);
        assert_eq!(permission(&rw, "acme/app", private, &writer, true), Write);
        // A deactivated owner has nothing.
        let mut gone = carol.clone();
        if let Some(u) = gone.user.as_mut() {
            u.active = false;
        }
        assert_eq!(permission(&gone, "acme/app", private, &owner, true), no);
    }

    #[test]
    fn robots_get_exactly_their_list() {
        use Permission::{Admin, Read, Write};
        let no = Permission::None;
        let robot = Identity {
            robot: Some(Robot {
                id: 7,
                name: "acme+ci".into(),
                org: "acme".into(),
                permissions: vec![
                    ("acme/app".into(), Write),
                    ("acme/docs".into(), Read),
                    // Listed for another namespace: never honoured.
                    ("other/app".into(), Admin),
                ],
            }),
            ..Identity::default()
        };
        assert!(robot.is_signed_in());
        assert_eq!(robot.name(), Some("acme+ci"));
        let private = Some(true);
        let public = Some(false);
        // Whatever standing is passed in, the robot gets its list and no more.
        let owner = standing(Some(Role::Owner), Admin);
        assert_eq!(permission(&robot, "acme/app", private, &owner, true), Write);
        assert_eq!(permission(&robot, "acme/app", None, &NONE, true), Write);
        assert_eq!(permission(&robot, "acme/docs", private, &owner, true), Read);
        assert_eq!(permission(&robot, "acme/secret", private, &owner, true), no);
        assert_eq!(permission(&robot, "acme/new", None, &owner, true), no);
        assert_eq!(permission(&robot, "other/app", None, &NONE, true), no);
        // Public repositories: pull, as for any signed-in caller, even with anonymous pull off.
        assert_eq!(permission(&robot, "acme/site", public, &owner, false), Read);
    }
}
