//! Webhook pages, for a repository (`/r/{name}/settings/webhooks/…`) and an organization
//! (`/o/{org}/settings/webhooks/…`): the list in each settings page, a page per webhook with its
//! form, a "Send test" button and its delivery log (with a redeliver button), and the form to add
//! one. The caller checks who may manage the owner; the accounts crate validates and audits every
//! change.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::{orgs, Accounts, Error as AccountsError};
use berth_webhooks::{self as webhooks, deliveries, Kind, Owner, Webhook, Webhooks};
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::settings::login_first;
use super::{render, see_other, Chrome, PageError, Viewer};

/// Deliveries the log shows.
const LOG_ROWS: i64 = 50;

/// The fields of the webhook form (posted with the other forms of a settings page).
#[derive(Deserialize, Default, Clone)]
pub struct HookForm {
    #[serde(default)]
    pub hook_name: String,
    #[serde(default)]
    pub url: String,
    pub on_push: Option<String>,
    pub on_delete: Option<String>,
    pub on_pull: Option<String>,
    pub on_build: Option<String>,
    #[serde(default)]
    pub secret: String,
    pub remove_secret: Option<String>,
    pub active: Option<String>,
    #[serde(default)]
    pub delivery: String,
}

impl HookForm {
    fn events(&self) -> Vec<Kind> {
        [
            (Kind::Push, &self.on_push),
            (Kind::Delete, &self.on_delete),
            (Kind::Pull, &self.on_pull),
            (Kind::Build, &self.on_build),
        ]
        .into_iter()
        .filter(|(_, on)| on.is_some())
        .map(|(k, _)| k)
        .collect()
    }

    fn of(hook: &Webhook) -> HookForm {
        let on = |k| hook.events.contains(&k).then(|| "on".to_owned());
        HookForm {
            hook_name: hook.name.clone(),
            url: hook.url.clone(),
            on_push: on(Kind::Push),
            on_delete: on(Kind::Delete),
            on_pull: on(Kind::Pull),
            on_build: on(Kind::Build),
            active: hook.active.then(|| "on".to_owned()),
            ..HookForm::default()
        }
    }

    /// A new webhook's form: pushes, switched on.
    fn fresh() -> HookForm {
        HookForm {
            on_push: Some("on".into()),
            active: Some("on".into()),
            ..HookForm::default()
        }
    }
}

/// One line of the webhook list in a settings page.
pub struct HookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: String,
    pub active: bool,
    /// Status of the newest delivery, or empty.
    pub last: String,
}

/// The webhook list of a settings page, and where its links go.
pub struct HooksSection {
    pub rows: Vec<HookRow>,
    /// `…/settings/webhooks`.
    pub url: String,
}

