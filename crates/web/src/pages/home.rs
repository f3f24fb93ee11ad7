//! The front page. For a visitor: what Berth is, a search box, and the most popular and most
//! recently pushed repositories they may see (through the same search seam as `/search`, so
//! nothing private reaches an outsider). For someone signed in: their dashboard — their
//! repositories and organizations, and the activity of what they may see — and the form that
//! creates an empty repository before its first push (`/repositories/new`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::access::Role;
use berth_accounts::activity::{self, Entry};
use berth_accounts::repos::NewRepository;
use berth_accounts::users::User;
use berth_accounts::{orgs, Accounts};
use berth_hub::search::{self, Sort};
use berth_hub::Hub;
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::forms::PageNumber;
use super::search::Card;
use super::settings::login_first;
use super::{render, see_other, Chrome, PageError, Viewer};
use crate::Site;

/// How many repositories each list of the anonymous front page shows.
const SHOWN: i64 = 6;
/// Repositories a page of the dashboard lists.
const REPOS_PER_PAGE: i64 = 20;
/// Lines a page of the dashboard's activity shows.
const ACTIVITY_PER_PAGE: i64 = 20;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    chrome: Chrome,
    host: &'a str,
    popular: Vec<Card>,
    recent: Vec<Card>,
}

/// One organization the dashboard lists.
pub struct OrgLine {
    pub name: String,
    pub role: &'static str,
}

/// One line of an activity feed, as the pages show it.
pub struct ActivityLine {
    pub kind: String,
    pub actor: String,
    pub repository: String,
    pub url: String,
    pub tag: String,
    pub tag_url: String,
    pub detail: String,
    pub at: i64,
}

