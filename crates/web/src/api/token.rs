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

pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req);
    let service = q
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
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
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token))
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: String,
    service: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub async fn post(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    if form.grant_type != "password" {
        return Err(ApiError::bad_request(format!(
            "unsupported grant_type {:?} (use password)",
            form.grant_type
        )));
    }
    let (Some(name), Some(secret)) = (form.username, form.password) else {
        return Err(ApiError::bad_request("username and password are required"));
    };
    let identity = accounts
        .login(&name, &secret, req.peer_addr().map(|a| a.ip()))
        .await?;
    let scopes: Vec<String> = form.scope.into_iter().collect();
    let token = accounts
        .issue_token(&identity, form.service.as_deref(), &scopes)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token))
}
