//! A repository's tags tab and a tag's own page: size, platforms, who pushed it and when,
//! whether a rule makes it immutable; layers, configuration, build history and the manifest
//! itself.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use berth_accounts::Accounts;
use berth_hub::Hub;
use berth_registry::lifecycle::immutable::{self, Matcher};
use berth_registry::names::namespace_of;
use berth_registry::Registry;
use berth_trust::signatures::TrustedKey;
use berth_trust::{signing, Trust};

use super::filters;
use super::repo_head::{head, Head, Repo};
use super::{render, time, Chrome, PageError, Viewer};
use crate::images::{self, human_size, ImageConfig, TagSummary};
use crate::Site;

const PER_PAGE: i64 = 25;

/// The keys a repository's signatures are checked against: its namespace's.
async fn trusted_keys(trust: &Trust, name: &str) -> Result<Vec<TrustedKey>, PageError> {
    Ok(signing::trusted(trust, namespace_of(name).unwrap_or(name)).await?)
}

pub struct TagRow {
    pub name: String,
    pub url: String,
    pub digest: String,
    pub short_digest: String,
    pub size: String,
    pub platforms: String,
    /// When it was last pushed (Unix seconds).
    pub pushed: i64,
    pub pushed_by: Option<String>,
    pub pull_command: String,
    /// The key that signed it, when a signature verifies.
    pub signer: Option<String>,
    /// Whether it carries signatures at all.
    pub has_signatures: bool,
    /// What the signatures say, for the badge's title.
    pub signature_note: String,
    /// The rule that makes it immutable, if one does.
    pub immutable: Option<String>,
}

