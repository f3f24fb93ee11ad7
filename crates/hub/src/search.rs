//! Finding repositories: the one seam between Berth and each database's own text search
//! (SQLite FTS5; PostgreSQL full text with `pg_trgm` for partial names), over namespaces, names
//! and short descriptions. Every listing of
//! repositories — search, explore, a user's or an organization's page — goes through here, with
//! the caller's visibility in the query itself, so nothing private is counted or returned.

use sqlx::Row;

use berth_accounts::repos::{self, RepoSettings};
use berth_registry::backend::Backend;

use crate::{Hub, Result};
use berth_accounts::visibility::Viewer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Best match first (most starred first when there is no text).
    #[default]
    Relevance,
    Stars,
    Pulls,
    /// Most recently pushed first.
    Pushed,
    Name,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "relevance" | "best_match" => Sort::Relevance,
            "stars" | "star_count" => Sort::Stars,
            "pulls" | "pull_count" => Sort::Pulls,
            "pushed" | "last_pushed" | "updated" => Sort::Pushed,
            "name" => Sort::Name,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Stars => "stars",
            Sort::Pulls => "pulls",
            Sort::Pushed => "pushed",
            Sort::Name => "name",
        }
    }
}

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    /// Free text; empty lists everything visible.
    pub text: &'a str,
    /// Only repositories of this namespace.
    pub namespace: Option<&'a str>,
    /// Only repositories with signed images: a tag carries a cosign or Notation signature and the
    /// namespace has signing keys to check it with, or the repository has Docker Content Trust
    /// data (each tag's page tells whether its signatures verify).
    pub signed: bool,
    pub sort: Sort,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Matching repositories the caller may see, in all, counted up to [`COUNT_CAP`].
    pub total: i64,
    /// More than [`COUNT_CAP`] match (then `total` is `COUNT_CAP + 1`).
    pub total_capped: bool,
    pub repositories: Vec<RepoSettings>,
}

/// Matches are counted up to this many.
pub const COUNT_CAP: i64 = 1_000;

/// The most words of a query that are searched for.
const MAX_WORDS: usize = 8;
/// Longest word searched for, in characters.
const MAX_WORD: usize = 64;

/// The words of a query: runs of letters and digits, lowercased. Everything else separates
/// words, so nothing the user types reaches a query language unescaped.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(|w| w.chars().take(MAX_WORD).collect::<String>().to_lowercase())
        .collect()
}

/// A statement with numbered placeholders and the values for them.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Sql {
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// A query matching more repositories than this is "broad": ranking every match by text
/// relevance would cost more than the page is worth, so its best matches are its most starred
/// ones, read in the order of the stars index until the page is full.
pub const RANK_LIMIT: i64 = 500;

