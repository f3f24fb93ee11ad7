//! Site administration at `/admin`, for site administrators only (everyone else gets the
//! site's 404 page, as for a page that is not there): system status, users (search,
//! deactivate, administrator role, forced password reset), organizations, storage per
//! namespace and the audit log. Every change is made, checked and audited by the accounts
//! crate; destructive ones are confirmed with a ticked box.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::orgs::{self, OrgSummary};
use berth_accounts::users::{self, User};
use berth_accounts::{audit, credentials, Accounts, Error as AccountsError};
use berth_hub::Hub;
use berth_registry::lifecycle::gc;
use berth_registry::lifecycle::quota::human_size;
use berth_registry::Registry;
use serde::Deserialize;

use super::error::inline;
use super::forms::PageNumber;
use super::storage::Storage;
use super::{render, see_other, time, Chrome, PageError, Viewer};
use crate::api::{AuditQuery, AUDIT_PAGE_SIZE};

/// Rows on one page of users, organizations or namespaces.
const PAGE_SIZE: i64 = 50;

/// When this process started serving, for its uptime.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Notes the start time; called when the routes are mounted.
pub fn mark_started() {
    STARTED.get_or_init(Instant::now);
}

/// The signed-in site administrator, or the site's 404 page for anyone else.
fn admin(viewer: &Viewer) -> Result<&User, PageError> {
    match viewer.user.as_ref() {
        Some(u) if u.is_admin && u.active => Ok(u),
        _ => Err(PageError::not_found()),
    }
}

/// Previous and next links of a paged list, keeping its other query parameters.
pub struct Pager {
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `params`: the query's other parameters (empty ones are left out).
    pub fn new(path: &str, params: &[(&str, &str)], page: i64, has_next: bool) -> Pager {
        let url = |p: i64| {
            let mut pairs: Vec<(&str, String)> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect();
            if p > 1 {
                pairs.push(("page", p.to_string()));
            }
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{query}")
            }
        };
        Pager {
            page,
            prev: (page > 1).then(|| url(page - 1)),
            next: has_next.then(|| url(page + 1)),
        }
    }
}

fn page_of(p: Option<PageNumber>) -> i64 {
    p.map_or(1, |p| p.0).clamp(1, 1_000_000)
}

/// Keeps one more row than a page holds: whether there is a next page.
fn split_page<T>(mut rows: Vec<T>, size: i64) -> (Vec<T>, bool) {
    let more = rows.len() as i64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(0));
    (rows, more)
}

// ---- Status -------------------------------------------------------------------------------

pub struct GcLine {
    pub when: String,
    pub status: String,
    pub freed: String,
    pub trigger: String,
}

#[derive(Template)]
#[template(path = "admin_status.html")]
struct StatusPage {
    chrome: Chrome,
    tab: &'static str,
    version: &'static str,
    backend: &'static str,
    uptime: String,
    gc: Option<GcLine>,
}

/// `3 d 4 h`, `2 h 5 min`, `42 s`.
fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

pub async fn status(
    viewer: Viewer,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let last = gc::recent_runs(&registry, 1).await?.into_iter().next();
    let gc = last.map(|run| GcLine {
        when: time::date_time(run.finished_at.unwrap_or(run.started_at)),
        status: if run.dry_run != 0 {
            format!("{} (dry run)", run.status)
        } else {
            run.status.clone()
        },
        freed: format!(
            "{} in {} blobs, {} manifests",
            human_size(run.bytes_freed),
            run.blobs_deleted,
            run.manifests_deleted
        ),
        trigger: if run.actor.is_empty() {
            run.trigger.clone()
        } else {
            format!("{} by {}", run.trigger, run.actor)
        },
    });
    let page = StatusPage {
        chrome: viewer.chrome.clone(),
        tab: "status",
        version: env!("CARGO_PKG_VERSION"),
        backend: match registry.meta().backend() {
            berth_registry::backend::Backend::Sqlite => "SQLite",
            berth_registry::backend::Backend::Postgres => "PostgreSQL",
        },
        uptime: duration(STARTED.get().map_or(0, |s| s.elapsed().as_secs())),
        gc,
    };
    render(&viewer, StatusCode::OK, &page)
}

// ---- Users --------------------------------------------------------------------------------

pub struct UserRow {
    pub name: String,
    pub email: String,
    pub admin: bool,
    pub active: bool,
    pub joined: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    tab: &'static str,
    q: String,
    users: Vec<UserRow>,
    pager: Pager,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    page: Option<PageNumber>,
}

