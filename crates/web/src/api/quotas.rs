//! Storage quotas of namespaces, which site administrators set and read.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::users;
use berth_accounts::Accounts;
use berth_hub::Hub;
use berth_registry::Registry;
use serde::{Deserialize, Deserializer};

use super::{site_admin, ApiError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaBody {
    /// Bytes, or `null` to remove the quota; required either way, so that a body without it
    /// cannot remove a quota by accident.
    #[serde(deserialize_with = "nullable")]
    bytes: Option<u64>,
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

/// `GET /api/v1/admin/namespaces/{namespace}/quota`: `{"namespace", "bytes", "default_bytes",
/// "used"}`.
pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    namespace: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    site_admin(
        &accounts,
        &req,
        "only site administrators manage storage quotas",
    )
    .await?;
    if !users::namespace_exists(&accounts.db, &namespace).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("namespace {namespace} not found"),
        ));
    }
    Ok(HttpResponse::Ok().json(registry.meta().quota(&namespace).await?))
}

/// `PUT …/quota` with `{"bytes": N}` sets the quota, `{"bytes": null}` removes it.
pub async fn put(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    registry: web::Data<Registry>,
    namespace: web::Path<String>,
    body: web::Json<QuotaBody>,
) -> Result<HttpResponse, ApiError> {
    let me = site_admin(
        &accounts,
        &req,
        "only site administrators manage storage quotas",
    )
    .await?;
    let bytes = body
        .bytes
        .map(i64::try_from)
        .transpose()
        .map_err(|_| ApiError::bad_request(format!("a quota is at most {} bytes", i64::MAX)))?;
    hub.set_quota(&me, &namespace, bytes).await?;
    Ok(HttpResponse::Ok().json(registry.meta().quota(&namespace).await?))
}
