//! Search (`/search?q=`): repositories by namespace, name and short description, sorted and
//! filtered, through the accounts crate's one search seam (the viewer's visibility is part of
//! the query, so nothing private is ever counted or listed for outsiders).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::repos::RepoSettings;
use berth_accounts::Accounts;
use berth_hub::search::{self, Sort, COUNT_CAP};
use berth_hub::Hub;
use serde::Deserialize;

use super::filters;
use super::forms::PageNumber;
use super::{render, Chrome, PageError, Viewer};

pub const PER_PAGE: i64 = 25;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    namespace: String,
    /// The "signed images only" box: present when ticked.
    signed: Option<String>,
    page: Option<PageNumber>,
}

/// A repository as lists of them show it.
pub struct Card {
    pub name: String,
    pub url: String,
    pub private: bool,
    pub description: String,
    pub stars: i64,
    pub pulls: i64,
    /// When it was last pushed (Unix seconds), if ever.
    pub pushed: Option<i64>,
}

impl Card {
    pub fn of(s: &RepoSettings) -> Card {
        Card {
            url: super::repository_url(&s.repository),
            name: s.repository.clone(),
            private: s.private,
            description: s.description.clone(),
            stars: s.star_count,
            pulls: s.pull_count,
            pushed: s.last_pushed_at,
        }
    }
}

pub struct SortOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    namespace: String,
    signed: bool,
    sorts: Vec<SortOption>,
    results: Vec<Card>,
    total: String,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

fn url(q: &str, sort: Sort, namespace: &str, signed: bool, page: i64) -> String {
    let mut u = format!("/search?q={}", encode(q));
    if sort != Sort::Relevance {
        u.push_str("&sort=");
        u.push_str(sort.as_str());
    }
    if !namespace.is_empty() {
        u.push_str("&namespace=");
        u.push_str(&encode(namespace));
    }
    if signed {
        u.push_str("&signed=on");
    }
    if page > 1 {
        u.push_str(&format!("&page={page}"));
    }
    u
}

/// Percent-encodes a query-string value.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let sort = Sort::parse(&query.sort).ok_or_else(|| {
        PageError::bad_request("Sort by relevance, stars, pulls, last pushed or name.")
    })?;
    let page = query.page.map_or(1, |p| p.0).clamp(1, 400);
    let namespace = query.namespace.trim();
    let signed = query.signed.is_some();
    let visible = accounts.viewer(&viewer.identity()).await?;
    let found = search::search(
        &hub,
        &visible,
        &search::Query {
            text: &query.q,
            namespace: (!namespace.is_empty()).then_some(namespace),
            signed,
            sort,
            offset: (page - 1) * PER_PAGE,
            limit: PER_PAGE,
        },
    )
    .await?;
    let total = if found.total_capped {
        format!("{COUNT_CAP}+")
    } else {
        found.total.to_string()
    };
    let has_next = page * PER_PAGE < found.total;
    let sorts = [
        (Sort::Relevance, "Best match"),
        (Sort::Stars, "Most stars"),
        (Sort::Pulls, "Most pulls"),
        (Sort::Pushed, "Recently pushed"),
        (Sort::Name, "Name"),
    ]
    .into_iter()
    .map(|(s, label)| SortOption {
        value: s.as_str(),
        label,
        selected: s == sort,
    })
    .collect();
    let page_view = SearchPage {
        chrome: viewer.chrome.clone(),
        q: query.q.clone(),
        namespace: namespace.to_owned(),
        signed,
        sorts,
        results: found.repositories.iter().map(Card::of).collect(),
        total,
        page,
        prev_url: (page > 1).then(|| url(&query.q, sort, namespace, signed, page - 1)),
        next_url: has_next.then(|| url(&query.q, sort, namespace, signed, page + 1)),
    };
    render(&viewer, StatusCode::OK, &page_view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_query() {
        assert_eq!(
            url("a b&c", Sort::Stars, "acme", true, 2),
            "/search?q=a%20b%26c&sort=stars&namespace=acme&signed=on&page=2"
        );
        assert_eq!(url("", Sort::Relevance, "", false, 1), "/search?q=");
    }
}