fn event_names(events: &[Kind]) -> String {
    events
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The list shown in a settings page.
pub async fn section(
    hooks: &Webhooks,
    owner: &Owner,
    settings_url: &str,
) -> Result<HooksSection, PageError> {
    let mut rows = Vec::new();
    for hook in webhooks::list(hooks, owner).await? {
        let last = deliveries::list(hooks, hook.id, 1)
            .await?
            .first()
            .map(|d| d.status.as_str().to_owned())
            .unwrap_or_default();
        rows.push(HookRow {
            id: hook.id,
            name: hook.name.clone(),
            url: hook.url.clone(),
            events: event_names(&hook.events),
            active: hook.active,
            last,
        });
    }
    Ok(HooksSection {
        rows,
        url: format!("{settings_url}/webhooks"),
    })
}

pub struct DeliveryRow {
    pub id: String,
    /// As the body names it (`build_failure` rather than `build`).
    pub event: String,
    pub status: &'static str,
    pub attempts: i64,
    pub when: i64,
    pub next: Option<i64>,
    pub response: String,
    pub duration: String,
    pub error: String,
    /// What went wrong, in a few words for the status column (`DNS failure`, `HTTP 500`).
    pub reason: String,
    pub excerpt: String,
    pub callback: String,
    pub payload: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct HookPage {
    chrome: Chrome,
    /// What the webhook belongs to, as shown (`acme/app` or `acme`).
    owner: String,
    settings_url: String,
    /// Where the form posts: `…/webhooks` for a new one, `…/webhooks/{id}` for this one.
    action: String,
    hook: Option<Webhook>,
    form: HookForm,
    deliveries: Vec<DeliveryRow>,
    error: Option<String>,
    notice: Option<&'static str>,
    /// How the "Send test" ping just went.
    ping: Option<PingView>,
}

/// The outcome of a ping, as the webhook page shows it.
pub struct PingView {
    pub ok: bool,
    /// `HTTP 200 in 12 ms`, or why it failed.
    pub summary: String,
    pub excerpt: String,
}

impl PingView {
    fn of(a: &deliveries::Attempt) -> PingView {
        let summary = match a.response_status {
            Some(status) => format!("HTTP {status} in {} ms", a.duration_ms),
            None => a.error.clone(),
        };
        let ok = a.response_status.is_some_and(|s| (200..300).contains(&s));
        PingView {
            ok,
            summary: if ok || a.error.is_empty() || a.response_status.is_none() {
                summary
            } else {
                format!("{summary}: {}", a.error)
            },
            excerpt: a.response_excerpt.clone(),
        }
    }
}

/// The first words of a delivery's error, for the status column: the guard's `refused`, `DNS
/// failure`, `connection refused`, `timeout`, or the receiver's HTTP status.
fn reason(d: &deliveries::Delivery) -> String {
    if d.error.is_empty() {
        return String::new();
    }
    if let Some(status) = d.response_status {
        return format!("HTTP {status}");
    }
    match d.error.split_once(':') {
        Some((head, _)) if head.len() <= 24 => head.to_owned(),
        _ => d.error.clone(),
    }
}

fn delivery_row(d: &deliveries::Delivery) -> DeliveryRow {
    DeliveryRow {
        id: d.id.clone(),
        event: d.event_name().to_owned(),
        status: d.status.as_str(),
        attempts: d.attempts,
        when: d.last_attempt_at.unwrap_or(d.created_at),
        next: d.next_attempt_at,
        response: d.response_status.map(|s| s.to_string()).unwrap_or_default(),
        // A time only for an answer: a DNS failure's few milliseconds are no response time.
        duration: d
            .duration_ms
            .filter(|_| d.response_status.is_some())
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
        error: d.error.clone(),
        reason: reason(d),
        excerpt: d.response_excerpt.clone(),
        callback: d.callback.as_ref().map_or_else(String::new, |c| {
            if c.description.is_empty() {
                c.state.clone()
            } else {
                format!("{}: {}", c.state, c.description)
            }
        }),
        payload: serde_json::to_string_pretty(&d.payload).unwrap_or_default(),
    }
}

fn owner_label(owner: &Owner) -> String {
    match owner {
        Owner::Repository(r) => r.clone(),
        Owner::Org(o) => o.clone(),
    }
}

/// The page of one webhook (`id`), or the form for a new one (`None`).
#[allow(clippy::too_many_arguments)]
async fn page(
    viewer: &Viewer,
    hooks: &Webhooks,
    owner: &Owner,
    settings_url: &str,
    id: Option<i64>,
    form: Option<HookForm>,
    error: Option<String>,
    notice: Option<&'static str>,
    ping: Option<PingView>,
) -> Result<HttpResponse, PageError> {
    let hooks_url = format!("{settings_url}/webhooks");
    let (hook, action, rows) = match id {
        Some(id) => {
            let hook = webhooks::get(hooks, owner, id).await?;
            let rows = deliveries::list(hooks, id, LOG_ROWS)
                .await?
                .iter()
                .map(delivery_row)
                .collect();
            (Some(hook), format!("{hooks_url}/{id}"), rows)
        }
        None => (None, hooks_url, Vec::new()),
    };
    let form = form.unwrap_or_else(|| hook.as_ref().map_or_else(HookForm::fresh, HookForm::of));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = HookPage {
        chrome: viewer.chrome.clone(),
        owner: owner_label(owner),
        settings_url: settings_url.to_owned(),
        action,
        hook,
        form,
        deliveries: rows,
        error,
        notice,
        ping,
    };
    render(viewer, status, &view)
}

/// `GET …/settings/webhooks/{new|id}`; `saved` after a change.
pub async fn show(
    viewer: &Viewer,
    hooks: &Webhooks,
    owner: &Owner,
    settings_url: &str,
    which: &str,
    saved: bool,
) -> Result<HttpResponse, PageError> {
    let id = match which {
        "new" => None,
        id => Some(id.parse().map_err(|_| PageError::not_found())?),
    };
    let notice = saved.then_some("Webhook saved.");
    page(
        viewer,
        hooks,
        owner,
        settings_url,
        id,
        None,
        None,
        notice,
        None,
    )
    .await
}

/// `POST …/settings/webhooks[/{id}[/delete|/redeliver]]`, by `actor`, already allowed to manage
/// `owner` and past the CSRF check.
pub async fn post(
    viewer: &Viewer,
    hooks: &Webhooks,
    owner: &Owner,
    actor: &str,
    settings_url: &str,
    action: &[&str],
    form: &HookForm,
) -> Result<HttpResponse, PageError> {
    let hooks_url = format!("{settings_url}/webhooks");
    let again = |id: Option<i64>, e: AccountsError| async move {
        let message = inline(e)?;
        page(
            viewer,
            hooks,
            owner,
            settings_url,
            id,
            Some(form.clone()),
            Some(message),
            None,
            None,
        )
        .await
    };
    let parse_id = |id: &str| id.parse::<i64>().map_err(|_| PageError::not_found());
    match action {
        [] => {
            let input = webhooks::Input {
                name: form.hook_name.clone(),
                url: form.url.clone(),
                events: form.events(),
                secret: Some(form.secret.clone()).filter(|s| !s.is_empty()),
                active: form.active.is_some(),
            };
            match webhooks::create(hooks, &hooks.config, actor, owner, input).await {
                Ok(hook) => {
                    if hook.events.contains(&Kind::Pull) {
                        hooks.pulls_watched();
                    }
                    Ok(see_other(&format!("{hooks_url}/{}?saved=1", hook.id)))
                }
                Err(e) => again(None, e).await,
            }
        }
        [id] => {
            let id = parse_id(id)?;
            let secret = if form.remove_secret.is_some() {
                Some(String::new())
            } else {
                Some(form.secret.clone()).filter(|s| !s.is_empty())
            };
            let patch = webhooks::Patch {
                name: Some(form.hook_name.clone()),
                url: Some(form.url.clone()),
                events: Some(form.events()),
                secret,
                active: Some(form.active.is_some()),
            };
            let result = webhooks::update(hooks, &hooks.config, actor, owner, id, patch).await;
            match result {
                Ok(hook) => {
                    if hook.events.contains(&Kind::Pull) {
                        hooks.pulls_watched();
                    }
                    Ok(see_other(&format!("{hooks_url}/{id}?saved=1")))
                }
                Err(e @ AccountsError::NotFound(_)) => Err(e.into()),
                Err(e) => again(Some(id), e).await,
            }
        }
        [id, "delete"] => {
            webhooks::delete(hooks, actor, owner, parse_id(id)?).await?;
            Ok(see_other(&format!("{settings_url}#webhooks")))
        }
        [id, "ping"] => {
            let id = parse_id(id)?;
            let attempt = webhooks::ping::ping(hooks, actor, owner, id).await?;
            let view = PingView::of(&attempt);
            page(
                viewer,
                hooks,
                owner,
                settings_url,
                Some(id),
                None,
                None,
                None,
                Some(view),
            )
            .await
        }
        [id, "redeliver"] => {
            let id = parse_id(id)?;
            webhooks::get(hooks, owner, id).await?;
            deliveries::redeliver(hooks, &hooks.config, id, &form.delivery).await?;
            hooks.wake();
            Ok(see_other(&format!("{hooks_url}/{id}#deliveries")))
        }
        _ => Err(PageError::not_found()),
    }
}

// An organization's webhooks, under `/o/{org}/settings/webhooks`.

/// The organization, its settings address, and the signed-in owner managing it.
async fn org_owner(
    viewer: &Viewer,
    accounts: &Accounts,
    org: &str,
) -> Result<Result<(Owner, String, String), HttpResponse>, PageError> {
    let org = orgs::by_name(&accounts.db, org)
        .await?
        .ok_or_else(PageError::not_found)?;
    let settings_url = format!("/o/{}/settings", org.name);
    let Some(user) = viewer.user.as_ref() else {
        return Ok(Err(login_first(&settings_url)));
    };
    if !orgs::can_manage(&accounts.db, &org, user).await? {
        return Err(PageError::forbidden(
            "Only the organization's owners can manage it.",
        ));
    }
    Ok(Ok((Owner::Org(org.name), settings_url, user.name.clone())))
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /o/{org}/settings/webhooks/{new|id}`.
pub async fn org_page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
    path: web::Path<(String, String)>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let (org, which) = path.into_inner();
    let (owner, settings_url, _) = match org_owner(&viewer, &accounts, &org).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let saved = query.saved.is_some();
    show(&viewer, &hooks, &owner, &settings_url, &which, saved).await
}

/// `POST /o/{org}/settings/webhooks[/{id}[/{action}]]`.
pub async fn org_post(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
    form: web::Form<HookFormWithCsrf>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let org = req.match_info().get("org").unwrap_or_default();
    let (owner, settings_url, actor) = match org_owner(&viewer, &accounts, org).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let rest: Vec<&str> = ["id", "action"]
        .iter()
        .filter_map(|k| req.match_info().get(k))
        .collect();
    post(
        &viewer,
        &hooks,
        &owner,
        &actor,
        &settings_url,
        &rest,
        &form.hook,
    )
    .await
}

/// The webhook form with the CSRF token every form carries.
#[derive(Deserialize)]
pub struct HookFormWithCsrf {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    hook: HookForm,
}
