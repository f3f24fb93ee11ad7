//! The front page: what Berth is, a search box, and the most popular and most recently pushed
//! repositories the viewer may see (through the same search seam as `/search`, so nothing
//! private reaches an outsider).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::Accounts;
use berth_hub::search::{self, Sort};
use berth_hub::Hub;

use super::filters;
use super::search::Card;
use super::{render, Chrome, PageError, Viewer};
use crate::Site;

/// How many repositories each list shows.
const SHOWN: i64 = 6;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    chrome: Chrome,
    host: &'a str,
    popular: Vec<Card>,
    recent: Vec<Card>,
}

pub async fn page(
    viewer: Viewer,
    site: web::Data<Site>,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
) -> Result<HttpResponse, PageError> {
    let visible = accounts.viewer(&viewer.identity()).await?;
    let list = |sort| search::Query {
        sort,
        limit: SHOWN,
        ..search::Query::default()
    };
    let popular = search::search(&hub, &visible, &list(Sort::Stars)).await?;
    let recent = search::search(&hub, &visible, &list(Sort::Pushed)).await?;
    let page = Home {
        chrome: viewer.chrome.clone(),
        host: &site.registry_host,
        popular: popular.repositories.iter().map(Card::of).collect(),
        recent: recent
            .repositories
            .iter()
            .filter(|r| r.last_pushed_at.is_some())
            .map(Card::of)
            .collect(),
    };
    render(&viewer, StatusCode::OK, &page)
}
