//! A repository's settings, for its administrators: descriptions and visibility, which teams
//! of its organization may do what, its immutable tags, its retention rules, and deleting it (its name typed to
//! confirm).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use berth_accounts::access::Permission;
use berth_accounts::orgs::{self, Org};
use berth_accounts::repos::{self, Changes};
use berth_accounts::users::User;
use berth_accounts::{audit, Accounts};
use berth_hub::Hub;
use berth_registry::lifecycle::immutable::{self, Patterns, Scope, ScopeKind};
use berth_registry::lifecycle::retention as rules;
use berth_registry::Registry;
use berth_trust::{signing, Trust};
use berth_webhooks::Webhooks;
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::repo_head::{head, Head, Repo};
use super::retention::{self, Card, Preview, RetentionForm};
use super::storage::{self, Storage};
use super::webhooks::{self, HooksSection};
use super::{render, see_other, Chrome, PageError, Viewer};
use crate::Site;

pub struct TeamRow {
    pub name: String,
    /// `read`, `write`, `admin`, or empty for none.
    pub permission: &'static str,
}

#[derive(Template)]
#[template(path = "repo_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    head: Head,
    description: String,
    full_description: String,
    /// Teams of the organization the repository belongs to (none for a user's repository).
    org: Option<String>,
    teams: Vec<TeamRow>,
    hooks: HooksSection,
    /// The repository's own signed-only policy, and whether its namespace's covers it anyway.
    signed_only: bool,
    namespace_signed_only: bool,
    /// The repository's immutable tag patterns, one a line, and those its namespace adds.
    immutable: String,
    inherited_immutable: Vec<String>,
    retention: Card,
    error: Option<(&'static str, String)>,
    /// The section the notice belongs to, and the notice.
    notice: Option<(&'static str, &'static str)>,
    /// What the repository stores, and its namespace's usage and quota.
    storage: String,
    namespace_storage: Storage,
    /// The overview as the unsaved form would show it (the Preview button), sanitized HTML.
    preview: Option<String>,
}

/// The general form as typed but not saved, shown with its rendered overview.
pub struct Draft {
    pub description: String,
    pub full_description: String,
    pub private: Option<bool>,
}

impl SettingsPage {
    fn error_for(&self, section: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(s, _)| *s == section)
            .map(|(_, m)| m.as_str())
    }

    fn notice_for(&self, section: &str) -> Option<&str> {
        self.notice.filter(|(s, _)| *s == section).map(|(_, m)| m)
    }
}

/// The notice after the immutable tags form was saved (`?saved=immutable`).
pub const IMMUTABLE_SAVED: (&str, &str) = ("immutable", "Immutable tag rules saved.");

pub fn require_admin(repo: &Repo) -> Result<(), PageError> {
    if repo.permission < Permission::Admin {
        return Err(PageError::forbidden(
            "Only the repository's administrators can change its settings.",
        ));
    }
    Ok(())
}

async fn org_of(accounts: &Accounts, repo: &Repo) -> Result<Option<Org>, PageError> {
    Ok(orgs::by_name(&accounts.db, &repo.settings.namespace).await?)
}

/// The retention card of a repository as saved, with `notice` in it.
pub async fn retention_card(
    registry: &Registry,
    repository: &str,
    notice: Option<&'static str>,
) -> Result<Card, PageError> {
    let action = format!("{}/settings/retention", super::repository_url(repository));
    let mut card = Card::of_repository(registry.meta(), action, repository).await?;
    card.notice = notice;
    Ok(card)
}