pub async fn users(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let page = page_of(query.page);
    let q = query.q.trim();
    let rows = users::search(&accounts.db, q, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1).await?;
    let (rows, more) = split_page(rows, PAGE_SIZE);
    let page = UsersPage {
        chrome: viewer.chrome.clone(),
        tab: "users",
        q: q.to_owned(),
        users: rows
            .into_iter()
            .map(|u| UserRow {
                joined: time::date(u.created_at),
                name: u.name,
                email: u.email,
                admin: u.is_admin,
                active: u.active,
            })
            .collect(),
        pager: Pager::new("/admin/users", &[("q", q)], page, more),
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    chrome: Chrome,
    tab: &'static str,
    user: UserRow,
    me: bool,
    must_change_password: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn user_page(
    viewer: &Viewer,
    accounts: &Accounts,
    name: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let me = admin(viewer)?;
    let user = users::by_name(&accounts.db, name)
        .await?
        .ok_or_else(PageError::not_found)?;
    let page = UserPage {
        chrome: viewer.chrome.clone(),
        tab: "users",
        me: user.id == me.id,
        must_change_password: users::must_change_password(&accounts.db, user.id).await?,
        user: UserRow {
            joined: time::date(user.created_at),
            name: user.name,
            email: user.email,
            admin: user.is_admin,
            active: user.active,
        },
        notice,
        error,
    };
    render(viewer, status, &page)
}

pub async fn user(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    // Fixed messages only: nothing from the address is echoed.
    let notice = match query.done.as_deref() {
        Some("deactivated") => Some("Deactivated: they cannot log in, and their sessions ended."),
        Some("activated") => Some("Reactivated: they can log in again."),
        Some("admin") => Some("They are now a site administrator."),
        Some("not-admin") => Some("They are no longer a site administrator."),
        Some("reset") => Some(
            "Reset forced: their sessions and docker logins ended, and they choose a new password at their next log-in.",
        ),
        _ => None,
    };
    user_page(&viewer, &accounts, &path, StatusCode::OK, notice, None).await
}

/// An administrator's change to a user, as every form on the user's page posts it.
#[derive(Deserialize)]
pub struct UserAction {
    #[serde(default)]
    csrf: String,
    /// `activate`, `deactivate`, `grant-admin`, `revoke-admin` or `force-reset`.
    action: String,
    /// The ticked confirmation of a destructive change.
    #[serde(default)]
    confirm: String,
}

pub async fn user_action(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
    form: web::Form<UserAction>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&viewer)?.clone();
    viewer.check_csrf(&form.csrf)?;
    let name = path.into_inner();
    let destructive = matches!(
        form.action.as_str(),
        "deactivate" | "revoke-admin" | "force-reset"
    );
    let result = if destructive && form.confirm != "yes" {
        Err("Tick the box to confirm.".to_owned())
    } else {
        let done = match form.action.as_str() {
            "activate" | "deactivate" => {
                let active = form.action == "activate";
                if !active && name == me.name {
                    Err(AccountsError::Invalid(
                        "you cannot deactivate yourself".into(),
                    ))
                } else {
                    credentials::set_active(&accounts.db, &me.name, &name, active)
                        .await
                        .map(|()| if active { "activated" } else { "deactivated" })
                }
            }
            "grant-admin" => credentials::set_admin(&accounts.db, &me, &name, true)
                .await
                .map(|()| "admin"),
            "revoke-admin" => credentials::set_admin(&accounts.db, &me, &name, false)
                .await
                .map(|()| "not-admin"),
            "force-reset" => credentials::force_reset(&accounts.db, &me, &name)
                .await
                .map(|()| "reset"),
            _ => {
                return Err(PageError::bad_request(
                    "The form asked for no known change.",
                ))
            }
        };
        match done {
            Ok(done) => Ok(done),
            Err(AccountsError::NotFound(_)) => return Err(PageError::not_found()),
            Err(e) => Err(inline(e)?),
        }
    };
    match result {
        Ok(done) => Ok(see_other(&format!("/admin/users/{name}?done={done}"))),
        Err(message) => {
            user_page(
                &viewer,
                &accounts,
                &name,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
            )
            .await
        }
    }
}

// ---- Organizations ------------------------------------------------------------------------

pub struct OrgRow {
    pub name: String,
    pub members: i64,
    pub repositories: i64,
    pub created: String,
}

impl From<OrgSummary> for OrgRow {
    fn from(o: OrgSummary) -> Self {
        OrgRow {
            created: time::date(o.created_at),
            name: o.name,
            members: o.members,
            repositories: o.repositories,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_orgs.html")]
struct OrgsPage {
    chrome: Chrome,
    tab: &'static str,
    orgs: Vec<OrgRow>,
    pager: Pager,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    page: Option<PageNumber>,
}

pub async fn orgs(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let page = page_of(query.page);
    let rows = orgs::list_with_counts(&accounts.db, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1).await?;
    let (rows, more) = split_page(rows, PAGE_SIZE);
    let page = OrgsPage {
        chrome: viewer.chrome.clone(),
        tab: "orgs",
        orgs: rows.into_iter().map(OrgRow::from).collect(),
        pager: Pager::new("/admin/orgs", &[], page, more),
    };
    render(&viewer, StatusCode::OK, &page)
}

// ---- Storage ------------------------------------------------------------------------------

pub struct UsageRow {
    pub namespace: String,
    pub url: String,
    pub kind: &'static str,
    pub storage: Storage,
}

#[derive(Template)]
#[template(path = "admin_storage.html")]
struct StoragePage {
    chrome: Chrome,
    tab: &'static str,
    rows: Vec<UsageRow>,
    pager: Pager,
}

pub async fn storage(
    viewer: Viewer,
    hub: web::Data<Hub>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let me = admin(&viewer)?;
    let page = page_of(query.page);
    let rows = hub
        .namespace_usage(me, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        .await?;
    let (rows, more) = split_page(rows, PAGE_SIZE);
    let page = StoragePage {
        chrome: viewer.chrome.clone(),
        tab: "storage",
        rows: rows
            .into_iter()
            .map(|(kind, quota)| {
                let org = kind == "org";
                UsageRow {
                    url: if org {
                        format!("/o/{}", quota.namespace)
                    } else {
                        format!("/u/{}", quota.namespace)
                    },
                    kind: if org { "Organization" } else { "User" },
                    storage: Storage::of(&quota),
                    namespace: quota.namespace,
                }
            })
            .collect(),
        pager: Pager::new("/admin/storage", &[], page, more),
    };
    render(&viewer, StatusCode::OK, &page)
}

// ---- The audit log ------------------------------------------------------------------------

pub struct EntryRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The filter form and one page of entries, as the site's log and an organization's show them.
pub struct AuditView {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub since: String,
    pub until: String,
    pub entries: Vec<EntryRow>,
    pub pager: Pager,
    /// Whether any filter is set (an empty result then says so).
    pub filtered: bool,
}

/// Reads the filters and loads one page, within `namespace` when given.
pub async fn audit_view(
    accounts: &Accounts,
    query: &AuditQuery,
    path: &str,
    namespace: Option<&str>,
) -> Result<AuditView, PageError> {
    let mut filter = query
        .filter()
        .map_err(|why| PageError::bad_request(format!("The address has a bad query: {why}.")))?;
    filter.namespace = namespace.map(str::to_owned);
    let page = query.page();
    let rows = audit::search(
        &accounts.db,
        &filter,
        (page - 1) * AUDIT_PAGE_SIZE,
        AUDIT_PAGE_SIZE + 1,
    )
    .await?;
    let (rows, more) = split_page(rows, AUDIT_PAGE_SIZE);
    let params = [
        ("actor", query.actor.trim()),
        ("action", query.action.trim()),
        ("target", query.target.trim()),
        ("since", query.since.trim()),
        ("until", query.until.trim()),
    ];
    Ok(AuditView {
        filtered: params.iter().any(|(_, v)| !v.is_empty()),
        pager: Pager::new(path, &params, page, more),
        actor: query.actor.trim().to_owned(),
        action: query.action.trim().to_owned(),
        target: query.target.trim().to_owned(),
        since: query.since.trim().to_owned(),
        until: query.until.trim().to_owned(),
        entries: rows
            .into_iter()
            .map(|e| EntryRow {
                when: time::date_time(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    tab: &'static str,
    action_url: String,
    log: AuditView,
}

pub async fn audit_log(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let log = audit_view(&accounts, &query, "/admin/audit", None).await?;
    let page = AuditPage {
        chrome: viewer.chrome.clone(),
        tab: "audit",
        action_url: "/admin/audit".into(),
        log,
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "org_audit.html")]
struct OrgAuditPage {
    chrome: Chrome,
    name: String,
    action_url: String,
    log: AuditView,
}

/// `/o/{org}/settings/audit`: the organization's own entries, for its owners (and site
/// administrators); a 404 page for anyone else, members included.
pub async fn org_audit_log(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let org = orgs::by_name(&accounts.db, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let Some(user) = viewer.user.as_ref() else {
        return Err(PageError::not_found());
    };
    if !orgs::can_manage(&accounts.db, &org, user).await? {
        return Err(PageError::not_found());
    }
    let action_url = format!("/o/{}/settings/audit", org.name);
    let log = audit_view(&accounts, &query, &action_url, Some(&org.name)).await?;
    let page = OrgAuditPage {
        chrome: viewer.chrome.clone(),
        name: org.name,
        action_url,
        log,
    };
    render(&viewer, StatusCode::OK, &page)
}
