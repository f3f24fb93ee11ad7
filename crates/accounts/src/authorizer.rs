//! The registry's `Authorizer`, backed by accounts.
//!
//! Credentials on `/v2/` may be a Bearer token from the token service, or HTTP Basic (password,
//! personal access token) for simple clients. Without credentials, public pulls are allowed and
//! everything else is challenged with `401` naming the token realm and the scope to ask for.
//! A signed-in caller without read access to a repository gets `404 NAME_UNKNOWN`.

use std::sync::Arc;

use async_trait::async_trait;
use berth_registry::auth::{Action, Authorizer, Caller, Principal, Target};
use berth_registry::{Code, Error as RegistryError, Result as RegistryResult};

use crate::access::{Identity, Permission};
use crate::{repos, Accounts, Error};

/// Plugs accounts into the registry.
#[derive(Clone)]
pub struct AccountsAuthorizer(pub Arc<Accounts>);

fn action_names(actions: &[Action]) -> Vec<&'static str> {
    actions.iter().map(|a| a.as_str()).collect()
}

impl AccountsAuthorizer {
    fn challenge(&self, scope: Option<String>, error: Option<&str>) -> RegistryError {
        let c = &self.0.config;
        let mut value = format!("Bearer realm=\"{}\",service=\"{}\"", c.realm, c.service);
        if let Some(scope) = scope {
            value.push_str(&format!(",scope=\"{scope}\""));
        }
        if let Some(error) = error {
            value.push_str(&format!(",error=\"{error}\""));
        }
        RegistryError::new(Code::Unauthorized, "authentication required")
            .with_header("WWW-Authenticate", value)
    }

    fn internal(e: Error) -> RegistryError {
        match e {
            // The registry maps database errors to HTTP itself: a full disk says so (507).
            Error::Database(db) => RegistryError::from(db),
            e => {
                tracing::error!(error = %e, "authorization failed");
                RegistryError::internal("authorization failed")
            }
        }
    }

    /// Who the Basic credentials name, if any were sent.
    async fn basic_identity(&self, caller: &Caller<'_>, header: &str) -> RegistryResult<Identity> {
        let Some((name, secret)) = crate::parse_basic(header) else {
            return Err(self.challenge(None, Some("invalid_token")));
        };
        match self.0.login(&name, &secret, caller.peer).await {
            Ok(identity) => Ok(identity),
            Err(Error::Throttled { retry_after }) => Err(RegistryError::new(
                Code::TooManyRequests,
                "too many failed login attempts",
            )
            .with_header("Retry-After", retry_after.to_string())),
            Err(Error::BadCredentials) => Err(self.challenge(None, Some("invalid_token"))),
            Err(e) => Err(Self::internal(e)),
        }
    }

    async fn check_repository(
        &self,
        identity: &Identity,
        name: &str,
        actions: &[Action],
    ) -> RegistryResult<()> {
        let permission = self
            .0
            .permission(identity, name)
            .await
            .map_err(Self::internal)?;
        let wanted = action_names(actions);
        if crate::service::covers(permission, &wanted) {
            if actions.contains(&Action::Push) {
                let creator = identity.name().unwrap_or("");
                repos::ensure(&self.0.db, name, self.0.config.default_private, creator)
                    .await
                    .map_err(Self::internal)?;
            }
            return Ok(());
        }
        let scope = format!("repository:{name}:{}", wanted.join(","));
        if !identity.is_signed_in() {
            return Err(self.challenge(Some(scope), None));
        }
        if permission == Permission::None {
            return Err(RegistryError::new(
                Code::NameUnknown,
                format!("repository {name:?} is unknown"),
            ));
        }
        Err(RegistryError::new(
            Code::Denied,
            format!("requested access to {name:?} is denied"),
        ))
    }

    /// Checks a Bearer token's grants against the request.
    async fn check_token(&self, token: &str, target: Target<'_>) -> RegistryResult<Principal> {
        let claims = self
            .0
            .verify_token(token)
            .map_err(|_| self.challenge(None, Some("invalid_token")))?;
        let principal = Principal {
            subject: Some(claims.sub.clone()).filter(|s| !s.is_empty()),
        };
        let Target::Repository { name, actions } = target else {
            // Any valid token may ping /v2/; the catalog (filtered per caller) is for
            // signed-in callers only.
            if matches!(target, Target::Catalog) && principal.subject.is_none() {
                return Err(self.challenge(
                    Some("registry:catalog:*".to_owned()),
                    Some("insufficient_scope"),
                ));
            }
            return Ok(principal);
        };
        let wanted = action_names(actions);
        let granted = claims.access.iter().any(|a| {
            a.kind == "repository"
                && self.0.scope_repository(&a.name) == name
                && wanted.iter().all(|w| a.actions.iter().any(|g| g == w))
        });
        if granted {
            if actions.contains(&Action::Push) {
                repos::ensure(&self.0.db, name, self.0.config.default_private, &claims.sub)
                    .await
                    .map_err(Self::internal)?;
            }
            return Ok(principal);
        }
        // Not granted: would the subject even see the repository?
        let identity = self
            .0
            .subject_identity(principal.subject.as_deref())
            .await
            .map_err(Self::internal)?;
        let can_read = self
            .0
            .permission(&identity, name)
            .await
            .map_err(Self::internal)?
            >= Permission::Read;
        if identity.is_signed_in() && !can_read {
            return Err(RegistryError::new(
                Code::NameUnknown,
                format!("repository {name:?} is unknown"),
            ));
        }
        let scope = format!("repository:{name}:{}", wanted.join(","));
        Err(self.challenge(Some(scope), Some("insufficient_scope")))
    }
}

#[async_trait]
impl Authorizer for AccountsAuthorizer {
    async fn authorize(
        &self,
        caller: &Caller<'_>,
        target: Target<'_>,
    ) -> RegistryResult<Principal> {
        let header = caller.authorization.map(str::trim);
        if let Some(token) = header.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) {
            return self.check_token(token.trim(), target).await;
        }
        let identity = match header {
            Some(h) if !h.is_empty() => self.basic_identity(caller, h).await?,
            _ => Identity::anonymous(),
        };
        let principal = Principal {
            subject: identity.name().map(str::to_owned),
        };
        match target {
            // `docker login` learns where the token service is from this challenge.
            Target::Base | Target::Catalog if !identity.is_signed_in() => {
                let scope =
                    matches!(target, Target::Catalog).then(|| "registry:catalog:*".to_owned());
                Err(self.challenge(scope, None))
            }
            Target::Base | Target::Catalog => Ok(principal),
            Target::Repository { name, actions } => {
                self.check_repository(&identity, name, actions).await?;
                Ok(principal)
            }
        }
    }

    async fn visible(
        &self,
        principal: &Principal,
        names: Vec<String>,
    ) -> RegistryResult<Vec<String>> {
        let identity = self
            .0
            .subject_identity(principal.subject.as_deref())
            .await
            .map_err(Self::internal)?;
        let settings = repos::get_many(&self.0.db, &names)
            .await
            .map_err(Self::internal)?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let orgs = self
            .0
            .org_access(&identity, &refs)
            .await
            .map_err(Self::internal)?;
        Ok(names
            .into_iter()
            .filter(|name| {
                let s = settings.iter().find(|s| &s.repository == name);
                crate::access::permission(
                    &identity,
                    name,
                    s.map(|s| s.private),
                    &orgs.for_repository(name),
                    self.0.config.anonymous_pull,
                ) >= Permission::Read
            })
            .collect())
    }
}
