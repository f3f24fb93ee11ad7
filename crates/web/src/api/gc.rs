//! Garbage collection for site administrators: what the last runs freed, and a run on demand.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::Accounts;
use berth_hub::gc::{format_duration, parse_duration, GcConfig, Outcome, Request};
use berth_hub::Hub;
use berth_registry::lifecycle::gc;
use berth_registry::Registry;
use berth_trust::Trust;
use serde::Deserialize;
use serde_json::json;

use super::{site_admin, ApiError};

/// The settings and the last 20 runs, newest first.
pub async fn status(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    config: web::Data<GcConfig>,
) -> Result<HttpResponse, ApiError> {
    site_admin(
        &accounts,
        &req,
        "only site administrators may see or run garbage collection",
    )
    .await?;
    let runs = gc::recent_runs(&registry, 20).await?;
    Ok(HttpResponse::Ok().json(json!({
        "schedule": config.schedule.map(format_duration),
        "grace": format_duration(config.grace),
        "untagged_after": config.untagged_after.map(format_duration),
        "uploads_after": format_duration(config.uploads_after),
        "runs": runs,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    dry_run: bool,
    /// Overrides the configured grace period, e.g. `0s` or `30m`.
    grace: Option<String>,
}

/// Runs a collection now (`{}` for the configured settings) and answers with what it freed;
/// `409` while another runs.
pub async fn run(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    registry: web::Data<Registry>,
    trust: web::Data<Trust>,
    config: web::Data<GcConfig>,
    body: web::Json<RunBody>,
) -> Result<HttpResponse, ApiError> {
    let actor = site_admin(
        &accounts,
        &req,
        "only site administrators may see or run garbage collection",
    )
    .await?
    .name;
    let body = body.into_inner();
    let grace = body
        .grace
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_grace", e))?;
    let request = Request {
        dry_run: body.dry_run,
        grace,
        trigger: "api",
        actor,
    };
    match hub
        .collect_garbage(&registry, &trust, &config, request, &|_| {})
        .await?
    {
        Outcome::Done(report) => Ok(HttpResponse::Ok().json(report)),
        Outcome::Busy => Err(ApiError::new(
            StatusCode::CONFLICT,
            "gc_running",
            "another garbage collection is running; try again when it has finished",
        )),
    }
}
