//! What an access token's scope must be for each API operation, checked where a request
//! authenticates (the [`authenticate`] middleware) rather than in each handler, so that a new
//! state-changing route cannot forget it.
//!
//! - reads (`GET`, `HEAD`) need any token;
//! - the everyday writes a person makes while working with images ([`READ_WRITE`]) need a
//!   `read-write` token;
//! - everything else that changes state administers something (keys, policies, webhooks,
//!   members, teams, tokens, robots, repository settings, deletion) and needs a
//!   `read-write-delete` token. A route not listed here is treated as administration.
//!
//! A password or a web session is not capped by a scope.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use berth_accounts::access::{Identity, Scope};
use berth_accounts::Accounts;

use super::ApiError;

/// The writes a `read-write` token may make, by method and route pattern.
const READ_WRITE: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/repositories"),
    (Method::PUT, "/api/v1/repositories/{name:.+}/star"),
    (Method::DELETE, "/api/v1/repositories/{name:.+}/star"),
    (Method::POST, "/api/v1/repositories/{name:.+}/comments"),
    (
        Method::PATCH,
        "/api/v1/repositories/{name:.+}/comments/{id}",
    ),
];

/// Operations that do not authenticate with the `Authorization` header: signing in and up
/// (the credentials are in the body) and webhook callbacks (the secret is in the address).
const NOT_AUTHENTICATED: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/session"),
    (Method::POST, "/api/v1/users"),
    (
        Method::POST,
        "/api/v1/webhooks/callbacks/{delivery}/{token}",
    ),
];

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn listed(list: &[(Method, &str)], method: &Method, pattern: Option<&str>) -> bool {
    list.iter().any(|(m, p)| m == method && Some(*p) == pattern)
}

/// The least scope a token needs for `method` on the route `pattern`.
pub fn required(method: &Method, pattern: Option<&str>) -> Scope {
    if is_read(method) {
        Scope::Read
    } else if listed(READ_WRITE, method, pattern) {
        Scope::ReadWrite
    } else {
        Scope::ReadWriteDelete
    }
}

/// The identity a request proved, once [`authenticate`] has checked it.
#[derive(Clone)]
pub(super) struct Authenticated(pub Identity);

/// Authenticates every state-changing API request that carries an `Authorization` header before
/// its handler (and its body) is looked at, and refuses a token whose scope is too narrow for
/// the route with `403`. The identity is kept for the handler, so credentials are checked (and
/// failures counted) once.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let has_header = req.headers().contains_key(header::AUTHORIZATION);
    if is_read(&method) || !has_header {
        return next.call(req).await;
    }
    let pattern = req.match_pattern();
    if listed(NOT_AUTHENTICATED, &method, pattern.as_deref()) {
        return next.call(req).await;
    }
    let Some(accounts) = req.app_data::<web::Data<Accounts>>().cloned() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
        .into());
    };
    let identity = super::header_identity(&accounts, req.request()).await?;
    if let Some(scope) = identity.scope {
        let needed = required(&method, pattern.as_deref());
        if !scope.includes(needed) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this operation needs a {} access token; this one is {}",
                    needed.as_str(),
                    scope.as_str()
                ),
            )
            .into());
        }
    }
    req.extensions_mut().insert(Authenticated(identity));
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_writes_administer() {
        assert_eq!(
            required(&Method::GET, Some("/api/v1/anything")),
            Scope::Read
        );
        assert_eq!(
            required(&Method::PUT, Some("/api/v1/repositories/{name:.+}/star")),
            Scope::ReadWrite
        );
        assert_eq!(
            required(&Method::PUT, Some("/api/v1/user/signing-policy")),
            Scope::ReadWriteDelete
        );
        assert_eq!(required(&Method::POST, None), Scope::ReadWriteDelete);
    }
}