/// One line per signature: who signed and when, or why it does not verify.
fn signature_note(t: &TagSummary) -> String {
    t.signatures
        .iter()
        .map(|s| {
            let when = s
                .signed_at
                .map(|at| format!(" on {}", time::date_time(at)))
                .unwrap_or_default();
            match (s.verified, s.format, &s.signer, &s.problem) {
                (true, "notary", Some(role), _) => {
                    format!("signed through Docker Content Trust by the {role} role{when}")
                }
                (true, _, Some(key), _) => format!("signed with the key {key}{when}"),
                (_, _, _, Some(problem)) => format!("a signature that does not verify: {problem}"),
                _ => "a signature that does not verify".to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn row(head: &Head, host: &str, rules: &Matcher, t: &TagSummary) -> TagRow {
    TagRow {
        immutable: rules.is_immutable(&t.name).map(ToString::to_string),
        url: format!("{}/tags/{}", head.url, t.name),
        short_digest: short(&t.digest),
        digest: t.digest.clone(),
        size: human_size(t.size),
        platforms: if t.platforms.is_empty() {
            "—".to_owned()
        } else {
            t.platforms.join(", ")
        },
        pushed: t.pushed_at,
        pushed_by: t.pushed_by.clone(),
        pull_command: format!("docker pull {host}/{}:{}", head.name, t.name),
        name: t.name.clone(),
        signer: t
            .signatures
            .iter()
            .find(|s| s.verified)
            .and_then(|s| s.signer.clone()),
        has_signatures: !t.signatures.is_empty(),
        signature_note: signature_note(t),
    }
}

#[derive(Template)]
#[template(path = "repo_tags.html")]
struct TagsPage {
    chrome: Chrome,
    head: Head,
    tags: Vec<TagRow>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    notice: Option<&'static str>,
    /// Whether the viewer may delete tags here (an administrator, where deletes are on).
    deletable: bool,
}

#[allow(clippy::too_many_arguments)]
pub async fn list(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    registry: &Registry,
    trust: &Trust,
    repo: &Repo,
    page: i64,
    notice: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let mut head = head(accounts, hub, site, viewer, repo, "tags").await?;
    let name = &repo.settings.repository;
    let (total, details) = registry
        .meta()
        .tag_details(name, (page - 1) * PER_PAGE, PER_PAGE)
        .await?
        .unwrap_or_default();
    head.empty = total == 0;
    let keys = trusted_keys(trust, name).await?;
    let summaries = images::summarize(registry, trust, name, &details, &keys).await?;
    let rules = immutable::matcher(registry, name).await?;
    let url = |p: i64| format!("{}/tags?page={p}", head.url);
    let view = TagsPage {
        chrome: viewer.chrome.clone(),
        tags: summaries
            .iter()
            .map(|t| row(&head, site.registry_host(), &rules, t))
            .collect(),
        total,
        page,
        prev_url: (page > 1).then(|| url(page - 1)),
        next_url: (page * PER_PAGE < total).then(|| url(page + 1)),
        notice,
        deletable: head.admin && registry.config().delete_enabled,
        head,
    };
    render(viewer, StatusCode::OK, &view)
}

pub struct LayerRow {
    pub index: usize,
    pub digest: String,
    pub short_digest: String,
    pub size: String,
    pub media_type: String,
}

pub struct PlatformRow {
    pub platform: String,
    pub digest: String,
    pub short_digest: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "repo_tag.html")]
struct TagPage {
    chrome: Chrome,
    head: Head,
    tag: TagRow,
    media_type: String,
    layers: Vec<LayerRow>,
    platforms: Vec<PlatformRow>,
    config: Option<ImageConfig>,
    manifest: String,
    /// A delete was posted without the tag's name typed to confirm it.
    unconfirmed: bool,
    deletable: bool,
}

#[allow(clippy::too_many_arguments)]
pub async fn detail(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    registry: &Registry,
    trust: &Trust,
    repo: &Repo,
    tag: &str,
    unconfirmed: bool,
) -> Result<HttpResponse, PageError> {
    let name = &repo.settings.repository;
    let detail = registry
        .meta()
        .tag_detail(name, tag)
        .await?
        .ok_or_else(PageError::not_found)?;
    let keys = trusted_keys(trust, name).await?;
    let view = images::view(registry, trust, name, &detail, &keys).await?;
    let mut head = head(accounts, hub, site, viewer, repo, "tags").await?;
    head.empty = false;
    head.pull_command = format!("docker pull {}:{}", head.image, view.summary.name);
    head.pull_by_digest = Some(format!(
        "docker pull {}@{}",
        head.image, view.summary.digest
    ));
    let rules = immutable::matcher(registry, name).await?;
    let page = TagPage {
        chrome: viewer.chrome.clone(),
        tag: row(&head, site.registry_host(), &rules, &view.summary),
        media_type: view.summary.media_type.clone(),
        layers: view
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerRow {
                index: i + 1,
                short_digest: short(&l.digest),
                digest: l.digest.clone(),
                size: human_size(l.size),
                media_type: l.media_type.clone(),
            })
            .collect(),
        platforms: view
            .images
            .iter()
            .map(|p| PlatformRow {
                platform: p.platform.clone(),
                short_digest: short(&p.digest),
                digest: p.digest.clone(),
                size: p.size.map_or_else(|| "—".to_owned(), human_size),
            })
            .collect(),
        config: view.config,
        manifest: view.manifest,
        unconfirmed,
        deletable: head.admin && registry.config().delete_enabled,
        head,
    };
    render(viewer, StatusCode::OK, &page)
}

/// The most recently pushed tags of a repository, for its overview, and how many it has.
pub async fn recent(
    registry: &Registry,
    trust: &Trust,
    head: &Head,
    host: &str,
    limit: i64,
) -> Result<(i64, Vec<TagRow>), PageError> {
    let name = &head.name;
    let (total, details) = registry
        .meta()
        .tag_details(name, 0, limit)
        .await?
        .unwrap_or_default();
    if details.is_empty() {
        return Ok((total, Vec::new()));
    }
    let keys = trusted_keys(trust, name).await?;
    let summaries = images::summarize(registry, trust, name, &details, &keys).await?;
    let rules = immutable::matcher(registry, name).await?;
    Ok((
        total,
        summaries
            .iter()
            .map(|t| row(head, host, &rules, t))
            .collect(),
    ))
}
