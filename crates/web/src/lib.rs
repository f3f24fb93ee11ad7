//! Berth's web UI (server-rendered pages over the registry's data), its JSON API and the
//! token service's HTTP face.

pub mod api;
pub mod error;
pub mod highlight;
pub mod images;
pub mod markdown;
pub mod pages;

use actix_web::web;

/// What the pages need besides the stores.
pub struct Site {
    /// Host (and port) used in `docker pull` commands.
    registry_host: String,
}

impl Site {
    pub fn new(registry_host: String) -> Self {
        Site { registry_host }
    }

    /// Host (and port) used in `docker pull` commands.
    pub fn registry_host(&self) -> &str {
        &self.registry_host
    }
}

/// Mounts the web routes: the JSON API, then the pages (last: they answer every path nothing
/// else claimed with the site's 404 page).
pub fn configure(site: web::Data<Site>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(site)
            .configure(api::configure)
            .configure(pages::configure);
    }
}