impl ActivityLine {
    pub fn of(e: &Entry) -> ActivityLine {
        let url = super::repository_url(&e.repository);
        ActivityLine {
            tag_url: format!("{url}/tags/{}", e.tag),
            url: if e.kind == activity::Kind::Comment.as_str() {
                format!("{url}#comment-{}", e.detail)
            } else {
                url
            },
            kind: e.kind.clone(),
            actor: if e.actor.is_empty() {
                "Someone".to_owned()
            } else {
                e.actor.clone()
            },
            repository: e.repository.clone(),
            tag: e.tag.clone(),
            detail: e.detail.clone(),
            at: e.created_at,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    chrome: Chrome,
    host: &'a str,
    me: String,
    repositories: Vec<Card>,
    repo_page: i64,
    prev_repos: Option<String>,
    next_repos: Option<String>,
    orgs: Vec<OrgLine>,
    activity: Vec<ActivityLine>,
    newer_activity: Option<String>,
    older_activity: Option<String>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    /// The page of the dashboard's repositories.
    page: Option<PageNumber>,
    /// The dashboard's activity older than this line.
    before: Option<i64>,
}

pub async fn page(
    viewer: Viewer,
    site: web::Data<Site>,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    query: web::Query<HomeQuery>,
) -> Result<HttpResponse, PageError> {
    if let Some(user) = &viewer.user {
        return dashboard(&viewer, user, &site, &accounts, &hub, &query).await;
    }
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
        host: site.registry_host(),
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

async fn dashboard(
    viewer: &Viewer,
    user: &User,
    site: &Site,
    accounts: &Accounts,
    hub: &Hub,
    query: &HomeQuery,
) -> Result<HttpResponse, PageError> {
    let visible = accounts.viewer(&viewer.identity()).await?;
    let memberships = orgs::of_user(&accounts.db, user.id).await?;
    let mut namespaces = vec![user.name.clone()];
    namespaces.extend(memberships.iter().map(|(o, _)| o.name.clone()));
    let repo_page = query.page.map_or(1, |p| p.0).clamp(1, 10_000);
    // One more than a page tells whether there is a next one.
    let mut repositories = search::in_namespaces(
        hub,
        &visible,
        &namespaces,
        (repo_page - 1) * REPOS_PER_PAGE,
        REPOS_PER_PAGE + 1,
    )
    .await?;
    let more_repos = repositories.len() as i64 > REPOS_PER_PAGE;
    repositories.truncate(REPOS_PER_PAGE as usize);
    let mut entries =
        activity::feed(&accounts.db, &visible, query.before, ACTIVITY_PER_PAGE + 1).await?;
    let more_activity = entries.len() as i64 > ACTIVITY_PER_PAGE;
    entries.truncate(ACTIVITY_PER_PAGE as usize);
    let repos_url = |p: i64| format!("/?page={p}#repositories");
    let page = Dashboard {
        chrome: viewer.chrome.clone(),
        host: site.registry_host(),
        me: user.name.clone(),
        repositories: repositories.iter().map(Card::of).collect(),
        prev_repos: (repo_page > 1).then(|| repos_url(repo_page - 1)),
        next_repos: more_repos.then(|| repos_url(repo_page + 1)),
        repo_page,
        orgs: memberships
            .iter()
            .map(|(o, role)| OrgLine {
                name: o.name.clone(),
                role: role.as_str(),
            })
            .collect(),
        newer_activity: query.before.map(|_| "/#activity".to_owned()),
        older_activity: more_activity
            .then(|| {
                entries
                    .last()
                    .map(|e| format!("/?before={}#activity", e.id))
            })
            .flatten(),
        activity: entries.iter().map(ActivityLine::of).collect(),
    };
    render(viewer, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "repo_new.html")]
struct NewRepoPage<'a> {
    chrome: Chrome,
    host: &'a str,
    /// The namespaces offered: the user's own, then the organizations they own.
    namespaces: Vec<String>,
    form: NewRepoForm,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewRepoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
}

impl NewRepoForm {
    pub fn private(&self) -> bool {
        self.visibility == "private"
    }
}

/// The user's namespace and those of the organizations they own: where they may create.
async fn namespaces(accounts: &Accounts, user: &User) -> Result<Vec<String>, PageError> {
    let mut names = vec![user.name.clone()];
    names.extend(
        orgs::of_user(&accounts.db, user.id)
            .await?
            .into_iter()
            .filter(|(_, role)| *role == Role::Owner)
            .map(|(o, _)| o.name),
    );
    Ok(names)
}

#[derive(Deserialize)]
pub struct NewRepoQuery {
    /// The namespace chosen at first (an organization's page links here with its name).
    namespace: Option<String>,
}

/// `GET /repositories/new`.
pub async fn new_repository_form(
    viewer: Viewer,
    site: web::Data<Site>,
    accounts: web::Data<Accounts>,
    query: web::Query<NewRepoQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &viewer.user else {
        return Ok(login_first("/repositories/new"));
    };
    let namespaces = namespaces(&accounts, user).await?;
    let chosen = query
        .namespace
        .clone()
        .filter(|n| namespaces.contains(n))
        .unwrap_or_else(|| user.name.clone());
    let private = accounts.config.default_private;
    let page = NewRepoPage {
        chrome: viewer.chrome.clone(),
        host: site.registry_host(),
        namespaces,
        form: NewRepoForm {
            namespace: chosen,
            visibility: if private { "private" } else { "public" }.to_owned(),
            ..NewRepoForm::default()
        },
        error: None,
    };
    render(&viewer, StatusCode::OK, &page)
}

/// `POST /repositories/new`: creates the repository through the same domain function as
/// `POST /api/v1/repositories`; a refusal shows the form again with what was typed.
pub async fn create_repository(
    viewer: Viewer,
    site: web::Data<Site>,
    accounts: web::Data<Accounts>,
    form: web::Form<NewRepoForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    let mut form = form.into_inner();
    form.namespace = form.namespace.trim().to_owned();
    form.name = form.name.trim().to_owned();
    let new = NewRepository {
        namespace: form.namespace.clone(),
        name: form.name.clone(),
        private: Some(form.private()),
        description: form.description.trim().to_owned(),
        full_description: None,
    };
    let error = match accounts.create_repository(&viewer.identity(), &new).await {
        Ok(created) => return Ok(see_other(&super::repository_url(&created.repository))),
        Err(berth_accounts::Error::Forbidden) => {
            format!("You cannot create repositories in {:?}.", form.namespace)
        }
        Err(e) => inline(e)?,
    };
    let page = NewRepoPage {
        chrome: viewer.chrome.clone(),
        host: site.registry_host(),
        namespaces: namespaces(&accounts, user).await?,
        form,
        error: Some(error),
    };
    render(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &page)
}
