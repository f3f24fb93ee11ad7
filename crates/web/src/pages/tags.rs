//! A repository's tags tab and a tag's own page: size, platforms, who pushed it and when,
//! when it was last pulled, whether a rule makes it immutable; layers beside the build history
//! that made them, configuration and the manifest itself; each platform of a multi-platform
//! tag on a page of its own; and the page that confirms a tag's deletion.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use berth_accounts::Accounts;
use berth_hub::Hub;
use berth_registry::lifecycle::immutable::{self, Matcher};
use berth_registry::meta::{TagDetail, TagFilter, TagOrder};
use berth_registry::names::namespace_of;
use berth_registry::Registry;
use berth_trust::signatures::TrustedKey;
use berth_trust::{signing, Trust};
use futures_util::future::try_join;

use super::filters;
use super::repo_head::{head, Head, Repo};
use super::search::encode;
use super::{render, time, Chrome, PageError, Viewer};
use crate::images::{self, human_size, ImageConfig, Layer, Step, TagSummary};
use crate::Site;

const PER_PAGE: i64 = 25;

/// Longest filter read from the address (a tag is at most 128 characters).
const MAX_FILTER: usize = 128;

/// The keys a repository's signatures are checked against: its namespace's.
async fn trusted_keys(trust: &Trust, name: &str) -> Result<Vec<TrustedKey>, PageError> {
    Ok(signing::trusted(trust, namespace_of(name).unwrap_or(name)).await?)
}

