//! Creating an organization, and an organization's page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::orgs::{self, Member, Team};
use berth_accounts::Accounts;
use serde::Deserialize;

use super::chrome::initial;
use super::error::inline;
use super::settings::login_first;
use super::users::{repositories, PageQuery, Paging, RepoRow};
use super::{render, see_other, time, Chrome, PageError, Viewer};

#[derive(Template)]
#[template(path = "org_new.html")]
struct NewOrgPage {
    chrome: Chrome,
    name: String,
    error: Option<String>,
}

pub async fn new_form(viewer: Viewer) -> Result<HttpResponse, PageError> {
    if viewer.user.is_none() {
        return Ok(login_first("/orgs/new"));
    }
    let page = NewOrgPage {
        chrome: viewer.chrome.clone(),
        name: String::new(),
        error: None,
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct NewOrgForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

pub async fn create(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<NewOrgForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    let name = form.name.trim();
    match orgs::create(&accounts.pool, user, name).await {
        Ok(org) => Ok(see_other(&format!("/o/{}", org.name))),
        Err(e) => {
            let page = NewOrgPage {
                chrome: viewer.chrome.clone(),
                name: name.to_owned(),
                error: Some(inline(e)?),
            };
            render(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    chrome: Chrome,
    name: String,
    initial: String,
    created: String,
    repositories: Vec<RepoRow>,
    paging: Paging,
    /// Shown to its members only.
    insider: bool,
    /// Whether the viewer belongs to it (and so may leave).
    member: bool,
    manager: bool,
    members: Vec<Member>,
    teams: Vec<Team>,
}

#[derive(Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    csrf: String,
}

/// A member leaves the organization (the last owner cannot).
pub async fn leave(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
    form: web::Form<LeaveForm>,
) -> Result<HttpResponse, PageError> {
    let org = orgs::by_name(&accounts.pool, &name)
        .await?
        .ok_or_else(PageError::not_found)?;
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    match orgs::remove_member(&accounts.pool, &org, user, &user.name).await {
        Ok(()) => {}
        Err(berth_accounts::Error::Conflict(_)) => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                format!(
                    "You are the last owner of {}. Make someone else an owner before you leave.",
                    org.name
                ),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/u/{}", user.name)))
}

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let org = orgs::by_name(&accounts.pool, &name)
        .await?
        .ok_or_else(PageError::not_found)?;
    let (insider, member, manager) = match &viewer.user {
        Some(u) => (
            orgs::can_see_members(&accounts.pool, &org, u).await?,
            orgs::role(&accounts.pool, &org, u.id).await?.is_some(),
            orgs::can_manage(&accounts.pool, &org, u).await?,
        ),
        None => (false, false, false),
    };
    let (members, teams) = if insider {
        (
            orgs::members(&accounts.pool, &org).await?,
            orgs::teams(&accounts.pool, &org).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let path = format!("/o/{}", org.name);
    let (repositories, paging) = repositories(&accounts, &viewer, &org.name, path, &query).await?;
    let page = OrgPage {
        chrome: viewer.chrome.clone(),
        initial: initial(&org.name),
        created: time::month_year(org.created_at),
        repositories,
        paging,
        insider,
        member,
        manager,
        members,
        teams,
        name: org.name,
    };
    render(&viewer, StatusCode::OK, &page)
}
