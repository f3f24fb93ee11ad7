//! A user's page: who they are, their organizations, and the repositories of their namespace
//! that the viewer may see.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::{orgs, users, Accounts};

use super::chrome::initial;
use super::{render, time, Chrome, PageError, Viewer};

/// How many repositories a profile lists.
pub const REPOSITORY_LIMIT: i64 = 100;

pub struct RepoRow {
    pub name: String,
    pub url: String,
    pub private: bool,
    pub description: String,
    pub pulls: i64,
    pub updated: String,
}

impl RepoRow {
    pub fn from(s: &berth_accounts::repos::RepoSettings) -> Self {
        RepoRow {
            url: super::repository_url(&s.repository),
            name: s.repository.clone(),
            private: s.private,
            description: s.description.clone(),
            pulls: s.pull_count,
            updated: time::date(s.last_pushed_at.unwrap_or(s.created_at)),
        }
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    name: String,
    initial: String,
    joined: String,
    is_self: bool,
    orgs: Vec<String>,
    repositories: Vec<RepoRow>,
}

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = users::by_name(&accounts.pool, &name)
        .await?
        .filter(|u| u.active)
        .ok_or_else(PageError::not_found)?;
    let repositories = accounts
        .visible_in_namespace(&viewer.identity(), &user.name, REPOSITORY_LIMIT, 0)
        .await?;
    let orgs = orgs::of_user(&accounts.pool, user.id)
        .await?
        .into_iter()
        .map(|(o, _)| o.name)
        .collect();
    let page = UserPage {
        chrome: viewer.chrome.clone(),
        initial: initial(&user.name),
        joined: time::month_year(user.created_at),
        is_self: viewer.user.as_ref().is_some_and(|v| v.id == user.id),
        orgs,
        repositories: repositories.iter().map(RepoRow::from).collect(),
        name: user.name,
    };
    render(&viewer, StatusCode::OK, &page)
}