/// The text-search expression in each backend's own language, built from plain words only.
fn match_expression(backend: Backend, words: &[String]) -> String {
    match backend {
        // A one-letter prefix would match most of the index: it must be a whole word.
        Backend::Sqlite => words
            .iter()
            .map(|w| match w.chars().count() {
                1 => format!("\"{w}\""),
                _ => format!("\"{w}\"*"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Backend::Postgres => words
            .iter()
            .map(|w| match w.chars().count() {
                1 => w.clone(),
                _ => format!("{w}:*"),
            })
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

/// How many repositories match the text (visible or not), counted only up to
/// `RANK_LIMIT + 1`: enough to choose how to rank.
async fn breadth(hub: &Hub, backend: Backend, expr: &str) -> Result<i64> {
    let pool = &hub.pool;
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM (SELECT 1 FROM repository_search
             WHERE repository_search MATCH $1 LIMIT $2) c"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM (SELECT 1 FROM repository_settings
             WHERE search @@ to_tsquery('simple', $1) LIMIT $2) c"
        }
    };
    Ok(sqlx::query_scalar(sql)
        .bind(expr)
        .bind(RANK_LIMIT + 1)
        .fetch_one(pool)
        .await?)
}

/// `FROM … WHERE …` of a search: the text match (see [`search`] for the broad form), the
/// viewer's visibility and the namespace.
fn filter_sql(
    backend: Backend,
    words: &[String],
    expr: &str,
    broad: bool,
    viewer: &Viewer,
    query: &Query<'_>,
) -> Sql {
    let matching = !words.is_empty();
    let expr = expr.to_owned();
    let mut filter = Sql::default();
    // FROM and the text match. A narrow query joins its few matches and ranks them all; a
    // broad one walks repositories in the sort's index order and keeps those that match.
    match (backend, matching, broad) {
        (_, false, _) => filter.push(" FROM repository_settings rs WHERE 1 = 1"),
        (Backend::Sqlite, true, false) => {
            let p = filter.param(Bind::Text(expr));
            filter.push(&format!(
                " FROM repository_search JOIN repository_settings rs
                  ON rs.rowid = repository_search.rowid
                  WHERE repository_search MATCH {p}"
            ));
        }
        (Backend::Sqlite, true, true) => {
            // SQLite would rather sort every match; walking the sort's index and looking each
            // row up in the (once materialized) match list stops after one page.
            let index = match query.sort {
                Sort::Relevance | Sort::Stars => " INDEXED BY repository_settings_stars",
                Sort::Pulls => " INDEXED BY repository_settings_pulls",
                Sort::Pushed => " INDEXED BY repository_settings_pushed",
                Sort::Name => "",
            };
            let p = filter.param(Bind::Text(expr));
            filter.push(&format!(
                " FROM repository_settings rs{index} WHERE rs.rowid IN
                  (SELECT rowid FROM repository_search WHERE repository_search MATCH {p})"
            ));
        }
        (Backend::Postgres, true, _) => {
            let p = filter.param(Bind::Text(expr));
            filter.push(&format!(
                " FROM repository_settings rs, to_tsquery('simple', {p}) tsq
                  WHERE (rs.search @@ tsq"
            ));
            // Partial words inside names ("ngin" finds "nginx-proxy") through the trigram
            // index, which needs three characters to be of use.
            if !broad && words.iter().all(|w| w.chars().count() >= 3) {
                let p = filter.param(Bind::Text(format!("%{}%", words.join("%"))));
                filter.push(&format!(" OR rs.repository ILIKE {p}"));
            }
            filter.push(")");
        }
    }
    let (visible, binds) = viewer.condition("rs", filter.binds.len() + 1);
    filter.binds.extend(binds.into_iter().map(Bind::Text));
    filter.push(&format!(" AND {visible}"));
    if let Some(ns) = query.namespace {
        let p = filter.param(Bind::Text(ns.to_owned()));
        filter.push(&format!(" AND rs.namespace = {p}"));
    }
    if query.signed {
        filter.push(
            " AND ((EXISTS (SELECT 1 FROM repositories r JOIN tags t ON t.repository_id = r.id
                           WHERE r.name = rs.repository AND t.name LIKE 'sha256-%.sig')
                    OR EXISTS (SELECT 1 FROM repositories r JOIN manifests m
                                 ON m.repository_id = r.id
                               WHERE r.name = rs.repository
                                 AND m.artifact_type = 'application/vnd.cncf.notary.signature'))
                   AND EXISTS (SELECT 1 FROM signing_keys k WHERE k.namespace = rs.namespace)
                   OR EXISTS (SELECT 1 FROM tuf_files f
                              WHERE f.repository = rs.repository AND f.role = 'targets'))",
        );
    }

    filter
}

