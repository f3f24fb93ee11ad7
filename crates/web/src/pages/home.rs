//! The front page: what Berth is and a search box. It lists no repositories, so nothing
//! private can leak from it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{render, Chrome, PageError, Viewer};
use crate::Site;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    chrome: Chrome,
    host: &'a str,
}

pub async fn page(viewer: Viewer, site: web::Data<Site>) -> Result<HttpResponse, PageError> {
    let page = Home {
        chrome: viewer.chrome.clone(),
        host: &site.registry_host,
    };
    render(&viewer, StatusCode::OK, &page)
}
