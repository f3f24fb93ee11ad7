//! A repository's automated builds in the pages: the Builds tab (`/r/{name}/builds`: the
//! history, the status badge, "Build now"), a build's page (`…/builds/{id}`: what it built and
//! its log), the log live as Server-Sent Events (`…/builds/{id}/events`, which
//! `static/builds.js` appends to the page; without script a running build's page reloads
//! itself), and the build settings (`…/settings/builds`: the git source, its push-event URL
//! and the build rules), for the repository's administrators.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::access::Permission;
use berth_accounts::users::User;
use berth_accounts::Accounts;
use berth_builds::queue::{self, Build, Status, Trigger};
use berth_builds::rules::{self, RefKind, Rule};
use berth_builds::source::Scheme;
use berth_builds::sources::{self, Source, SourceInput};
use berth_builds::Builds;
use berth_hub::Hub;
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::repo_head::{head, Head, Repo};
use super::repo_settings::require_admin;
use super::{render, see_other, Chrome, PageError, Viewer};
use crate::Site;

/// Builds the tab shows a page.
const PER_PAGE: i64 = 25;
/// How often the live log looks for news.
const POLL_EVERY: Duration = Duration::from_millis(400);
/// A quiet live log sends a comment this often, so proxies and the browser keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One build as the pages show it.
pub struct BuildView {
    pub id: i64,
    pub url: String,
    pub status: &'static str,
    pub finished: bool,
    /// `branch` or `tag`.
    pub ref_kind: &'static str,
    pub ref_name: String,
    pub commit: String,
    pub short_commit: String,
    /// Each Docker tag and its page.
    pub tags: Vec<(String, String)>,
    /// `push`, `manual` or `base image`.
    pub trigger: &'static str,
    /// Who or what queued it: a user (linked), a git host, a base image.
    pub by: String,
    pub by_user: bool,
    /// Unix seconds.
    pub queued: i64,
    pub started: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration: String,
    pub digest: String,
    pub dockerfile: String,
    pub context: String,
    pub build_args: Vec<String>,
    pub error: String,
    pub log_truncated: bool,
}

/// `1h 2m`, `3m 4s`, `5s`.
fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn view(repository_url: &str, b: &Build) -> BuildView {
    let (trigger, by, by_user) = match b.trigger {
        Trigger::Push => (
            "push",
            format!(
                "from {}",
                b.triggered_by
                    .strip_suffix(" push")
                    .unwrap_or(&b.triggered_by)
            ),
            false,
        ),
        Trigger::Manual => ("manual", b.triggered_by.clone(), true),
        Trigger::BaseImage => ("base image", b.triggered_by.clone(), false),
    };
    let commit = b.commit.clone().unwrap_or_default();
    BuildView {
        id: b.id,
        url: format!("{repository_url}/builds/{}", b.id),
        status: b.status.as_str(),
        finished: b.status.is_finished(),
        ref_kind: b.ref_kind.as_str(),
        ref_name: b.ref_name.clone(),
        short_commit: commit.chars().take(12).collect(),
        commit,
        tags: b
            .tags
            .iter()
            .map(|t| (t.clone(), format!("{repository_url}/tags/{t}")))
            .collect(),
        trigger,
        by,
        by_user,
        queued: b.queued_at,
        started: b.started_at,
        finished_at: b.finished_at,
        duration: b.duration_seconds.map(duration).unwrap_or_default(),
        digest: b.digest.clone().unwrap_or_default(),
        dockerfile: b.dockerfile.clone(),
        context: b.context.clone(),
        build_args: b
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        error: b.error.clone(),
        log_truncated: b.log_truncated,
    }
}

#[derive(Template)]
#[template(path = "repo_builds.html")]
struct BuildsPage {
    chrome: Chrome,
    head: Head,
    enabled: bool,
    linked: bool,
    builds: Vec<BuildView>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    badge_url: String,
    badge_markdown: String,
    /// Whether the viewer may start builds (push permission).
    can_build: bool,
    /// What the "Build now" field holds.
    git_ref: String,
    error: Option<String>,
}

/// The ref "Build now" offers first: the first branch rule's branch, unless it is a regex.
fn default_ref(source: Option<&Source>) -> String {
    source
        .and_then(|s| {
            s.rules
                .iter()
                .find(|r| r.source_type == RefKind::Branch && !r.source.starts_with('/'))
        })
        .map(|r| r.source.clone())
        .unwrap_or_default()
}

