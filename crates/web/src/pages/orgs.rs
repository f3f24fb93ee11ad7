//! Creating an organization, and an organization's page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::access::Role;
use berth_accounts::orgs::profile::Profile;
use berth_accounts::orgs::{self, Member, Org, Team};
use berth_accounts::Accounts;
use berth_hub::Hub;
use berth_registry::meta::Meta;
use berth_registry::Registry;
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::settings::login_first;
use super::storage::{self, Storage};
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
    match orgs::create(&accounts.db, user, name).await {
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
    created: String,
    /// Its description and web address (`http(s)` only, checked when saved).
    profile: Profile,
    repositories: Vec<RepoRow>,
    paging: Paging,
    /// Shown to its members only.
    insider: bool,
    /// Whether the viewer belongs to it (and so may leave).
    member: bool,
    manager: bool,
    /// Whether the viewer is its only owner: they cannot leave until someone else is one.
    sole_owner: bool,
    /// Whether anyone else belongs to it (who could be made an owner).
    others: bool,
    /// Why leaving was refused, shown where the button would be.
    refusal: Option<String>,
    members: Vec<Member>,
    teams: Vec<Team>,
    /// What the organization stores, and its quota (for insiders).
    storage: Option<Storage>,
}

#[derive(Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    csrf: String,
}

/// A member leaves the organization. Its only owner cannot: they get its page again, saying
/// why and how to make someone else an owner first.
pub async fn leave(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    form: web::Form<LeaveForm>,
) -> Result<HttpResponse, PageError> {
    let org = orgs::by_name(&accounts.db, &name)
        .await?
        .ok_or_else(PageError::not_found)?;
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    match orgs::remove_member(&accounts.db, &org, user, &user.name).await {
        Ok(()) => Ok(see_other(&format!("/u/{}", user.name))),
        Err(berth_accounts::Error::Conflict(_)) => {
            let meta = registry.meta();
            org_page(
                &viewer,
                &accounts,
                &hub,
                meta,
                org,
                &PageQuery::default(),
                true,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let org = orgs::by_name(&accounts.db, &name)
        .await?
        .ok_or_else(PageError::not_found)?;
    org_page(
        &viewer,
        &accounts,
        &hub,
        registry.meta(),
        org,
        &query,
        false,
    )
    .await
}

/// The organization's page; `refused` after its only owner tried to leave.
async fn org_page(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    meta: &Meta,
    org: Org,
    query: &PageQuery,
    refused: bool,
) -> Result<HttpResponse, PageError> {
    let (insider, member, manager) = match &viewer.user {
        Some(u) => (
            orgs::can_see_members(&accounts.db, &org, u).await?,
            orgs::role(&accounts.db, &org, u.id).await?.is_some(),
            orgs::can_manage(&accounts.db, &org, u).await?,
        ),
        None => (false, false, false),
    };
    let (members, teams, storage) = if insider {
        (
            orgs::members(&accounts.db, &org).await?,
            orgs::teams(&accounts.db, &org).await?,
            Some(storage::of_namespace(meta, &org.name).await?),
        )
    } else {
        (Vec::new(), Vec::new(), None)
    };
    let me = viewer.user.as_ref().map(|u| u.name.as_str());
    let owners: Vec<&str> = members
        .iter()
        .filter(|m| m.role == Role::Owner)
        .map(|m| m.name.as_str())
        .collect();
    let sole_owner = me.is_some_and(|me| owners == [me]);
    let others = members.iter().any(|m| Some(m.name.as_str()) != me);
    let refusal = refused.then(|| {
        if others {
            format!(
                "You are the only owner of {}: make another member an owner first.",
                org.name
            )
        } else {
            format!(
                "You are the only owner of {}: add another member as an owner first, or \
                 delete the organization.",
                org.name
            )
        }
    });
    let status = if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let path = format!("/o/{}", org.name);
    let (repositories, paging) = repositories(hub, viewer, &org.name, path, query).await?;
    let page = OrgPage {
        chrome: viewer.chrome.clone(),
        created: time::month_year(org.created_at),
        profile: orgs::profile::get(&accounts.db, &org).await?,
        repositories,
        paging,
        insider,
        member,
        manager,
        sole_owner,
        others,
        refusal,
        members,
        teams,
        storage,
        name: org.name,
    };
    render(viewer, status, &page)
}
