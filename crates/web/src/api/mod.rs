//! The JSON API under `/api/v1`, and the token service at `/auth/token`.

mod activity;
mod audit;
mod builds;
mod community;
mod error;
mod gc;
mod immutable;
mod orgs;
mod quotas;
mod repos;
mod retention;
mod scopes;
pub mod search;
mod sessions;
mod signing;
mod token;
mod users;
mod webhooks;

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};
use berth_accounts::access::Identity;
use berth_accounts::users::User;
use berth_accounts::Accounts;

pub use audit::{AuditQuery, PAGE_SIZE as AUDIT_PAGE_SIZE};
pub use error::ApiError;
pub use sessions::{session_cookie, COOKIE as SESSION_COOKIE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _| ApiError::bad_request(err.to_string()).into());
    let form = web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _| ApiError::bad_request(err.to_string()).into());
    cfg.app_data(json)
        .app_data(form)
        .service(
            web::resource("/auth/token")
                .route(web::get().to(token::get))
                .route(web::post().to(token::post)),
        )
        .service(
            web::resource("/v1/search")
                .app_data(query_config())
                .route(web::get().to(search::v1)),
        )
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(scopes::authenticate))
                // Scoped, not app-wide: a page's bad address is a page, not JSON.
                .app_data(query_config())
                .app_data(path_config())
                .default_service(web::to(no_such_endpoint))
                .route("/openapi.json", web::get().to(openapi))
                .route("/search", web::get().to(search::api))
                .route("/activity", web::get().to(activity::list))
                .route("/session", web::post().to(sessions::sign_in))
                .route("/session", web::get().to(sessions::current))
                .route("/session", web::delete().to(sessions::sign_out))
                .route("/users", web::post().to(users::sign_up))
                .route("/users", web::get().to(users::complete))
                .route("/audit", web::get().to(audit::list))
                .route("/admin/gc", web::get().to(gc::status))
                .route("/admin/gc", web::post().to(gc::run))
                .route("/users/{name}/active", web::put().to(users::set_active))
                .route(
                    "/users/{name}/password",
                    web::put().to(users::reset_password),
                )
                .route("/user/sessions", web::delete().to(users::end_sessions))
                .route(
                    "/admin/namespaces/{namespace}/quota",
                    web::get().to(quotas::get),
                )
                .route(
                    "/admin/namespaces/{namespace}/quota",
                    web::put().to(quotas::put),
                )
                .route("/user", web::get().to(users::me))
                .route("/user/password", web::put().to(users::change_password))
                .route("/user/tokens", web::get().to(users::list_tokens))
                .route("/user/tokens", web::post().to(users::create_token))
                .route("/user/tokens/{id}", web::delete().to(users::revoke_token))
                .route("/repositories", web::post().to(repos::create))
                .service(
                    web::resource("/build-hooks/{id}")
                        .app_data(web::PayloadConfig::new(builds::MAX_EVENT_BYTES))
                        .route(web::post().to(builds::push_event)),
                )
                // Before the catch-all routes of a repository itself.
                .route(
                    "/repositories/{name:.+}/build-source",
                    web::get().to(builds::get_source),
                )
                .route(
                    "/repositories/{name:.+}/build-source",
                    web::put().to(builds::put_source),
                )
                .route(
                    "/repositories/{name:.+}/build-source",
                    web::delete().to(builds::delete_source),
                )
                .route(
                    "/repositories/{name:.+}/build-rules",
                    web::get().to(builds::get_rules),
                )
                .route(
                    "/repositories/{name:.+}/build-rules",
                    web::put().to(builds::put_rules),
                )
                .route(
                    "/repositories/{name:.+}/build-badge",
                    web::get().to(builds::badge),
                )
                .route(
                    "/repositories/{name:.+}/builds/{id}/log",
                    web::get().to(builds::log),
                )
                .route(
                    "/repositories/{name:.+}/builds/{id}/cancel",
                    web::post().to(builds::cancel),
                )
                .route(
                    "/repositories/{name:.+}/builds/{id}",
                    web::get().to(builds::get),
                )
                .route(
                    "/repositories/{name:.+}/builds",
                    web::get().to(builds::list),
                )
                .route(
                    "/repositories/{name:.+}/builds",
                    web::post().to(builds::create),
                )
                .route(
                    "/repositories/{name:.+}/tags/{tag}",
                    web::get().to(community::tag),
                )
                .route(
                    "/repositories/{name:.+}/tags/{tag}",
                    web::delete().to(repos::delete_tag),
                )
                .route(
                    "/repositories/{name:.+}/tags",
                    web::get().to(community::tags),
                )
                .route(
                    "/repositories/{name:.+}/star",
                    web::put().to(community::star),
                )
                .route(
                    "/repositories/{name:.+}/star",
                    web::delete().to(community::unstar),
                )
                .route(
                    "/repositories/{name:.+}/comments/{id}",
                    web::patch().to(community::update_comment),
                )
                .route(
                    "/repositories/{name:.+}/comments/{id}",
                    web::delete().to(community::delete_comment),
                )
                .route(
                    "/repositories/{name:.+}/comments",
                    web::get().to(community::list_comments),
                )
                .route(
                    "/repositories/{name:.+}/comments",
                    web::post().to(community::create_comment),
                )
                .route(
                    "/repositories/{name:.+}/retention/preview",
                    web::post().to(retention::preview_repository),
                )
                .route(
                    "/repositories/{name:.+}/retention",
                    web::get().to(retention::get_repository),
                )
                .route(
                    "/repositories/{name:.+}/retention",
                    web::put().to(retention::put_repository),
                )
                .route(
                    "/repositories/{name:.+}/retention",
                    web::delete().to(retention::delete_repository),
                )
                .route(
                    "/repositories/{name:.+}/signing-policy",
                    web::get().to(signing::get_policy),
                )
                .route(
                    "/repositories/{name:.+}/signing-policy",
                    web::put().to(signing::set_policy),
                )
                .route(
                    "/repositories/{name:.+}/immutable-tags",
                    web::get().to(immutable::get_repository),
                )
                .route(
                    "/repositories/{name:.+}/immutable-tags",
                    web::put().to(immutable::put_repository),
                )
                .route(
                    "/repositories/{name:.+}/webhooks",
                    web::get().to(webhooks::list),
                )
                .route(
                    "/repositories/{name:.+}/webhooks",
                    web::post().to(webhooks::create),
                )
                .route(
                    "/repositories/{name:.+}/webhooks/{id}",
                    web::get().to(webhooks::get),
                )
                .route(
                    "/repositories/{name:.+}/webhooks/{id}",
                    web::patch().to(webhooks::update),
                )
                .route(
                    "/repositories/{name:.+}/webhooks/{id}",
                    web::delete().to(webhooks::delete),
                )
                .route(
                    "/repositories/{name:.+}/webhooks/{id}/deliveries",
                    web::get().to(webhooks::list_deliveries),
                )
                .route(
                    "/repositories/{name:.+}/webhooks/{id}/deliveries/{delivery}/redeliver",
                    web::post().to(webhooks::redeliver),
                )
                .route("/repositories/{name:.+}", web::get().to(repos::get))
                .route("/repositories/{name:.+}", web::patch().to(repos::patch))
                .route("/repositories/{name:.+}", web::delete().to(repos::delete))
                // Organizations, teams and robot accounts.
                .route("/orgs", web::post().to(orgs::create))
                .route("/orgs/{org}", web::get().to(orgs::get))
                .route("/orgs/{org}", web::delete().to(orgs::delete))
                .route(
                    "/orgs/{org}/members/{user}",
                    web::put().to(orgs::set_member),
                )
                .route(
                    "/orgs/{org}/members/{user}",
                    web::delete().to(orgs::remove_member),
                )
                // Invitations: owners see and cancel an organization's; the invitee answers.
                .route(
                    "/orgs/{org}/invitations",
                    web::get().to(orgs::list_invitations),
                )
                .route(
                    "/orgs/{org}/invitations/{id}",
                    web::delete().to(orgs::cancel_invitation),
                )
                .route("/user/invitations", web::get().to(orgs::my_invitations))
                .route(
                    "/user/invitations/{id}/accept",
                    web::post().to(orgs::accept_invitation),
                )
                .route(
                    "/user/invitations/{id}/decline",
                    web::post().to(orgs::decline_invitation),
                )
                .route("/orgs/{org}/teams", web::post().to(orgs::create_team))
                .route("/orgs/{org}/teams", web::get().to(orgs::list_teams))
                .route(
                    "/orgs/{org}/teams/{team}/members/{user}",
                    web::put().to(orgs::add_team_member),
                )
                .route(
                    "/orgs/{org}/teams/{team}/members/{user}",
                    web::delete().to(orgs::remove_team_member),
                )
                .route(
                    "/orgs/{org}/teams/{team}/repositories/{repo:.+}",
                    web::put().to(orgs::set_team_permission),
                )
                .route(
                    "/orgs/{org}/teams/{team}/repositories/{repo:.+}",
                    web::delete().to(orgs::remove_team_permission),
                )
                .route("/orgs/{org}/webhooks", web::get().to(webhooks::list))
                .route("/orgs/{org}/webhooks", web::post().to(webhooks::create))
                .route("/orgs/{org}/webhooks/{id}", web::get().to(webhooks::get))
                .route(
                    "/orgs/{org}/webhooks/{id}",
                    web::patch().to(webhooks::update),
                )
                .route(
                    "/orgs/{org}/webhooks/{id}",
                    web::delete().to(webhooks::delete),
                )
                .route(
                    "/orgs/{org}/webhooks/{id}/deliveries",
                    web::get().to(webhooks::list_deliveries),
                )
                .route(
                    "/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver",
                    web::post().to(webhooks::redeliver),
                )
                .route(
                    "/webhooks/callbacks/{delivery}/{token}",
                    web::post().to(webhooks::callback),
                )
                // Content trust.
                .route("/user/signing-keys", web::get().to(signing::list_keys))
                .route("/user/signing-keys", web::post().to(signing::add_key))
                .route(
                    "/user/signing-keys/{id}",
                    web::delete().to(signing::remove_key),
                )
                .route("/user/signing-policy", web::get().to(signing::get_policy))
                .route("/user/signing-policy", web::put().to(signing::set_policy))
                .route(
                    "/orgs/{org}/signing-keys",
                    web::get().to(signing::list_keys),
                )
                .route("/orgs/{org}/signing-keys", web::post().to(signing::add_key))
                .route(
                    "/orgs/{org}/signing-keys/{id}",
                    web::delete().to(signing::remove_key),
                )
                .route(
                    "/orgs/{org}/signing-policy",
                    web::get().to(signing::get_policy),
                )
                .route(
                    "/orgs/{org}/signing-policy",
                    web::put().to(signing::set_policy),
                )
                // Immutable tag rules of a namespace.
                .route(
                    "/user/immutable-tags",
                    web::get().to(immutable::get_namespace),
                )
                .route(
                    "/user/immutable-tags",
                    web::put().to(immutable::put_namespace),
                )
                .route(
                    "/orgs/{org}/immutable-tags",
                    web::get().to(immutable::get_namespace),
                )
                .route(
                    "/orgs/{org}/immutable-tags",
                    web::put().to(immutable::put_namespace),
                )
                // Retention rules of an organization's namespace.
                .route("/orgs/{org}/retention", web::get().to(retention::get_org))
                .route("/orgs/{org}/retention", web::put().to(retention::put_org))
                .route(
                    "/orgs/{org}/retention",
                    web::delete().to(retention::delete_org),
                )
                .route(
                    "/orgs/{org}/retention/preview",
                    web::post().to(retention::preview_org),
                )
                .route("/orgs/{org}/robots", web::post().to(orgs::create_robot))
                .route("/orgs/{org}/robots", web::get().to(orgs::list_robots))
                .route(
                    "/orgs/{org}/robots/{robot}",
                    web::delete().to(orgs::revoke_robot),
                ),
        );
}