/// The Builds tab; `error` and `git_ref` when "Build now" was refused.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    builds: &Builds,
    repo: &Repo,
    page: i64,
    refused: Option<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let head = head(accounts, hub, site, viewer, repo, "builds").await?;
    let name = &repo.settings.repository;
    let (rows, total) = queue::list(builds, name, PER_PAGE, (page - 1) * PER_PAGE).await?;
    let source = sources::get(builds, name).await?;
    let public = &builds.config.public_url;
    let url = |p: i64| format!("{}/builds?page={p}", head.url);
    let (status, git_ref, error) = match refused {
        Some((git_ref, error)) => (StatusCode::UNPROCESSABLE_ENTITY, git_ref, Some(error)),
        None => (StatusCode::OK, default_ref(source.as_ref()), None),
    };
    let view = BuildsPage {
        chrome: viewer.chrome.clone(),
        enabled: builds.config.enabled(),
        linked: source.is_some(),
        builds: rows.iter().map(|b| view(&head.url, b)).collect(),
        total,
        page,
        prev_url: (page > 1).then(|| url(page - 1)),
        next_url: (page * PER_PAGE < total).then(|| url(page + 1)),
        badge_url: format!("/api/v1/repositories/{name}/build-badge"),
        badge_markdown: format!(
            "[![build]({public}/api/v1/repositories/{name}/build-badge)]({public}/r/{name}/builds)"
        ),
        can_build: viewer.user.is_some() && repo.permission >= Permission::Write,
        git_ref,
        error,
        head,
    };
    render(viewer, status, &view)
}

#[derive(Template)]
#[template(path = "repo_build.html")]
struct BuildPage {
    chrome: Chrome,
    head: Head,
    build: BuildView,
    log: String,
    /// Where the live log goes on from (`?after=`).
    events_url: String,
    log_url: String,
    can_cancel: bool,
}

impl BuildPage {
    fn builds_js_url(&self) -> &'static str {
        super::assets::builds_js_url()
    }
}

fn build_id(id: &str) -> Result<i64, PageError> {
    id.parse().map_err(|_| PageError::not_found())
}

/// A build's page.
#[allow(clippy::too_many_arguments)]
pub async fn detail(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    builds: &Builds,
    repo: &Repo,
    id: &str,
) -> Result<HttpResponse, PageError> {
    let name = &repo.settings.repository;
    let build = queue::get(builds, name, build_id(id)?).await?;
    let (log, last_seq) = queue::log_snapshot(builds, build.id).await?;
    let head = head(accounts, hub, site, viewer, repo, "builds").await?;
    let view = BuildPage {
        chrome: viewer.chrome.clone(),
        events_url: format!("{}/builds/{}/events?after={last_seq}", head.url, build.id),
        log_url: format!("/api/v1/repositories/{name}/builds/{}/log", build.id),
        can_cancel: viewer.user.is_some()
            && repo.permission >= Permission::Write
            && !build.status.is_finished(),
        build: view(&head.url, &build),
        log,
        head,
    };
    render(viewer, StatusCode::OK, &view)
}

/// What the live log has sent and still has to look at.
struct Live {
    builds: Arc<Builds>,
    repository: String,
    id: i64,
    after: i64,
    status: Option<Status>,
    last_sent: Instant,
    first: bool,
    done: bool,
}

impl Live {
    /// What there is to send now (`None`: nothing new). Reads the status before the log: a
    /// build's worker writes all of its log before it records the end, so a finished status
    /// read first means the log read after it is complete.
    async fn news(&mut self) -> Result<Option<String>, berth_accounts::Error> {
        let build = queue::get(&self.builds, &self.repository, self.id).await?;
        let chunks = queue::log_since(&self.builds, self.id, self.after).await?;
        let mut out = String::new();
        for c in &chunks {
            let data = serde_json::json!({ "text": c.data });
            out.push_str(&format!("id: {}\nevent: log\ndata: {data}\n\n", c.seq));
            self.after = c.seq;
        }
        if self.status != Some(build.status) {
            self.status = Some(build.status);
            let data = serde_json::to_string(&build)
                .map_err(|e| berth_accounts::Error::Internal(e.to_string()))?;
            out.push_str(&format!("event: status\ndata: {data}\n\n"));
        }
        // Fewer pieces than a full read: the log is drained.
        if build.status.is_finished() && chunks.len() < 500 {
            out.push_str("event: end\ndata: {}\n\n");
            self.done = true;
        }
        if out.is_empty() && self.last_sent.elapsed() >= KEEP_ALIVE {
            out.push_str(": keep-alive\n\n");
        }
        if out.is_empty() {
            return Ok(None);
        }
        self.last_sent = Instant::now();
        Ok(Some(out))
    }
}

