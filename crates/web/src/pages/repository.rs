//! A repository's pages under `/r/{namespace}/{name}` (as on Docker Hub): the overview with its
//! README, pull command, stars and comments; the tags tab and a tag's page (in `tags.rs`); the
//! builds tab, a build's page and its live log (in `builds.rs`); and the administrators'
//! settings (in `repo_settings.rs`, the build settings in `builds.rs`). Names may have more than
//! two parts, so the path is read from its end: `…/tags`, `…/tags/{tag}`, `…/builds`,
//! `…/builds/{id}`, `…/settings` and the form actions.
//!
//! A repository the viewer may not read answers exactly like one that does not exist.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::access::Permission;
use berth_accounts::Accounts;
use berth_builds::Builds;
use berth_hub::comments::{self, Comment};
use berth_hub::{stars, Hub};
use berth_registry::auth::Principal;
use berth_registry::Registry;
use berth_trust::Trust;
use berth_webhooks::Webhooks;
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::forms::PageNumber;
use super::repo_head::{head, load, Head, Repo};
use super::settings::login_first;
use super::storage;
use super::{builds, render, repo_settings, see_other, tags, webhooks, Chrome, PageError, Viewer};
use crate::{markdown, Site};

/// Comments shown a page.
const COMMENTS_PER_PAGE: i64 = 20;

/// What a path under `/r/` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Overview,
    Tags,
    Tag(String),
    /// The page that asks before a tag is deleted.
    TagDelete(String),
    /// One platform of a multi-platform tag: the tag and the platform's manifest digest.
    Platform(String, String),
    Builds,
    /// A build's page, by its id.
    Build(String),
    /// A build's live log.
    BuildEvents(String),
    Settings,
    BuildSettings,
    /// A webhook's page (`new`, or its id) under the settings.
    Webhook(String),
    /// A form action (`star`, `comments`, `settings/delete`, …) and its arguments.
    Action(Vec<String>),
}

/// Splits `/r/{tail}` into the repository's name and what is asked of it. A suffix counts
/// only when what is left still names a repository in a namespace (two parts or more).
pub fn parse(tail: &str, post: bool) -> (String, Target) {
    let parts: Vec<&str> = tail.split('/').collect();
    let name = |keep: usize| parts[..keep].join("/");
    let n = parts.len();
    let fits = |suffix: usize| n >= suffix + 2;
    if post {
        for suffix in [4, 3, 2, 1] {
            if !fits(suffix) {
                continue;
            }
            let rest: Vec<String> = parts[n - suffix..].iter().map(|s| s.to_string()).collect();
            let known = match rest.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["comments", id, "edit" | "delete"] => id.parse::<i64>().is_ok(),
                ["tags", tag, "delete"] => berth_registry::names::is_tag(tag),
                ["settings", "teams", "remove"] => true,
                ["settings", "webhooks", id, "delete" | "redeliver" | "ping"] => {
                    id.parse::<i64>().is_ok()
                }
                ["settings", "webhooks", id] => id.parse::<i64>().is_ok(),
                ["settings", "webhooks"] => true,
                ["settings", "retention", "preview" | "remove"] => true,
                ["settings", "builds", "rules" | "unlink"] => true,
                ["settings", "builds"] => true,
                ["builds", id, "cancel"] => id.parse::<i64>().is_ok(),
                ["settings", "delete" | "teams" | "signed-only" | "immutable-tags" | "retention"] => {
                    true
                }
                ["star" | "unstar" | "comments" | "settings" | "builds"] => true,
                _ => false,
            };
            if known {
                return (name(n - suffix), Target::Action(rest));
            }
        }
        return (tail.to_owned(), Target::Action(Vec::new()));
    }
    if fits(3) && parts[n - 3] == "settings" && parts[n - 2] == "webhooks" {
        return (name(n - 3), Target::Webhook(parts[n - 1].to_owned()));
    }
    if fits(4) && parts[n - 4] == "tags" && parts[n - 2] == "platforms" {
        let (tag, digest) = (parts[n - 3].to_owned(), parts[n - 1].to_owned());
        return (name(n - 4), Target::Platform(tag, digest));
    }
    if fits(3) && parts[n - 3] == "tags" && parts[n - 1] == "delete" {
        return (name(n - 3), Target::TagDelete(parts[n - 2].to_owned()));
    }
    if fits(3) && parts[n - 3] == "builds" && parts[n - 1] == "events" {
        return (name(n - 3), Target::BuildEvents(parts[n - 2].to_owned()));
    }
    if fits(2) && parts[n - 2] == "tags" {
        return (name(n - 2), Target::Tag(parts[n - 1].to_owned()));
    }
    if fits(2) && parts[n - 2] == "settings" && parts[n - 1] == "builds" {
        return (name(n - 2), Target::BuildSettings);
    }
    if fits(2) && parts[n - 2] == "builds" {
        return (name(n - 2), Target::Build(parts[n - 1].to_owned()));
    }
    if fits(1) && parts[n - 1] == "tags" {
        return (name(n - 1), Target::Tags);
    }
    if fits(1) && parts[n - 1] == "builds" {
        return (name(n - 1), Target::Builds);
    }
    if fits(1) && parts[n - 1] == "settings" {
        return (name(n - 1), Target::Settings);
    }
    (tail.to_owned(), Target::Overview)
}