/// A query string that does not fit the endpoint's parameters is the API's 400.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _| ApiError::bad_request(format!("invalid query: {err}")).into())
}

/// A path parameter that does not parse (a comment id that is not a number) names nothing.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("no such resource: {err}"),
        )
        .into()
    })
}

/// Any address under `/api/v1` that no endpoint (with that method) claims.
async fn no_such_endpoint() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such API endpoint",
    ))
}

/// The API's OpenAPI document.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// The identity the request proves: its `Authorization` header (Basic with a password or a
/// personal access token, or `Bearer <personal access token>`), or else its session cookie —
/// with the session's CSRF token in `X-CSRF-Token` for anything but a read — or anonymous.
pub async fn identity(accounts: &Accounts, req: &HttpRequest) -> Result<Identity, ApiError> {
    if let Some(scopes::Authenticated(identity)) = req.extensions().get::<scopes::Authenticated>() {
        return Ok(identity.clone());
    }
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return session_identity(accounts, req).await;
    }
    header_identity(accounts, req).await
}

/// The identity the `Authorization` header proves.
async fn header_identity(accounts: &Accounts, req: &HttpRequest) -> Result<Identity, ApiError> {
    let h = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let peer = req.peer_addr().map(|a| a.ip());
    if let Some(token) = h.strip_prefix("Bearer ") {
        let token = token.trim();
        // A bearer personal access token names its owner itself.
        let owner = berth_accounts::tokens::owner(&accounts.db, token).await?;
        let Some(owner) = owner else {
            return Err(ApiError::unauthorized());
        };
        return Ok(accounts.login(&owner, token, peer).await?);
    }
    let (name, secret) = berth_accounts::parse_basic(h).ok_or_else(ApiError::unauthorized)?;
    Ok(accounts.login(&name, &secret, peer).await?)
}