/// `GET …/builds/{id}/events`: the log from `Last-Event-ID` (a reconnect) or `?after=` (the
/// page's last piece) on, as Server-Sent Events, until the build is finished and its log sent.
/// Polling stops when the browser goes: the stream is dropped with its connection.
pub async fn events(
    builds: Arc<Builds>,
    repo: &Repo,
    id: &str,
    req: &HttpRequest,
    after: Option<i64>,
) -> Result<HttpResponse, PageError> {
    let repository = repo.settings.repository.clone();
    let build = queue::get(&builds, &repository, build_id(id)?).await?;
    let resumed = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let live = Live {
        builds,
        repository,
        id: build.id,
        after: resumed.or(after).unwrap_or(-1).max(-1),
        status: None,
        last_sent: Instant::now(),
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        if live.done {
            return None;
        }
        loop {
            if !live.first {
                tokio::time::sleep(POLL_EVERY).await;
            }
            live.first = false;
            match live.news().await {
                Ok(Some(text)) => {
                    return Some((Ok::<_, actix_web::Error>(Bytes::from(text)), live))
                }
                Ok(None) => {}
                Err(e) => {
                    // The browser reconnects on its own, from the last piece it got.
                    tracing::warn!(id = live.id, error = %e, "the live log of a build");
                    return None;
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// The fields of the build forms (posted with the repository's other forms).
#[derive(Deserialize, Default)]
pub struct BuildsForm {
    /// "Build now": a branch, a tag, `refs/heads/…` or `refs/tags/…`.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub source_url: Option<String>,
    pub source_username: Option<String>,
    /// Empty keeps the stored password or token.
    pub source_password: Option<String>,
    pub remove_password: Option<String>,
    pub new_deploy_key: Option<String>,
    pub base_rebuild: Option<String>,
    pub confirm_unlink: Option<String>,
    /// How many rows the rules editor sent.
    pub rule_rows: Option<String>,
    /// The rules editor's fields, `rule{i}_{field}`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

/// `POST …/builds`: "Build now", then the first queued build's page.
#[allow(clippy::too_many_arguments)]
pub async fn build_now(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    builds: &Builds,
    repo: &Repo,
    user: &User,
    form: &BuildsForm,
) -> Result<HttpResponse, PageError> {
    require_writer(repo)?;
    let name = &repo.settings.repository;
    let git_ref = form.git_ref.clone().unwrap_or_default();
    match queue::build_now(builds, &user.name, name, &git_ref).await {
        Ok(queued) => {
            let first = queued.first().ok_or_else(PageError::internal)?;
            Ok(see_other(&format!(
                "{}/builds/{}",
                super::repository_url(name),
                first.id
            )))
        }
        Err(e) => {
            let message = inline(e)?;
            let refused = Some((git_ref, message));
            list(viewer, accounts, hub, site, builds, repo, 1, refused).await
        }
    }
}

fn require_writer(repo: &Repo) -> Result<(), PageError> {
    if repo.permission < Permission::Write {
        return Err(PageError::forbidden(
            "Only those who may push to this repository can start or cancel its builds.",
        ));
    }
    Ok(())
}

/// `POST …/builds/{id}/cancel`.
pub async fn cancel(
    builds: &Builds,
    repo: &Repo,
    user: &User,
    id: &str,
) -> Result<HttpResponse, PageError> {
    require_writer(repo)?;
    let name = &repo.settings.repository;
    let id = build_id(id)?;
    queue::cancel(builds, &user.name, name, id).await?;
    Ok(see_other(&format!(
        "{}/builds/{id}",
        super::repository_url(name)
    )))
}

/// One row of the rules editor, as stored or as typed.
#[derive(Clone)]
pub struct RuleRow {
    pub index: usize,
    /// `branch` or `tag`.
    pub kind: String,
    pub source: String,
    pub tag: String,
    pub dockerfile: String,
    pub context: String,
    /// `KEY=value`, one a line.
    pub args: String,
    pub autobuild: bool,
    pub remove: bool,
}

impl RuleRow {
    fn of(index: usize, r: &Rule) -> RuleRow {
        RuleRow {
            index,
            kind: r.source_type.as_str().to_owned(),
            source: r.source.clone(),
            tag: r.tag.clone(),
            dockerfile: r.dockerfile.clone(),
            context: r.context.clone(),
            args: r
                .build_args
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            autobuild: r.autobuild,
            remove: false,
        }
    }

    /// The row to add a rule in.
    fn blank(index: usize) -> RuleRow {
        RuleRow {
            index,
            kind: "branch".into(),
            source: String::new(),
            tag: String::new(),
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            args: String::new(),
            autobuild: true,
            remove: false,
        }
    }

    fn is_blank(&self) -> bool {
        self.source.trim().is_empty() && self.tag.trim().is_empty() && self.args.trim().is_empty()
    }

    /// The rule it says, or why it says none.
    fn rule(&self) -> Result<Rule, String> {
        let n = self.index + 1;
        let source_type = RefKind::parse(&self.kind)
            .ok_or_else(|| format!("rule {n}: the source type is branch or tag"))?;
        let mut build_args = BTreeMap::new();
        for line in self.args.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!(
                    "rule {n}: build arguments are KEY=value, one a line; {:?} has no '='",
                    line.chars().take(40).collect::<String>()
                ));
            };
            if build_args
                .insert(key.trim().to_owned(), value.to_owned())
                .is_some()
            {
                return Err(format!(
                    "rule {n}: the build argument {} is given twice",
                    key.trim()
                ));
            }
        }
        let rule = Rule {
            source_type,
            source: self.source.trim().to_owned(),
            tag: self.tag.trim().to_owned(),
            dockerfile: self.dockerfile.trim().to_owned(),
            context: self.context.trim().to_owned(),
            build_args,
            autobuild: self.autobuild,
        };
        // Checked here too, so that the error names the row as the page numbers it.
        rule.validate().map_err(|e| format!("rule {n}: {e}"))?;
        Ok(rule)
    }
}

/// The rows the rules editor sent, in order.
fn rows_of(form: &BuildsForm) -> Result<Vec<RuleRow>, PageError> {
    let count: usize = form
        .rule_rows
        .as_deref()
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| *n <= rules::MAX_RULES + 1)
        .ok_or_else(|| PageError::bad_request("The rules form is incomplete: reload the page."))?;
    let field = |i: usize, name: &str| {
        form.fields
            .get(&format!("rule{i}_{name}"))
            .cloned()
            .unwrap_or_default()
    };
    Ok((0..count)
        .map(|i| RuleRow {
            index: i,
            kind: field(i, "kind"),
            source: field(i, "source"),
            tag: field(i, "tag"),
            dockerfile: field(i, "dockerfile"),
            context: field(i, "context"),
            args: field(i, "args"),
            autobuild: form.fields.contains_key(&format!("rule{i}_autobuild")),
            remove: form.fields.contains_key(&format!("rule{i}_remove")),
        })
        .collect())
}

/// What the source form shows: as stored, or as typed when it was refused.
#[derive(Default)]
pub struct SourceForm {
    pub url: String,
    pub username: String,
    pub base_rebuild: bool,
}

/// The linked source as its administrators see it.
pub struct SourceView {
    pub url: String,
    pub ssh: bool,
    pub has_password: bool,
    pub deploy_key: Option<String>,
    pub push_url: String,
    pub push_secret: String,
    pub linked_by: String,
    pub updated: i64,
}

#[derive(Template)]
#[template(path = "build_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    head: Head,
    enabled: bool,
    source: Option<SourceView>,
    form: SourceForm,
    rules: Vec<RuleRow>,
    /// Whether `file://` sources are offered (to site administrators).
    site_admin: bool,
    /// The section an error belongs to (`source`, `rules`, `unlink`), and the error.
    error: Option<(&'static str, String)>,
    notice: Option<&'static str>,
}

impl SettingsPage {
    fn error_for(&self, section: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(s, _)| *s == section)
            .map(|(_, m)| m.as_str())
    }

    fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// What went wrong in a settings form, and the rules editor as it was typed.
#[derive(Default)]
pub struct Refused {
    pub error: Option<(&'static str, String)>,
    pub form: Option<SourceForm>,
    pub rules: Option<Vec<RuleRow>>,
}

/// The notice after a settings form was saved (`?saved=…`): fixed texts only.
pub fn saved_notice(saved: Option<&str>) -> Option<&'static str> {
    match saved? {
        "source" => Some("Source saved."),
        "rules" => Some("Build rules saved."),
        "unlinked" => Some("Source unlinked. The build history stays."),
        _ => None,
    }
}

/// `GET …/settings/builds`, or the page again with a refused form.
#[allow(clippy::too_many_arguments)]
pub async fn settings(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    builds: &Builds,
    repo: &Repo,
    refused: Refused,
    notice: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    require_admin(repo)?;
    let name = &repo.settings.repository;
    let source = sources::get(builds, name).await?;
    let stored_rules = source.as_ref().map_or_else(Vec::new, |s| {
        s.rules
            .iter()
            .enumerate()
            .map(|(i, r)| RuleRow::of(i, r))
            .collect()
    });
    let rules = refused.rules.unwrap_or_else(|| {
        let mut rows = stored_rules;
        rows.push(RuleRow::blank(rows.len()));
        rows
    });
    let form = refused.form.unwrap_or_else(|| match &source {
        Some(s) => SourceForm {
            url: s.url.clone(),
            username: s.username.clone(),
            base_rebuild: s.base_rebuild,
        },
        None => SourceForm::default(),
    });
    let status = if refused.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = SettingsPage {
        chrome: viewer.chrome.clone(),
        head: head(accounts, hub, site, viewer, repo, "settings").await?,
        enabled: builds.config.enabled(),
        source: source.map(|s| SourceView {
            ssh: s.scheme == Scheme::Ssh,
            url: s.url,
            has_password: s.has_password,
            deploy_key: s.deploy_key,
            push_url: s.push_url,
            push_secret: s.push_secret,
            linked_by: s.linked_by,
            updated: s.updated_at,
        }),
        form,
        rules,
        site_admin: viewer.user.as_ref().is_some_and(|u| u.is_admin),
        error: refused.error,
        notice,
    };
    render(viewer, status, &view)
}

/// `POST …/settings/builds[/rules|/unlink]`, by an administrator past the CSRF check.
#[allow(clippy::too_many_arguments)]
pub async fn settings_post(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    builds: &Builds,
    repo: &Repo,
    user: &User,
    action: &[&str],
    form: &BuildsForm,
) -> Result<HttpResponse, PageError> {
    require_admin(repo)?;
    let name = repo.settings.repository.as_str();
    let here = format!("{}/settings/builds", super::repository_url(name));
    let again =
        |refused: Refused| settings(viewer, accounts, hub, site, builds, repo, refused, None);
    match action {
        [] => {
            let typed = SourceForm {
                url: form.source_url.clone().unwrap_or_default(),
                username: form.source_username.clone().unwrap_or_default(),
                base_rebuild: form.base_rebuild.is_some(),
            };
            let password = if form.remove_password.is_some() {
                Some(String::new())
            } else {
                form.source_password.clone().filter(|p| !p.is_empty())
            };
            let input = SourceInput {
                url: typed.url.clone(),
                username: Some(typed.username.clone()),
                password,
                new_deploy_key: form.new_deploy_key.is_some(),
                base_rebuild: Some(typed.base_rebuild),
                rules: None,
            };
            match sources::link(builds, &user.name, user.is_admin, name, input).await {
                Ok(_) => Ok(see_other(&format!("{here}?saved=source#source"))),
                Err(e) => {
                    let error = Some(("source", inline(e)?));
                    again(Refused {
                        error,
                        form: Some(typed),
                        rules: None,
                    })
                    .await
                }
            }
        }
        ["rules"] => {
            let rows = rows_of(form)?;
            let wanted: Result<Vec<Rule>, String> = rows
                .iter()
                .filter(|r| !r.remove && !r.is_blank())
                .map(RuleRow::rule)
                .collect();
            let result = match wanted {
                Ok(wanted) => sources::set_rules(builds, &user.name, name, wanted)
                    .await
                    .map(|_| ()),
                Err(message) => Err(berth_accounts::Error::Invalid(message)),
            };
            match result {
                Ok(()) => Ok(see_other(&format!("{here}?saved=rules#rules"))),
                Err(e) => {
                    let error = Some(("rules", inline(e)?));
                    again(Refused {
                        error,
                        form: None,
                        rules: Some(rows),
                    })
                    .await
                }
            }
        }
        ["unlink"] => {
            if form.confirm_unlink.is_none() {
                let error = Some((
                    "unlink",
                    "Tick \u{201c}Yes, unlink this source\u{201d} to confirm.".to_owned(),
                ));
                return again(Refused {
                    error,
                    ..Refused::default()
                })
                .await;
            }
            sources::unlink(builds, &user.name, name).await?;
            Ok(see_other(&format!("{here}?saved=unlinked")))
        }
        _ => Err(PageError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(61), "1m 1s");
        assert_eq!(duration(3 * 3600 + 120 + 5), "3h 2m");
    }
}