/// The settings page; `retention` is the retention card as a preview or a refused save left
/// it (`None`: as saved).
#[allow(clippy::too_many_arguments)]
pub async fn page(
    viewer: &Viewer,
    accounts: &Accounts,
    hooks: &Webhooks,
    hub: &Hub,
    trust: &Trust,
    registry: &Registry,
    site: &Site,
    repo: &Repo,
    retention: Option<Card>,
    error: Option<(&'static str, String)>,
    notice: Option<(&'static str, &'static str)>,
) -> Result<HttpResponse, PageError> {
    page_with(
        viewer, accounts, hooks, hub, trust, registry, site, repo, retention, error, notice, None,
    )
    .await
}

/// [`page`], with the general form showing `draft` and its preview.
#[allow(clippy::too_many_arguments)]
async fn page_with(
    viewer: &Viewer,
    accounts: &Accounts,
    hooks: &Webhooks,
    hub: &Hub,
    trust: &Trust,
    registry: &Registry,
    site: &Site,
    repo: &Repo,
    retention: Option<Card>,
    error: Option<(&'static str, String)>,
    notice: Option<(&'static str, &'static str)>,
    draft: Option<Draft>,
) -> Result<HttpResponse, PageError> {
    require_admin(repo)?;
    let org = org_of(accounts, repo).await?;
    let teams = match &org {
        Some(org) => orgs::teams(&accounts.db, org)
            .await?
            .into_iter()
            .map(|t| TeamRow {
                permission: t
                    .repositories
                    .iter()
                    .find(|g| g.repository == repo.settings.repository)
                    .map_or("", |g| g.permission),
                name: t.name,
            })
            .collect(),
        None => Vec::new(),
    };
    let name = &repo.settings.repository;
    let retention = match retention {
        Some(card) => card,
        None => retention_card(registry, name, None).await?,
    };
    let status = if error.is_some() || retention.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let settings_url = format!("{}/settings", super::repository_url(name));
    let owner = berth_webhooks::Owner::Repository(name.clone());
    let namespace_signed_only = signing::is_set(trust, &repo.settings.namespace).await?;
    let rules = immutable::matcher(registry, name).await?;
    let pattern_of = |kind: ScopeKind| -> Vec<String> {
        rules
            .rules()
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.pattern.clone())
            .collect()
    };
    let stored = storage::of_repository(hub.meta(), name).await?;
    let mut head = head(accounts, hub, site, viewer, repo, "settings").await?;
    head.storage = Some(stored.clone());
    if let Some(private) = draft.as_ref().and_then(|d| d.private) {
        head.private = private;
    }
    let (description, full_description, preview) = match draft {
        Some(d) => {
            let html = crate::markdown::render(&d.full_description);
            (d.description, d.full_description, Some(html))
        }
        None => (
            repo.settings.description.clone(),
            repo.settings.full_description.clone(),
            None,
        ),
    };
    let view = SettingsPage {
        immutable: pattern_of(ScopeKind::Repository).join("\n"),
        inherited_immutable: pattern_of(ScopeKind::Namespace),
        storage: stored,
        namespace_storage: storage::of_namespace(hub.meta(), &repo.settings.namespace).await?,
        signed_only: signing::is_set(trust, name).await?,
        namespace_signed_only,
        retention,
        hooks: webhooks::section(hooks, &owner, &settings_url).await?,
        chrome: viewer.chrome.clone(),
        head,
        description,
        full_description,
        preview,
        org: org.map(|o| o.name),
        teams,
        error,
        notice,
    };
    render(viewer, status, &view)
}

/// The short name inside its organization (`app` of `acme/app`).
fn short_name(repository: &str) -> &str {
    repository.split_once('/').map_or(repository, |(_, n)| n)
}

/// The fields of the settings forms (each form sends some of them).
#[derive(Deserialize, Default)]
pub struct SettingsForm {
    pub description: Option<String>,
    pub full_description: Option<String>,
    pub visibility: Option<String>,
    /// Present when the general form's Preview button sent it: render, do not save.
    pub preview: Option<String>,
    #[serde(default)]
    pub confirm_name: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub permission: String,
    /// The signed-only box, present (`on`) when ticked.
    pub signed_only: Option<String>,
    /// Immutable tag patterns, one a line.
    #[serde(default)]
    pub patterns: String,
    #[serde(flatten)]
    pub hook: webhooks::HookForm,
    #[serde(flatten)]
    pub retention: RetentionForm,
}

#[allow(clippy::too_many_arguments)]
pub async fn post(
    viewer: &Viewer,
    accounts: &Accounts,
    site: &Site,
    hub: &Hub,
    trust: &Trust,
    registry: &Registry,
    hooks: &Webhooks,
    repo: &Repo,
    user: &User,
    action: &[&str],
    form: &SettingsForm,
) -> Result<HttpResponse, PageError> {
    require_admin(repo)?;
    let name = repo.settings.repository.as_str();
    let settings_url = format!("{}/settings", super::repository_url(name));
    let failed = |section: &'static str, e: berth_accounts::Error| async move {
        let message = inline(e)?;
        page(
            viewer,
            accounts,
            hooks,
            hub,
            trust,
            registry,
            site,
            repo,
            None,
            Some((section, message)),
            None,
        )
        .await
    };
    // The page again with the retention card as `card` left it.
    let with_card = |card: Card| async move {
        page(
            viewer,
            accounts,
            hooks,
            hub,
            trust,
            registry,
            site,
            repo,
            Some(card),
            None,
            None,
        )
        .await
    };
    match action {
        [] => {
            let private = match form.visibility.as_deref() {
                None => None,
                Some("private") => Some(true),
                Some("public") => Some(false),
                Some(_) => return Err(PageError::bad_request("Visibility is public or private.")),
            };
            if form.preview.is_some() {
                let draft = Draft {
                    description: form.description.clone().unwrap_or_default(),
                    full_description: form.full_description.clone().unwrap_or_default(),
                    private,
                };
                return page_with(
                    viewer,
                    accounts,
                    hooks,
                    hub,
                    trust,
                    registry,
                    site,
                    repo,
                    None,
                    None,
                    Some(("general", "Preview: not saved yet.")),
                    Some(draft),
                )
                .await;
            }
            let changes = Changes {
                private,
                description: form.description.clone(),
                full_description: form.full_description.clone(),
            };
            match repos::update(&accounts.db, &user.name, name, changes).await {
                Ok(()) => Ok(see_other(&format!("{settings_url}?saved=1"))),
                Err(e) => failed("general", e).await,
            }
        }
        ["teams"] | ["teams", "remove"] => {
            let org = org_of(accounts, repo)
                .await?
                .ok_or_else(PageError::not_found)?;
            let result = if action.len() == 2 {
                orgs::remove_team_permission(&accounts.db, &org, user, &form.team, short_name(name))
                    .await
            } else {
                match Permission::parse_grant(&form.permission) {
                    Ok(p) => {
                        orgs::set_team_permission(
                            &accounts.db,
                            &org,
                            user,
                            &form.team,
                            short_name(name),
                            p,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                }
            };
            match result {
                Ok(()) => Ok(see_other(&format!("{settings_url}#teams"))),
                Err(berth_accounts::Error::Forbidden) => Err(PageError::forbidden(
                    "Only the organization's owners can change what its teams may do.",
                )),
                Err(e) => failed("teams", e).await,
            }
        }
        ["immutable-tags"] => match Patterns::from_lines(&form.patterns) {
            Ok(patterns) => {
                immutable::replace(registry, Scope::Repository(name), &patterns, &user.name)
                    .await?;
                audit::record(
                    &accounts.db,
                    &user.name,
                    "immutable_tags.update",
                    name,
                    &patterns.to_string(),
                )
                .await?;
                Ok(see_other(&format!(
                    "{settings_url}?saved=immutable#immutable"
                )))
            }
            Err(e) => failed("immutable", berth_accounts::Error::Invalid(e.to_string())).await,
        },
        ["signed-only"] => {
            signing::set_signed_only(trust, &user.name, name, form.signed_only.is_some()).await?;
            Ok(see_other(&format!("{settings_url}#signing")))
        }
        ["retention", rest @ ..] => {
            let entered = retention_card(registry, name, None)
                .await?
                .entered(&form.retention);
            let scope = rules::Scope::Repository(name);
            match rest {
                ["remove"] => {
                    if rules::remove(registry.meta(), scope).await? {
                        retention::audit(accounts, &user.name, name, None).await?;
                    }
                    Ok(see_other(&format!(
                        "{settings_url}?retention=removed#retention"
                    )))
                }
                [] | ["preview"] => {
                    let policy = match form.retention.policy() {
                        Ok(p) => p,
                        Err(message) => {
                            return with_card(Card {
                                error: Some(message),
                                ..entered
                            })
                            .await
                        }
                    };
                    if rest.is_empty() {
                        rules::put(registry.meta(), scope, &policy, &user.name).await?;
                        retention::audit(accounts, &user.name, name, Some(policy.policy())).await?;
                        return Ok(see_other(&format!(
                            "{settings_url}?retention=saved#retention"
                        )));
                    }
                    let now = berth_registry::clock::now();
                    let plan = rules::preview(registry.meta(), name, &policy, now).await?;
                    with_card(Card {
                        preview: Some(Preview::of_repository(name, plan)),
                        ..entered
                    })
                    .await
                }
                _ => Err(PageError::not_found()),
            }
        }
        ["webhooks", rest @ ..] => {
            let owner = berth_webhooks::Owner::Repository(name.to_owned());
            webhooks::post(
                viewer,
                hooks,
                &owner,
                &user.name,
                &settings_url,
                rest,
                &form.hook,
            )
            .await
        }
        ["delete"] => {
            if form.confirm_name.trim() != name {
                let e = berth_accounts::Error::Invalid(format!(
                    "type the repository's name, {name}, to confirm"
                ));
                return failed("delete", e).await;
            }
            hub.delete_repository(&user.name, name).await?;
            Ok(see_other(&format!("/u/{}", user.name)))
        }
        _ => Err(PageError::not_found()),
    }
}