pub struct CommentView {
    pub id: i64,
    pub author: String,
    pub html: String,
    pub body: String,
    /// When it was written (Unix seconds).
    pub when: i64,
    pub edited: bool,
    pub can_edit: bool,
    pub can_delete: bool,
}

#[derive(Template)]
#[template(path = "repo_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    head: Head,
    /// The most recently pushed tags, and how many there are in all.
    recent_tags: Vec<tags::TagRow>,
    tag_count: i64,
    readme: String,
    comments: Vec<CommentView>,
    comment_page: i64,
    prev_comments: Option<String>,
    next_comments: Option<String>,
    can_comment: bool,
    draft: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct RepoQuery {
    page: Option<PageNumber>,
    /// Set by the redirect after the settings were saved.
    saved: Option<String>,
    /// Set by the redirect after a tag was deleted.
    deleted: Option<String>,
    /// Set by the redirect when a tag delete was not confirmed with the tag's name.
    unconfirmed: Option<String>,
    /// Set by the redirect after the retention policy was saved or removed.
    retention: Option<String>,
    /// Where a build's live log goes on from: the last piece its page showed.
    after: Option<i64>,
    /// The tags tab's filter: part of a tag's name.
    q: Option<String>,
    /// The tags tab's order: `newest` (the default) or `name`.
    sort: Option<String>,
}

