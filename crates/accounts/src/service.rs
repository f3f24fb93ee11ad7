//! The token service: Docker's token authentication. A client presents credentials (or none)
//! and the scopes it wants; it gets a short-lived JWT granting the intersection of what it
//! asked for and what it is allowed, never more.

use serde::Serialize;

use crate::access::{Identity, Permission};
use crate::jwt::{Access, Claims};
use crate::{Accounts, Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub token: String,
    pub access_token: String,
    pub expires_in: i64,
    pub issued_at: String,
}

/// A requested scope, `type:name:actions` (`repository:alice/app:pull,push`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedScope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl RequestedScope {
    pub fn parse(scope: &str) -> Option<RequestedScope> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        // `repository(plugin)` and friends are the same resource type for us.
        let kind = kind.split('(').next().unwrap_or(kind);
        if name.is_empty() {
            return None;
        }
        Some(RequestedScope {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions: actions
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Accounts {
    /// The actions of `scope` this identity is granted.
    pub async fn grant(&self, identity: &Identity, scope: &RequestedScope) -> Result<Vec<String>> {
        match scope.kind.as_str() {
            "repository" => {
                let name = self.scope_repository(&scope.name);
                if berth_registry::names::validate_name(name).is_err() {
                    return Ok(Vec::new());
                }
                let permission = self.permission(identity, name).await?;
                let wanted: Vec<&str> = if scope.actions.iter().any(|a| a == "*") {
                    vec!["pull", "push", "delete"]
                } else {
                    scope.actions.iter().map(String::as_str).collect()
                };
                let mut granted: Vec<String> = wanted
                    .into_iter()
                    .filter(|a| permission.allows(a))
                    .map(str::to_owned)
                    .collect();
                granted.dedup();
                Ok(granted)
            }
            // The catalog and search (`docker search` asks for `registry:catalog:search`) are
            // filtered per caller, so any signed-in caller may ask for them.
            "registry"
                if scope.name == "catalog"
                    && (identity.user.is_some() || identity.robot.is_some()) =>
            {
                Ok(scope
                    .actions
                    .iter()
                    .filter(|a| *a == "*" || *a == "search")
                    .cloned()
                    .collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Issues a registry token for `identity` covering what it may have of `scopes`.
    pub async fn issue_token(
        &self,
        identity: &Identity,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<TokenResponse> {
        if let Some(s) = service {
            if s != self.config.service {
                return Err(Error::Invalid(format!(
                    "unknown service {s:?}; this token service is for {:?}",
                    self.config.service
                )));
            }
        }
        let mut access = Vec::new();
        for raw in scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
        {
            let Some(scope) = RequestedScope::parse(raw) else {
                return Err(Error::Invalid(format!("invalid scope {raw:?}")));
            };
            let actions = self.grant(identity, &scope).await?;
            access.push(Access {
                kind: scope.kind.clone(),
                name: scope.name.clone(),
                actions,
            });
        }
        let now = crate::now();
        let claims = Claims {
            iss: self.config.issuer.clone(),
            sub: identity.name().unwrap_or("").to_owned(),
            aud: self.config.service.clone(),
            exp: now + self.config.token_ttl,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let token = self
            .keys
            .sign(&claims)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(TokenResponse {
            access_token: token.clone(),
            token,
            expires_in: self.config.token_ttl,
            issued_at: rfc3339(now),
        })
    }

    /// Who a registry token speaks for when it is sent to `/v1/search`, as `docker search`
    /// does after logging in: its subject if it grants `registry:catalog:search` (or `*`), else
    /// nobody. `None` when it is not a valid registry token at all.
    pub async fn search_identity(&self, token: &str) -> Result<Option<Identity>> {
        let Ok(claims) = self.verify_token(token) else {
            return Ok(None);
        };
        let searches = claims.access.iter().any(|a| {
            a.kind == "registry"
                && a.name == "catalog"
                && a.actions.iter().any(|x| x == "search" || x == "*")
        });
        if !searches || claims.sub.is_empty() {
            return Ok(Some(Identity::anonymous()));
        }
        Ok(Some(self.subject_identity(Some(&claims.sub)).await?))
    }

    /// The repository a scope's name means: the name itself, or for a content trust
    /// collection (`<this registry's host>/<repository>`, as docker asks for it) the repository.
    pub fn scope_repository<'a>(&self, name: &'a str) -> &'a str {
        berth_registry::names::gun_repository(name, &self.config.service).unwrap_or(name)
    }

    /// Checks a registry token and returns its claims.
    pub fn verify_token(&self, token: &str) -> Result<Claims> {
        self.keys
            .verify(token, &self.config.issuer, &self.config.service)
            .map_err(|_| Error::BadCredentials)
    }
}

/// Whether a permission would allow every one of `actions`.
pub fn covers(permission: Permission, actions: &[&str]) -> bool {
    actions.iter().all(|a| permission.allows(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_times() {
        assert_eq!(
            RequestedScope::parse("repository:alice/app:pull,push"),
            Some(RequestedScope {
                kind: "repository".into(),
                name: "alice/app".into(),
                actions: vec!["pull".into(), "push".into()],
            })
        );
        assert_eq!(
            RequestedScope::parse("repository(plugin):a/b:pull").map(|s| s.kind),
            Some("repository".into())
        );
        assert_eq!(
            RequestedScope::parse("registry:catalog:*").map(|s| s.name),
            Some("catalog".into())
        );
        assert!(RequestedScope::parse("nonsense").is_none());
        assert!(RequestedScope::parse("repository::pull").is_none());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_615_200), "2026-11-25T14:00:00Z");
    }
}
