//! `GET /auth/token` (Docker's token spec) and `POST /auth/token` (its OAuth2 form).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::Identity;
use berth_accounts::Accounts;
use serde::Deserialize;

use super::ApiError;

/// `service`, repeated `scope`, `account`, `offline_token`, `client_id`.
fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// How long a refresh token (`offline_token=true`, what `docker login` keeps) lives.
const REFRESH_TTL: i64 = 90 * 24 * 3600;

/// A refresh token for a user who logged in: an access token of the same strength as the
/// credentials, listed with the user's tokens (so it can be revoked) and named after the client.
async fn refresh_token(
    accounts: &Accounts,
    identity: &Identity,
    client_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(user) = &identity.user else {
        return Ok(None);
    };
    // Only a password login gets one: a token must not be able to outlive its own expiry or
    // revocation by minting a fresh one.
    if identity.scope.is_some() {
        return Ok(None);
    }
    let client: String = client_id
        .unwrap_or("unknown client")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    let created = berth_accounts::tokens::create_refresh(
        &accounts.db,
        user,
        &format!("login from {client}"),
        berth_accounts::now() + REFRESH_TTL,
    )
    .await?;
    Ok(Some(created.token))
}

/// The token answer, with a refresh token when one was made.
fn answer(token: berth_accounts::service::TokenResponse, refresh: Option<String>) -> HttpResponse {
    let mut body = serde_json::to_value(token).unwrap_or_default();
    if let Some(r) = refresh {
        body["refresh_token"] = serde_json::Value::String(r);
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

async fn audit_login(accounts: &Accounts, identity: &Identity, req: &HttpRequest) {
    let Some(name) = identity.name() else {
        return;
    };
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    if let Err(e) = berth_accounts::audit::record(&accounts.db, name, "login", name, &peer).await {
        tracing::warn!(error = %e, "audit log");
    }
}

pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req);
    let param = |key: &str| q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let service = param("service");
    let scopes: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let identity = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => {
            let (name, secret) =
                berth_accounts::parse_basic(h).ok_or_else(ApiError::unauthorized)?;
            accounts
                .login(&name, &secret, req.peer_addr().map(|a| a.ip()))
                .await?
        }
        None => Identity::anonymous(),
    };
    let token = accounts.issue_token(&identity, service, &scopes).await?;
    let mut refresh = None;
    if identity.name().is_some() {
        audit_login(&accounts, &identity, &req).await;
        if param("offline_token") == Some("true") {
            refresh = refresh_token(&accounts, &identity, param("client_id")).await?;
        }
    }
    Ok(answer(token, refresh))
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: String,
    service: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    access_type: Option<String>,
}

pub async fn post(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let peer = req.peer_addr().map(|a| a.ip());
    let identity = match form.grant_type.as_str() {
        "password" => {
            let (Some(name), Some(secret)) = (&form.username, &form.password) else {
                return Err(ApiError::bad_request("username and password are required"));
            };
            accounts.login(name, secret, peer).await?
        }
        "refresh_token" => {
            let Some(secret) = &form.refresh_token else {
                return Err(ApiError::bad_request("refresh_token is required"));
            };
            let owner = berth_accounts::tokens::owner(&accounts.db, secret)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            accounts.login(&owner, secret, peer).await?
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unsupported grant_type {other:?} (password or refresh_token)"
            )))
        }
    };
    let scopes: Vec<String> = form.scope.iter().cloned().collect();
    let token = accounts
        .issue_token(&identity, form.service.as_deref(), &scopes)
        .await?;
    audit_login(&accounts, &identity, &req).await;
    let refresh = if form.grant_type == "password" && form.access_type.as_deref() == Some("offline")
    {
        refresh_token(&accounts, &identity, form.client_id.as_deref()).await?
    } else {
        None
    };
    Ok(answer(token, refresh))
}