/// `GET /r/{tail}`.
#[allow(clippy::too_many_arguments)]
pub async fn get(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
    hub: web::Data<Hub>,
    site: web::Data<Site>,
    registry: web::Data<Registry>,
    trust: web::Data<Trust>,
    builds: web::Data<Builds>,
    tail: web::Path<String>,
    query: web::Query<RepoQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (name, target) = parse(&tail, false);
    let repo = load(&accounts, &viewer, &name).await?;
    let page = query.page.map_or(1, |p| p.0).clamp(1, 10_000);
    match target {
        Target::Overview => {
            let stores = Stores {
                accounts: &accounts,
                hub: &hub,
                site: &site,
                registry: &registry,
                trust: &trust,
            };
            overview(&viewer, &stores, &repo, page, None, "").await
        }
        Target::Tags => {
            let notice = query.deleted.is_some().then_some("Tag deleted.");
            let listing = tags::Listing::new(query.q.as_deref(), query.sort.as_deref(), page);
            tags::list(
                &viewer, &accounts, &hub, &site, &registry, &trust, &repo, &listing, notice,
            )
            .await
        }
        Target::TagDelete(tag) => {
            tags::confirm_delete(
                &viewer, &accounts, &hub, &site, &registry, &trust, &repo, &tag,
            )
            .await
        }
        Target::Platform(tag, digest) => {
            tags::platform(
                &viewer, &accounts, &hub, &site, &registry, &trust, &repo, &tag, &digest,
            )
            .await
        }
        Target::Tag(tag) => {
            let unconfirmed = query.unconfirmed.is_some();
            tags::detail(
                &viewer,
                &accounts,
                &hub,
                &site,
                &registry,
                &trust,
                &repo,
                &tag,
                unconfirmed,
            )
            .await
        }
        Target::Builds => {
            builds::list(&viewer, &accounts, &hub, &site, &builds, &repo, page, None).await
        }
        Target::Build(id) => {
            builds::detail(&viewer, &accounts, &hub, &site, &builds, &repo, &id).await
        }
        Target::BuildEvents(id) => {
            builds::events(builds.into_inner(), &repo, &id, &req, query.after).await
        }
        Target::BuildSettings => {
            let notice = builds::saved_notice(query.saved.as_deref());
            let refused = builds::Refused::default();
            builds::settings(
                &viewer, &accounts, &hub, &site, &builds, &repo, refused, notice,
            )
            .await
        }
        Target::Settings => {
            let notice = match query.saved.as_deref() {
                Some("immutable") => Some(repo_settings::IMMUTABLE_SAVED),
                Some(_) => Some(("general", "Settings saved.")),
                None => None,
            };
            // Fixed messages only: nothing from the address is echoed.
            let retention_notice = match query.retention.as_deref() {
                Some("saved") => Some("Retention policy saved."),
                Some("removed") => Some("Retention policy removed."),
                _ => None,
            };
            let card = repo_settings::retention_card(&registry, &name, retention_notice).await?;
            repo_settings::page(
                &viewer,
                &accounts,
                &hooks,
                &hub,
                &trust,
                &registry,
                &site,
                &repo,
                Some(card),
                None,
                notice,
            )
            .await
        }
        Target::Webhook(which) => {
            repo_settings::require_admin(&repo)?;
            let owner = berth_webhooks::Owner::Repository(name.clone());
            let settings_url = format!("{}/settings", super::repository_url(&name));
            let saved = query.saved.is_some();
            webhooks::show(&viewer, &hooks, &owner, &settings_url, &which, saved).await
        }
        Target::Action(_) => Err(PageError::not_found()),
    }
}

/// What the overview reads from.
struct Stores<'a> {
    accounts: &'a Accounts,
    hub: &'a Hub,
    site: &'a Site,
    registry: &'a Registry,
    trust: &'a Trust,
}

/// Tags the overview lists.
const RECENT_TAGS: i64 = 5;

async fn overview(
    viewer: &Viewer,
    stores: &Stores<'_>,
    repo: &Repo,
    page: i64,
    error: Option<String>,
    draft: &str,
) -> Result<HttpResponse, PageError> {
    let Stores {
        accounts,
        hub,
        site,
        registry,
        trust,
    } = *stores;
    let mut head = head(accounts, hub, site, viewer, repo, "overview").await?;
    head.storage = Some(storage::of_repository(hub.meta(), &repo.settings.repository).await?);
    let (tag_count, recent_tags) =
        tags::recent(registry, trust, &head, site.registry_host(), RECENT_TAGS).await?;
    head.empty = tag_count == 0;
    let (total, list) = comments::list(
        hub,
        &repo.settings.repository,
        (page - 1) * COMMENTS_PER_PAGE,
        COMMENTS_PER_PAGE,
    )
    .await?;
    let me = viewer.user.as_ref().map(|u| u.name.as_str());
    let admin = repo.permission >= Permission::Admin;
    let comments = list
        .into_iter()
        .map(|c: Comment| CommentView {
            id: c.id,
            html: markdown::render(&c.body),
            can_edit: me == Some(c.author.as_str()),
            can_delete: admin || me == Some(c.author.as_str()),
            when: c.created_at,
            edited: c.updated_at != c.created_at,
            author: c.author,
            body: c.body,
        })
        .collect();
    let url = |p: i64| format!("{}?page={p}#comments", head.url);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = OverviewPage {
        chrome: viewer.chrome.clone(),
        recent_tags,
        tag_count,
        readme: markdown::render(&repo.settings.full_description),
        comments,
        comment_page: page,
        prev_comments: (page > 1).then(|| url(page - 1)),
        next_comments: (page * COMMENTS_PER_PAGE < total).then(|| url(page + 1)),
        can_comment: viewer.user.is_some(),
        draft: draft.to_owned(),
        error,
        head,
    };
    render(viewer, status, &view)
}

