//! Form bodies and query strings: small, and a malformed one is a 400 page (in words) rather
//! than the API's JSON.

use actix_web::error::QueryPayloadError;
use actix_web::web;
use serde::{Deserialize, Deserializer};

use super::PageError;

/// A query string a page cannot read is the site's 400 page, saying in words which parameter
/// is wrong, never the parser's own text.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let why = match &err {
            QueryPayloadError::Deserialize(e) => bad_query(&e.to_string()),
            _ => None,
        };
        let message = match why {
            Some(why) => format!("The address has a bad query: {why}."),
            None => "The address has a bad query.".to_owned(),
        };
        PageError::bad_request(message).into()
    })
}

/// A path parameter that does not parse names nothing: the site's 404 page.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| PageError::not_found().into())
}

/// What a page's query parameters got wrong, from the deserializer's error: only the shapes
/// known here, naming only parameters (never echoing a value).
fn bad_query(error: &str) -> Option<String> {
    if error == NOT_A_PAGE {
        return Some(NOT_A_PAGE.to_owned());
    }
    let field = |prefix: &str| {
        error
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('`'))
            .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    };
    if let Some(f) = field("duplicate field `") {
        return Some(format!("{f} is given more than once"));
    }
    if let Some(f) = field("missing field `") {
        return Some(format!("{f} is missing"));
    }
    None
}

const NOT_A_PAGE: &str = "page must be a number";

/// A page number in a query string (`?page=2`), whose error names the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageNumber(pub i64);

impl<'de> Deserialize<'de> for PageNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.trim()
            .parse()
            .map(PageNumber)
            .map_err(|_| serde::de::Error::custom(NOT_A_PAGE))
    }
}

pub fn config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(64 * 1024) // a README is up to 25,000 bytes, and encoding grows it
        .error_handler(|err, _| {
            PageError::bad_request(format!("The form could not be read: {err}")).into()
        })
}

/// A `?next=` target that stays on this site: a local path, never `//host` or `/\host`
/// (which browsers read as another site).
pub fn local_path(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        // Printable ASCII only: it becomes a `Location` header as it is.
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::{bad_query, local_path, PageNumber};

    #[derive(serde::Deserialize, Debug)]
    struct Q {
        page: Option<PageNumber>,
        q: String,
    }

    fn why(query: &str) -> Option<String> {
        let e = serde_urlencoded::from_str::<Q>(query).expect_err(query);
        bad_query(&e.to_string())
    }

    #[test]
    fn bad_queries_are_told_in_words() {
        assert_eq!(
            why("q=a&page=abc").as_deref(),
            Some("page must be a number")
        );
        assert_eq!(why("q=a&page=").as_deref(), Some("page must be a number"));
        assert_eq!(
            why("q=a&page=99999999999999999999").as_deref(),
            Some("page must be a number")
        );
        assert_eq!(why("q=a&q=b").as_deref(), Some("q is given more than once"));
        assert_eq!(why("page=1").as_deref(), Some("q is missing"));
        let ok: Q = serde_urlencoded::from_str("q=&page=3").expect("parses");
        assert_eq!((ok.page, ok.q.as_str()), (Some(PageNumber(3)), ""));
    }

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(local_path(Some("/settings")), Some("/settings"));
        assert_eq!(local_path(Some("/o/acme?x=1")), Some("/o/acme?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/a\\b",
            "/\tx",
            "/a b",
            "/é",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(local_path(None), None);
    }
}
