//! Berth's web UI (server-rendered pages over the registry's data), its JSON API and the
//! token service's HTTP face.

pub mod api;
pub mod images;
pub mod markdown;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_registry::Registry;

/// Embedded at build time so the binary is all a deployment needs.
const STYLESHEET: &str = include_str!("../../../static/berth.css");

/// What the pages need.
pub struct Site {
    registry: Arc<Registry>,
    /// Host (and port) used in `docker pull` commands.
    registry_host: String,
}

impl Site {
    pub fn new(registry: Arc<Registry>, registry_host: String) -> Self {
        Site {
            registry,
            registry_host,
        }
    }
}

/// Mounts the web routes.
pub fn configure(site: web::Data<Site>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(site)
            .configure(api::configure)
            .route("/", web::get().to(home))
            .route("/static/berth.css", web::get().to(stylesheet));
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    host: &'a str,
    repositories: Vec<String>,
}

const HOME_LIMIT: i64 = 100;

async fn home(site: web::Data<Site>) -> HttpResponse {
    let repositories = match site.registry.meta().catalog(None, HOME_LIMIT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "listing repositories for the home page");
            return HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The repository list is unavailable right now.");
        }
    };
    let page = Home {
        host: &site.registry_host,
        repositories,
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'",
            ))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "rendering the home page");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(STYLESHEET)
}
