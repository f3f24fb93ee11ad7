//! Signing in and out of the web: `POST /api/v1/session` sets an HttpOnly session cookie and
//! answers the CSRF token that every state-changing request made with the cookie must send back
//! in `X-CSRF-Token`.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::{sessions, Accounts};
use serde::Deserialize;

use super::ApiError;

pub const COOKIE: &str = "berth_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The session cookie with Berth's attributes (also set by the web pages' sign-in).
pub fn session_cookie(accounts: &Accounts, value: String, max_age: Duration) -> Cookie<'static> {
    cookie(accounts, value, max_age)
}

fn cookie(accounts: &Accounts, value: String, max_age: Duration) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        // Secure whenever Berth is reached over TLS.
        .secure(accounts.config.realm.starts_with("https://"))
        .max_age(max_age)
        .finish()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

pub async fn sign_in(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let identity = accounts
        .login(
            &body.username,
            &body.password,
            req.peer_addr().map(|a| a.ip()),
        )
        .await?;
    // Sessions are for people with passwords, not for tokens or robots.
    let (Some(user), None) = (identity.user, identity.scope) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "sign in with the account's password",
        ));
    };
    let session = sessions::create(&accounts.db, &user).await?;
    Ok(HttpResponse::Created()
        .cookie(cookie(
            &accounts,
            session.secret,
            Duration::seconds(sessions::IDLE_TTL),
        ))
        .json(serde_json::json!({ "user": user, "csrf_token": session.csrf_token })))
}

/// The signed-in user and the session's CSRF token (for pages that need it).
pub async fn current(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let secret = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(ApiError::unauthorized)?;
    let (user, csrf) = sessions::get(&accounts.db, &secret)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user": user, "csrf_token": csrf })))
}

pub async fn sign_out(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    // Checks the cookie and, for this state change, the CSRF token.
    super::user(&accounts, &req).await?;
    if let Some(c) = req.cookie(COOKIE) {
        sessions::delete(&accounts.db, c.value()).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookie(&accounts, String::new(), Duration::ZERO))
        .finish())
}