pub struct TagRow {
    pub name: String,
    pub url: String,
    pub digest: String,
    pub short_digest: String,
    /// The compressed size; for an index, its platforms' own sizes (never their sum).
    pub size: String,
    /// Whether `size` is per platform (an index).
    pub per_platform: bool,
    /// One chip each: `linux/amd64`.
    pub platforms: Vec<String>,
    /// When it was last pushed (Unix seconds).
    pub pushed: i64,
    pub pushed_by: Option<String>,
    /// When it was last pulled (Unix seconds), if ever.
    pub last_pulled: Option<i64>,
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

/// An index's size for people: each platform's own, as a range when they differ.
fn platform_sizes(sizes: &[i64]) -> String {
    match (sizes.iter().min(), sizes.iter().max()) {
        (Some(&min), Some(&max)) if min == max => format!("{} each", human_size(min)),
        (Some(&min), Some(&max)) => format!("{} – {}", human_size(min), human_size(max)),
        _ => "—".to_owned(),
    }
}

fn row(head: &Head, host: &str, rules: &Matcher, t: &TagSummary) -> TagRow {
    let per_platform = t.media_type.contains("index") || t.media_type.contains("list");
    TagRow {
        immutable: rules.is_immutable(&t.name).map(ToString::to_string),
        url: format!("{}/tags/{}", head.url, t.name),
        short_digest: short(&t.digest),
        digest: t.digest.clone(),
        size: if per_platform {
            platform_sizes(&t.platform_sizes)
        } else {
            human_size(t.size)
        },
        per_platform,
        platforms: t.platforms.clone(),
        pushed: t.pushed_at,
        pushed_by: t.pushed_by.clone(),
        last_pulled: t.last_pulled_at,
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
    /// `31 tags`, or `3 of 31 tags match`.
    count: String,
    total: i64,
    /// The filter, as typed.
    q: String,
    /// `newest` or `name`.
    sort: &'static str,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    notice: Option<&'static str>,
    /// Whether the viewer may delete tags here (an administrator, where deletes are on).
    deletable: bool,
}

/// What the tags tab's address asks for: `?q=` (part of a tag's name, any case) and
/// `?sort=` (`newest`, the default, or `name`).
pub struct Listing {
    pub q: String,
    pub sort: TagOrder,
    pub page: i64,
}

impl Listing {
    pub fn new(q: Option<&str>, sort: Option<&str>, page: i64) -> Self {
        Listing {
            q: q.unwrap_or("").trim().chars().take(MAX_FILTER).collect(),
            sort: match sort {
                Some("name") => TagOrder::Name,
                _ => TagOrder::Newest,
            },
            page,
        }
    }

    fn sort_name(&self) -> &'static str {
        match self.sort {
            TagOrder::Name => "name",
            TagOrder::Newest => "newest",
        }
    }

    /// The tab's address for page `page`, keeping the filter and the order.
    fn url(&self, base: &str, page: i64) -> String {
        let mut u = format!("{base}/tags?");
        if !self.q.is_empty() {
            u.push_str(&format!("q={}&", encode(&self.q)));
        }
        if self.sort != TagOrder::Newest {
            u.push_str(&format!("sort={}&", self.sort_name()));
        }
        u.push_str(&format!("page={page}"));
        u
    }
}

fn count_text(total: i64, matching: i64, filtered: bool) -> String {
    let tags = |n: i64| if n == 1 { "tag" } else { "tags" };
    if filtered {
        let verb = if matching == 1 { "matches" } else { "match" };
        format!("{matching} of {total} {} {verb}", tags(total))
    } else {
        format!("{total} {}", tags(total))
    }
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
    listing: &Listing,
    notice: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    let name = &repo.settings.repository;
    let page = listing.page;
    // The page's tags are read while the header is.
    let found = async {
        let found = registry
            .meta()
            .tag_page(
                name,
                TagFilter {
                    filter: &listing.q,
                    order: listing.sort,
                    offset: (page - 1) * PER_PAGE,
                    limit: PER_PAGE,
                },
            )
            .await?;
        Ok::<_, PageError>(found.unwrap_or_default())
    };
    let (mut head, found) =
        try_join(head(accounts, hub, site, viewer, repo, "tags"), found).await?;
    head.empty = found.total == 0;
    let tags = rows(registry, trust, &head, site.registry_host(), &found.tags).await?;
    let view = TagsPage {
        chrome: viewer.chrome.clone(),
        tags,
        count: count_text(found.total, found.matching, !listing.q.is_empty()),
        total: found.total,
        q: listing.q.clone(),
        sort: listing.sort_name(),
        page,
        prev_url: (page > 1).then(|| listing.url(&head.url, page - 1)),
        next_url: (page * PER_PAGE < found.matching).then(|| listing.url(&head.url, page + 1)),
        notice,
        deletable: head.admin && registry.config().delete_enabled,
        head,
    };
    render(viewer, StatusCode::OK, &view)
}

#[derive(Template)]
#[template(path = "tag_delete.html")]
struct DeletePage {
    chrome: Chrome,
    head: Head,
    tag: TagRow,
}

/// `GET …/tags/{tag}/delete`: asks before a tag is deleted (the form posts to the same
/// address). Only the repository's administrators see it; to anyone else it does not exist.
#[allow(clippy::too_many_arguments)]
pub async fn confirm_delete(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    registry: &Registry,
    trust: &Trust,
    repo: &Repo,
    tag: &str,
) -> Result<HttpResponse, PageError> {
    let head = head(accounts, hub, site, viewer, repo, "tags").await?;
    if !head.admin || !registry.config().delete_enabled {
        return Err(PageError::not_found());
    }
    let name = &repo.settings.repository;
    let detail = registry
        .meta()
        .tag_detail(name, tag)
        .await?
        .ok_or_else(PageError::not_found)?;
    let tag = rows(registry, trust, &head, site.registry_host(), &[detail])
        .await?
        .pop()
        .ok_or_else(PageError::not_found)?;
    let page = DeletePage {
        chrome: viewer.chrome.clone(),
        tag,
        head,
    };
    render(viewer, StatusCode::OK, &page)
}

pub struct LayerRow {
    pub index: usize,
    pub digest: String,
    pub short_digest: String,
    pub size: String,
    pub media_type: String,
}

/// A line of the build history beside the layer it made.
pub struct StepRow {
    /// What made it (`None`: a layer the history does not mention).
    pub created_by: Option<String>,
    pub created: Option<String>,
    /// Its layer; `None`: the step made none (`empty_layer`).
    pub layer: Option<LayerRow>,
}

pub struct PlatformRow {
    pub platform: String,
    pub digest: String,
    pub short_digest: String,
    pub size: String,
    /// The platform's own page.
    pub url: String,
}

/// Layers with the history that made them; without a config, the layers alone.
fn step_rows(layers: &[Layer], config: Option<&ImageConfig>) -> Vec<StepRow> {
    let history = config.map_or(&[][..], |c| &c.history[..]);
    let mut index = 0;
    images::steps(layers, history)
        .into_iter()
        .map(|s: Step| StepRow {
            created_by: s.history.as_ref().map(|h| h.created_by.clone()),
            created: s.history.and_then(|h| h.created),
            layer: s.layer.map(|l| {
                index += 1;
                LayerRow {
                    index,
                    short_digest: short(&l.digest),
                    size: human_size(l.size),
                    digest: l.digest,
                    media_type: l.media_type,
                }
            }),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "repo_tag.html")]
struct TagPage {
    chrome: Chrome,
    head: Head,
    tag: TagRow,
    media_type: String,
    steps: Vec<StepRow>,
    layer_count: usize,
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
    let tag_row = row(&head, site.registry_host(), &rules, &view.summary);
    let page = TagPage {
        chrome: viewer.chrome.clone(),
        media_type: view.summary.media_type.clone(),
        steps: step_rows(&view.layers, view.config.as_ref()),
        layer_count: view.layers.len(),
        platforms: view
            .images
            .iter()
            .map(|p| PlatformRow {
                platform: p.platform.clone(),
                short_digest: short(&p.digest),
                url: format!("{}/platforms/{}", tag_row.url, p.digest),
                digest: p.digest.clone(),
                size: p.size.map_or_else(|| "—".to_owned(), human_size),
            })
            .collect(),
        tag: tag_row,
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
    Ok((total, rows(registry, trust, head, host, &details).await?))
}

/// The rows of `details`, tags of `head`'s repository: summarized (platforms, sizes,
/// signatures checked against the namespace's keys) and marked with the immutability rule
/// that keeps each, if one does.
async fn rows(
    registry: &Registry,
    trust: &Trust,
    head: &Head,
    host: &str,
    details: &[TagDetail],
) -> Result<Vec<TagRow>, PageError> {
    let name = &head.name;
    let rules = async { Ok::<_, PageError>(immutable::matcher(registry, name).await?) };
    let (keys, rules) = try_join(trusted_keys(trust, name), rules).await?;
    let summaries = images::summarize(registry, trust, name, details, &keys).await?;
    Ok(summaries
        .iter()
        .map(|t| row(head, host, &rules, t))
        .collect())
}

#[derive(Template)]
#[template(path = "repo_platform.html")]
struct PlatformPage {
    chrome: Chrome,
    head: Head,
    tag: TagRow,
    platform: String,
    digest: String,
    size: String,
    media_type: String,
    pull_command: String,
    steps: Vec<StepRow>,
    layer_count: usize,
    config: Option<ImageConfig>,
    manifest: String,
}

/// `GET …/tags/{tag}/platforms/{digest}`: one platform of a multi-platform tag, with its own
/// size, layers, history and configuration.
#[allow(clippy::too_many_arguments)]
pub async fn platform(
    viewer: &Viewer,
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    registry: &Registry,
    trust: &Trust,
    repo: &Repo,
    tag: &str,
    digest: &str,
) -> Result<HttpResponse, PageError> {
    let name = &repo.settings.repository;
    let detail = registry
        .meta()
        .tag_detail(name, tag)
        .await?
        .ok_or_else(PageError::not_found)?;
    let image = images::platform(registry, name, &detail.content, digest)
        .await?
        .ok_or_else(PageError::not_found)?;
    let head = head(accounts, hub, site, viewer, repo, "tags").await?;
    let tag = rows(registry, trust, &head, site.registry_host(), &[detail])
        .await?
        .pop()
        .ok_or_else(PageError::not_found)?;
    let page = PlatformPage {
        chrome: viewer.chrome.clone(),
        tag,
        pull_command: format!(
            "docker pull {}/{}@{}",
            site.registry_host(),
            name,
            image.digest
        ),
        steps: step_rows(&image.layers, image.config.as_ref()),
        layer_count: image.layers.len(),
        size: human_size(image.size),
        platform: image.platform,
        digest: image.digest,
        media_type: image.media_type,
        config: image.config,
        manifest: image.manifest,
        head,
    };
    render(viewer, StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_sentences() {
        assert_eq!(count_text(31, 31, false), "31 tags");
        assert_eq!(count_text(1, 1, false), "1 tag");
        assert_eq!(count_text(31, 3, true), "3 of 31 tags match");
        assert_eq!(count_text(31, 1, true), "1 of 31 tags matches");
    }

    #[test]
    fn an_index_shows_its_platforms_sizes_not_their_sum() {
        assert_eq!(platform_sizes(&[1_500, 1_500]), "1.5 kB each");
        assert_eq!(platform_sizes(&[2_000, 1_500, 3_000]), "1.5 kB – 3.0 kB");
        assert_eq!(platform_sizes(&[]), "—");
    }

    #[test]
    fn paging_keeps_the_filter_and_the_order() {
        let l = Listing::new(Some(" la&t "), Some("name"), 2);
        assert_eq!(l.url("/r/a/b", 3), "/r/a/b/tags?q=la%26t&sort=name&page=3");
        let l = Listing::new(None, Some("bogus"), 1);
        assert_eq!(l.url("/r/a/b", 2), "/r/a/b/tags?page=2");
    }
}
