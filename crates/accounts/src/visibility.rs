//! Which repositories a caller may see, as a condition a listing query can carry, so lists,
//! counts and search results never need filtering in Rust (and never leak a private name).
//!
//! It states the read rule of [`crate::access::permission`] for many repositories at once:
//! public ones (for the signed-in, or anyone when anonymous pulls are on), everything for an
//! administrator, the caller's own namespace and the organizations they own, and the
//! repositories their teams (or, for a robot, its own list) were granted.

use berth_registry::names::namespace_of;

use crate::access::Identity;
use crate::error::Result;
use crate::repos::RepoSettings;
use crate::Db;

/// A repository one of the user's teams was granted, and the team's organization.
#[derive(sqlx::FromRow)]
struct TeamGrant {
    org_name: String,
    repository: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// Sees every repository (an administrator).
    pub all: bool,
    /// Sees public repositories.
    pub public: bool,
    /// Sees every repository in these namespaces.
    pub namespaces: Vec<String>,
    /// Sees these repositories.
    pub repositories: Vec<String>,
}

impl Viewer {
    /// Loads what `identity` may see.
    pub async fn load(db: &Db, identity: &Identity, anonymous_pull: bool) -> Result<Viewer> {
        let pool = &db.pool;
        if let Some(robot) = &identity.robot {
            return Ok(Viewer {
                public: true,
                repositories: robot
                    .permissions
                    .iter()
                    .filter(|(r, _)| namespace_of(r) == Some(robot.org.as_str()))
                    .map(|(r, _)| r.clone())
                    .collect(),
                ..Viewer::default()
            });
        }
        let Some(user) = &identity.user else {
            return Ok(Viewer {
                public: anonymous_pull,
                ..Viewer::default()
            });
        };
        if !user.active {
            return Ok(Viewer::default());
        }
        if user.is_admin {
            return Ok(Viewer {
                all: true,
                public: true,
                ..Viewer::default()
            });
        }
        let mut namespaces = vec![user.name.clone()];
        namespaces.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT a.name FROM org_members m JOIN accounts a ON a.id = m.org_id
                 WHERE m.user_id = $1 AND m.role = 'owner'",
            )
            .bind(user.id)
            .fetch_all(pool)
            .await?,
        );
        // Team grants count only while the user is a member of the team's organization, and
        // only for repositories of that organization.
        let grants = sqlx::query_as::<_, TeamGrant>(
            "SELECT a.name AS org_name, tr.repository FROM team_members tm
             JOIN teams t ON t.id = tm.team_id
             JOIN org_members m ON m.org_id = t.org_id AND m.user_id = tm.user_id
             JOIN accounts a ON a.id = t.org_id
             JOIN team_repositories tr ON tr.team_id = t.id
             WHERE tm.user_id = $1",
        )
        .bind(user.id)
        .fetch_all(pool)
        .await?;
        let mut repositories = Vec::new();
        for TeamGrant {
            org_name,
            repository,
        } in grants
        {
            if namespace_of(&repository) == Some(org_name.as_str()) {
                repositories.push(repository);
            }
        }
        repositories.sort_unstable();
        repositories.dedup();
        Ok(Viewer {
            all: false,
            public: true,
            namespaces,
            repositories,
        })
    }

    /// An SQL condition on `repository_settings` columns (qualified by `alias.`) with
    /// placeholders numbered from `first`, and the values to bind to them in order.
    pub fn condition(&self, alias: &str, first: usize) -> (String, Vec<String>) {
        if self.all {
            return ("1 = 1".to_owned(), Vec::new());
        }
        let mut parts = Vec::new();
        let mut binds = Vec::new();
        if self.public {
            parts.push(format!("{alias}.private = 0"));
        }
        if !self.namespaces.is_empty() {
            parts.push(format!(
                "{alias}.namespace IN ({})",
                berth_registry::meta::placeholders(first + binds.len(), self.namespaces.len())
            ));
            binds.extend(self.namespaces.iter().cloned());
        }
        if !self.repositories.is_empty() {
            parts.push(format!(
                "{alias}.repository IN ({})",
                berth_registry::meta::placeholders(first + binds.len(), self.repositories.len())
            ));
            binds.extend(self.repositories.iter().cloned());
        }
        if parts.is_empty() {
            return ("1 = 0".to_owned(), binds);
        }
        (format!("({})", parts.join(" OR ")), binds)
    }

    /// Whether one repository is visible (the same rule as [`Viewer::condition`]).
    pub fn sees(&self, s: &RepoSettings) -> bool {
        self.all
            || (self.public && !s.private)
            || self.namespaces.contains(&s.namespace)
            || self.repositories.contains(&s.repository)
    }
}

#[cfg(test)]
mod tests {
    use super::Viewer;

    #[test]
    fn conditions_number_their_placeholders() {
        let v = Viewer {
            all: false,
            public: true,
            namespaces: vec!["alice".into(), "acme".into()],
            repositories: vec!["corp/app".into()],
        };
        let (sql, binds) = v.condition("rs", 3);
        assert_eq!(
            sql,
            "(rs.private = 0 OR rs.namespace IN ($3, $4) OR rs.repository IN ($5))"
        );
        assert_eq!(binds, ["alice", "acme", "corp/app"]);
        assert_eq!(Viewer::default().condition("rs", 1).0, "1 = 0");
        let admin = Viewer {
            all: true,
            ..Viewer::default()
        };
        assert_eq!(admin.condition("rs", 1).0, "1 = 1");
    }
}
