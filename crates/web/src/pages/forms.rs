//! Form bodies: small, and a malformed one is a 400 page rather than the API's JSON.

use actix_web::web;

use super::PageError;

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        PageError::bad_request(format!("The address could not be read: {err}")).into()
    })
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
    use super::local_path;

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