async fn session_identity(accounts: &Accounts, req: &HttpRequest) -> Result<Identity, ApiError> {
    let Some(cookie) = req.cookie(sessions::COOKIE) else {
        return Ok(Identity::anonymous());
    };
    let Some((user, csrf)) = berth_accounts::sessions::get(&accounts.db, cookie.value()).await?
    else {
        return Ok(Identity::anonymous());
    };
    let reads = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if !reads {
        let sent = req
            .headers()
            .get(sessions::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
            return Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token for this session",
            ));
        }
    }
    Ok(Identity {
        user: Some(user),
        ..Identity::default()
    })
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signed-in site administrator, or `401` for nobody and `403` with `refusal` for anyone
/// else.
pub async fn site_admin(
    accounts: &Accounts,
    req: &HttpRequest,
    refusal: &'static str,
) -> Result<User, ApiError> {
    let (me, _) = user(accounts, req).await?;
    if !me.is_admin {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            refusal,
        ));
    }
    Ok(me)
}

/// The signed-in user, or `401`.
pub async fn user(accounts: &Accounts, req: &HttpRequest) -> Result<(User, Identity), ApiError> {
    let identity = identity(accounts, req).await?;
    match identity.user.clone() {
        Some(u) => Ok((u, identity)),
        None => Err(ApiError::unauthorized()),
    }
}