/// Searches the repositories `viewer` may see.
pub async fn search(hub: &Hub, viewer: &Viewer, query: &Query<'_>) -> Result<Results> {
    let pool = &hub.pool;
    let backend = Backend::of_pool(pool);
    let words = words(query.text);
    let matching = !words.is_empty();
    let expr = match_expression(backend, &words);
    // Within one namespace the matches are few whatever the words: rank them.
    let broad =
        matching && query.namespace.is_none() && breadth(hub, backend, &expr).await? > RANK_LIMIT;
    let filter = filter_sql(backend, &words, &expr, broad, viewer, query);
    let ranked = matching && !broad && query.sort == Sort::Relevance;
    let order = match (query.sort, backend) {
        // The index's rank is bm25 weighted towards names (see the migration).
        (Sort::Relevance, Backend::Sqlite) if ranked => {
            "repository_search.rank, rs.star_count DESC, rs.repository"
        }
        (Sort::Relevance, Backend::Postgres) if ranked => {
            "ts_rank(rs.search, tsq) DESC, rs.star_count DESC, rs.repository"
        }
        (Sort::Relevance | Sort::Stars, _) => "rs.star_count DESC, rs.repository",
        (Sort::Pulls, _) => "rs.pull_count DESC, rs.repository",
        // SQLite sorts NULL lowest already; PostgreSQL must be told.
        (Sort::Pushed, Backend::Sqlite) => "rs.last_pushed_at DESC, rs.repository",
        (Sort::Pushed, Backend::Postgres) => "rs.last_pushed_at DESC NULLS LAST, rs.repository",
        (Sort::Name, _) => "rs.repository",
    };
    let mut page = Sql {
        text: format!(
            "SELECT {}{} ORDER BY {order}",
            repos::columns_of("rs"),
            filter.text
        ),
        binds: filter.binds.clone(),
    };
    let page_size = query.limit.clamp(1, 100);
    let limit = page.param(Bind::Int(page_size));
    let offset = page.param(Bind::Int(query.offset.max(0)));
    page.push(&format!(" LIMIT {limit} OFFSET {offset}"));
    let repositories: Vec<RepoSettings> = page
        .query()
        .fetch_all(pool)
        .await?
        .iter()
        .map(repos::settings)
        .collect::<Result<_>>()?;

    // A page that is not full tells the total itself; otherwise count, but only so far:
    // "1000+" is all anyone needs to know, and counting every match of a common word
    // would cost more than the page.
    let shown = repositories.len() as i64;
    let total = if shown > 0 && shown < page_size {
        query.offset + shown
    } else {
        // Counting follows the matches themselves, which stops early.
        let counted = filter_sql(backend, &words, &expr, false, viewer, query);
        let mut count = Sql {
            text: format!(
                "SELECT COUNT(*) AS matches FROM (SELECT 1{} LIMIT ",
                counted.text
            ),
            binds: counted.binds,
        };
        let cap = count.param(Bind::Int(COUNT_CAP + 1));
        count.push(&format!("{cap}) c"));
        count.query().fetch_one(pool).await?.try_get("matches")?
    };
    Ok(Results {
        total: total.min(COUNT_CAP + 1),
        total_capped: total > COUNT_CAP,
        repositories,
    })
}

/// A page of the repositories of `namespaces` (a user's own and their organizations') that
/// `viewer` may see, most recently pushed or created first: a signed-in person's dashboard.
/// The namespace index narrows the rows to those namespaces before anything is sorted.
pub async fn in_namespaces(
    hub: &Hub,
    viewer: &Viewer,
    namespaces: &[String],
    offset: i64,
    limit: i64,
) -> Result<Vec<RepoSettings>> {
    if namespaces.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::default();
    let list: Vec<String> = namespaces
        .iter()
        .map(|n| sql.param(Bind::Text(n.clone())))
        .collect();
    let (visible, binds) = viewer.condition("rs", sql.binds.len() + 1);
    sql.binds.extend(binds.into_iter().map(Bind::Text));
    sql.push(&format!(
        "SELECT {} FROM repository_settings rs WHERE rs.namespace IN ({}) AND {visible}
         ORDER BY COALESCE(rs.last_pushed_at, rs.created_at) DESC, rs.repository",
        repos::columns_of("rs"),
        list.join(", ")
    ));
    let limit = sql.param(Bind::Int(limit.clamp(1, 100)));
    let offset = sql.param(Bind::Int(offset.max(0)));
    sql.push(&format!(" LIMIT {limit} OFFSET {offset}"));
    sql.query()
        .fetch_all(&hub.pool)
        .await?
        .iter()
        .map(repos::settings)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{words, Sort};

    #[test]
    fn words_are_letters_and_digits_only() {
        assert_eq!(words("Nginx-Proxy  v2"), ["nginx", "proxy", "v2"]);
        assert_eq!(words("\"a\"* OR b:* & c"), ["a", "or", "b", "c"]);
        assert!(words("  -- ").is_empty());
        assert_eq!(words(&"w ".repeat(20)).len(), 8);
    }

    #[test]
    fn sorts_parse() {
        assert_eq!(Sort::parse("stars"), Some(Sort::Stars));
        assert_eq!(Sort::parse(""), Some(Sort::Relevance));
        assert_eq!(Sort::parse("password_hash"), None);
    }
}
