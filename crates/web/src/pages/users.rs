//! A user's page: who they are, their organizations, and the repositories of their namespace
//! that the viewer may see.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::{orgs, users, Accounts};
use berth_hub::Hub;
use berth_registry::Registry;
use serde::Deserialize;

use super::filters;
use super::forms::PageNumber;
use super::storage::{self, Storage};
use super::{render, time, Chrome, PageError, Viewer};

/// How many repositories a profile lists a page.
pub const PER_PAGE: i64 = 30;

#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<PageNumber>,
}

/// Where a list of repositories is in its pages.
pub struct Paging {
    pub path: String,
    pub page: i64,
    pub has_next: bool,
}

impl Paging {
    pub fn prev_url(&self) -> String {
        format!("{}?page={}", self.path, self.page - 1)
    }

    pub fn next_url(&self) -> String {
        format!("{}?page={}", self.path, self.page + 1)
    }
}

/// One page of the repositories of `namespace` the viewer may see. One more than a page is
/// read to know whether there is a next: counted among visible rows only, so it says nothing
/// about private ones.
pub async fn repositories(
    hub: &Hub,
    viewer: &Viewer,
    namespace: &str,
    path: String,
    query: &PageQuery,
) -> Result<(Vec<RepoRow>, Paging), PageError> {
    let page = query.page.map_or(1, |p| p.0).clamp(1, 10_000);
    let mut found = hub
        .visible_in_namespace(
            &viewer.identity(),
            namespace,
            PER_PAGE + 1,
            (page - 1) * PER_PAGE,
        )
        .await?;
    let has_next = found.len() > usize::try_from(PER_PAGE).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(PER_PAGE).unwrap_or(0));
    Ok((
        found.iter().map(RepoRow::from).collect(),
        Paging {
            path,
            page,
            has_next,
        },
    ))
}

pub struct RepoRow {
    pub name: String,
    pub url: String,
    pub private: bool,
    pub description: String,
    pub pulls: i64,
    /// Last pushed, or created if never pushed (Unix seconds).
    pub updated: i64,
}

impl RepoRow {
    pub fn from(s: &berth_accounts::repos::RepoSettings) -> Self {
        RepoRow {
            url: super::repository_url(&s.repository),
            name: s.repository.clone(),
            private: s.private,
            description: s.description.clone(),
            pulls: s.pull_count,
            updated: s.last_pushed_at.unwrap_or(s.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    name: String,
    joined: String,
    is_self: bool,
    orgs: Vec<String>,
    repositories: Vec<RepoRow>,
    paging: Paging,
    /// Repositories the user starred that the viewer may see.
    starred: Vec<super::search::Card>,
    /// What the user's namespace stores, and its quota (for the user and administrators).
    storage: Option<Storage>,
}

/// How many starred repositories a profile shows.
const STARRED_SHOWN: i64 = 12;

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let user = users::by_name(&accounts.db, &name)
        .await?
        .filter(|u| u.active)
        .ok_or_else(PageError::not_found)?;
    let path = format!("/u/{}", user.name);
    let (repositories, paging) = repositories(&hub, &viewer, &user.name, path, &query).await?;
    let orgs = orgs::of_user(&accounts.db, user.id)
        .await?
        .into_iter()
        .map(|(o, _)| o.name)
        .collect();
    let visible = accounts.viewer(&viewer.identity()).await?;
    let starred = berth_hub::stars::starred(&hub, user.id, &visible, STARRED_SHOWN)
        .await?
        .iter()
        .map(super::search::Card::of)
        .collect();
    let is_self = viewer.user.as_ref().is_some_and(|v| v.id == user.id);
    // What a namespace stores tells of its private repositories too: for its owner and the
    // site's administrators only.
    let storage = if is_self || viewer.user.as_ref().is_some_and(|v| v.is_admin) {
        Some(storage::of_namespace(registry.meta(), &user.name).await?)
    } else {
        None
    };
    let page = UserPage {
        starred,
        chrome: viewer.chrome.clone(),
        joined: time::month_year(user.created_at),
        is_self,
        storage,
        orgs,
        repositories,
        paging,
        name: user.name,
    };
    render(&viewer, StatusCode::OK, &page)
}