/// Every form posted to a repository: the CSRF token, a comment's body, and the settings
/// forms' fields.
#[derive(Deserialize, Default)]
pub struct RepoForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub body: String,
    #[serde(flatten)]
    pub settings: repo_settings::SettingsForm,
    /// Last: it keeps the rules editor's numbered fields, which no other form has.
    #[serde(flatten)]
    pub builds: builds::BuildsForm,
}

/// `POST /r/{tail}`: star, comment, and the settings forms.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    hooks: web::Data<Webhooks>,
    trust: web::Data<Trust>,
    registry: web::Data<Registry>,
    site: web::Data<Site>,
    builds: web::Data<Builds>,
    tail: web::Path<String>,
    form: web::Form<RepoForm>,
) -> Result<HttpResponse, PageError> {
    let (name, target) = parse(&tail, true);
    let Target::Action(action) = target else {
        return Err(PageError::not_found());
    };
    let repo = load(&accounts, &viewer, &name).await?;
    viewer.check_csrf(&form.csrf)?;
    let url = super::repository_url(&name);
    let Some(user) = viewer.user.as_ref() else {
        return Ok(login_first(&url));
    };
    let action: Vec<&str> = action.iter().map(String::as_str).collect();
    let stores = Stores {
        accounts: &accounts,
        hub: &hub,
        site: &site,
        registry: &registry,
        trust: &trust,
    };
    match action[..] {
        ["star"] => {
            stars::star(&hub, user, &name).await?;
            Ok(see_other(&url))
        }
        ["unstar"] => {
            stars::unstar(&hub, user, &name).await?;
            Ok(see_other(&url))
        }
        ["comments"] => match comments::create(&hub, &name, user, &form.body).await {
            Ok(c) => Ok(see_other(&format!("{url}#comment-{}", c.id))),
            Err(e) => {
                let message = inline(e)?;
                overview(&viewer, &stores, &repo, 1, Some(message), &form.body).await
            }
        },
        ["comments", id, "edit"] => {
            let id = id.parse().map_err(|_| PageError::not_found())?;
            match comments::update(&hub, &name, id, user, &form.body).await {
                Ok(_) => Ok(see_other(&format!("{url}#comment-{id}"))),
                Err(berth_accounts::Error::Invalid(m)) => {
                    overview(&viewer, &stores, &repo, 1, Some(m), "").await
                }
                Err(e) => Err(e.into()),
            }
        }
        ["comments", id, "delete"] => {
            let id = id.parse().map_err(|_| PageError::not_found())?;
            let admin = repo.permission >= Permission::Admin;
            comments::delete(&hub, &name, id, user, admin).await?;
            Ok(see_other(&format!("{url}#comments")))
        }
        ["tags", tag, "delete"] => {
            repo_settings::require_admin(&repo)?;
            if !registry.config().delete_enabled {
                return Err(PageError::forbidden(
                    "deletion is disabled on this registry",
                ));
            }
            let tag_url = format!("{url}/tags/{tag}");
            if form.settings.confirm_name.trim() != tag {
                return Ok(see_other(&format!("{tag_url}?unconfirmed=1#delete")));
            }
            let actor = Principal {
                subject: Some(user.name.clone()),
            };
            if !registry.delete_tag(&name, tag, actor).await? {
                return Err(PageError::not_found());
            }
            Ok(see_other(&format!("{url}/tags?deleted=1")))
        }
        ["builds"] => {
            builds::build_now(
                &viewer,
                &accounts,
                &hub,
                &site,
                &builds,
                &repo,
                user,
                &form.builds,
            )
            .await
        }
        ["builds", id, "cancel"] => builds::cancel(&builds, &repo, user, id).await,
        ["settings", "builds", ref rest @ ..] => {
            builds::settings_post(
                &viewer,
                &accounts,
                &hub,
                &site,
                &builds,
                &repo,
                user,
                rest,
                &form.builds,
            )
            .await
        }
        ["settings", ..] => {
            repo_settings::post(
                &viewer,
                &accounts,
                &site,
                &hub,
                &trust,
                &registry,
                &hooks,
                &repo,
                user,
                &action[1..],
                &form.settings,
            )
            .await
        }
        _ => Err(PageError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Target};

    #[test]
    fn paths_are_read_from_their_end() {
        assert_eq!(
            parse("acme/app", false),
            ("acme/app".into(), Target::Overview)
        );
        assert_eq!(
            parse("acme/app/tags", false),
            ("acme/app".into(), Target::Tags)
        );
        assert_eq!(
            parse("acme/team/app/tags/v1.2", false),
            ("acme/team/app".into(), Target::Tag("v1.2".into()))
        );
        assert_eq!(
            parse("acme/team/app/tags/v1.2/delete", false),
            ("acme/team/app".into(), Target::TagDelete("v1.2".into()))
        );
        assert_eq!(
            parse("acme/app/tags/v1/platforms/sha256:ab", false),
            (
                "acme/app".into(),
                Target::Platform("v1".into(), "sha256:ab".into())
            )
        );
        assert_eq!(
            parse("acme/settings", false),
            ("acme/settings".into(), Target::Overview)
        );
        assert_eq!(
            parse("acme/tags", false),
            ("acme/tags".into(), Target::Overview)
        );
        assert_eq!(
            parse("acme/app/comments/12/delete", true),
            (
                "acme/app".into(),
                Target::Action(vec!["comments".into(), "12".into(), "delete".into()])
            )
        );
        assert_eq!(
            parse("acme/app/star", true),
            ("acme/app".into(), Target::Action(vec!["star".into()]))
        );
        assert_eq!(
            parse("acme/app/settings/webhooks/new", false),
            ("acme/app".into(), Target::Webhook("new".into()))
        );
        assert_eq!(
            parse("acme/app/settings/webhooks/7/redeliver", true),
            (
                "acme/app".into(),
                Target::Action(vec![
                    "settings".into(),
                    "webhooks".into(),
                    "7".into(),
                    "redeliver".into()
                ])
            )
        );
        assert_eq!(
            parse("acme/app/settings/webhooks", true).1,
            Target::Action(vec!["settings".into(), "webhooks".into()])
        );
        assert_eq!(
            parse("acme/team/app/settings/immutable-tags", true),
            (
                "acme/team/app".into(),
                Target::Action(vec!["settings".into(), "immutable-tags".into()])
            )
        );
        assert_eq!(
            parse("acme/app/builds", false),
            ("acme/app".into(), Target::Builds)
        );
        assert_eq!(
            parse("acme/team/app/builds/12", false),
            ("acme/team/app".into(), Target::Build("12".into()))
        );
        assert_eq!(
            parse("acme/app/builds/12/events", false),
            ("acme/app".into(), Target::BuildEvents("12".into()))
        );
        assert_eq!(
            parse("acme/app/settings/builds", false),
            ("acme/app".into(), Target::BuildSettings)
        );
        // A tag may be called "builds"; a repository "builds" has no tab of that name.
        assert_eq!(
            parse("acme/app/tags/builds", false),
            ("acme/app".into(), Target::Tag("builds".into()))
        );
        assert_eq!(
            parse("acme/builds", false),
            ("acme/builds".into(), Target::Overview)
        );
        assert_eq!(
            parse("acme/app/builds/7/cancel", true),
            (
                "acme/app".into(),
                Target::Action(vec!["builds".into(), "7".into(), "cancel".into()])
            )
        );
        assert_eq!(
            parse("acme/app/settings/builds/rules", true).1,
            Target::Action(vec!["settings".into(), "builds".into(), "rules".into()])
        );
        assert_eq!(
            parse("acme/app/builds", true).1,
            Target::Action(vec!["builds".into()])
        );
        assert_eq!(
            parse("acme/app/comments/x/delete", true),
            (
                "acme/app/comments/x/delete".into(),
                Target::Action(Vec::new())
            )
        );
    }
}
