//! Sign-up, the signed-in user, password changes and personal access tokens.

use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::Scope;
use berth_accounts::users::{self, NewUser};
use berth_accounts::{tokens, Accounts};
use serde::Deserialize;

use super::{site_admin, user, ApiError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    username: String,
    email: String,
    password: String,
}

/// Open sign-up. Only these three fields are accepted: nobody can sign up as an administrator.
pub async fn sign_up(
    accounts: web::Data<Accounts>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, ApiError> {
    if !accounts.config.open_signup {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "signup_closed",
            "sign-up is closed on this registry",
        ));
    }
    let created = users::create(
        &accounts.db,
        NewUser {
            name: &body.username,
            email: &body.email,
            password: &body.password,
        },
        false,
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
pub struct CompleteQuery {
    #[serde(default)]
    q: String,
}

/// `GET /api/v1/users?q=bo`: names of active users starting with `q` (at most 10), for the
/// member forms' completion. Signed-in callers only: nobody lists accounts anonymously.
pub async fn complete(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    query: web::Query<CompleteQuery>,
) -> Result<HttpResponse, ApiError> {
    user(&accounts, &req).await?;
    let names = users::complete(&accounts.db, &query.q).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "users": names })))
}

pub async fn me(req: HttpRequest, accounts: web::Data<Accounts>) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    Ok(HttpResponse::Ok().json(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let (me, identity) = user(&accounts, &req).await?;
    if identity.scope.is_some() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "an access token cannot change the password",
        ));
    }
    // Asked from a web session: that session stays signed in, every other one ends.
    let session = if req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
    {
        None
    } else {
        req.cookie(super::SESSION_COOKIE)
    };
    accounts
        .change_password(
            &me.name,
            &body.current_password,
            &body.new_password,
            session.as_ref().map(|c| c.value()),
            req.peer_addr().map(|a| a.ip()),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    new_password: String,
}

/// An administrator sets a user's password; every session and refresh token of theirs ends.
pub async fn reset_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
    body: web::Json<PasswordReset>,
) -> Result<HttpResponse, ApiError> {
    let me = site_admin(&accounts, &req, "only administrators may reset passwords").await?;
    berth_accounts::credentials::reset_password(&accounts.db, &me.name, &name, &body.new_password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Signs the user out everywhere: every web session and refresh token ends.
pub async fn end_sessions(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    berth_accounts::sessions::sign_out_everywhere(&accounts.db, &me).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_tokens(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    Ok(HttpResponse::Ok().json(tokens::list(&accounts.db, &me).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scope: Scope,
    /// Unix seconds.
    expires_at: Option<i64>,
}

pub async fn create_token(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let (me, identity) = user(&accounts, &req).await?;
    // Only a password creates tokens: a token minting tokens could outlive its own expiry and
    // revocation.
    if identity.scope.is_some() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "access tokens are created with the account's password",
        ));
    }
    let scope = body.scope;
    let created = tokens::create(&accounts.db, &me, &body.name, scope, body.expires_at).await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn revoke_token(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A narrower token never gets here: revoking needs read-write-delete (`scopes`).
    let (me, _) = user(&accounts, &req).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("a token id is a number"))?;
    tokens::revoke(&accounts.db, &me, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Active {
    active: bool,
}

/// Deactivates or reactivates a user (administrators only). A deactivated user can no longer
/// log in, and their tokens stop working.
pub async fn set_active(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
    body: web::Json<Active>,
) -> Result<HttpResponse, ApiError> {
    let me = site_admin(&accounts, &req, "only administrators may deactivate users").await?;
    if me.name == *name && !body.active {
        return Err(ApiError::bad_request(
            "administrators cannot deactivate themselves",
        ));
    }
    berth_accounts::credentials::set_active(&accounts.db, &me.name, &name, body.active).await?;
    Ok(HttpResponse::NoContent().finish())
}
