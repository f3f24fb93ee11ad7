//! Account names: usable as the first component of a repository name.

use crate::error::{Error, Result};

/// Names that would collide with routes or mean something special.
pub const RESERVED: &[&str] = &[
    "v1",
    "v2",
    "api",
    "auth",
    "admin",
    "administrator",
    "library",
    "login",
    "logout",
    "signup",
    "static",
    "root",
    "system",
    "settings",
    "search",
    "explore",
    "help",
    "about",
    "_catalog",
    "healthz",
    "readyz",
    "berth",
    "registry",
    "orgs",
    "users",
    "user",
    "repositories",
];

/// 4–30 characters of lowercase letters and digits, with single `-`, `_` or `.` separators
/// between them.
pub fn validate(name: &str) -> Result<()> {
    let invalid = |why: &str| Error::Invalid(format!("invalid name {name:?}: {why}"));
    let len = name.chars().count();
    if !(4..=30).contains(&len) {
        return Err(invalid("it must be 4 to 30 characters long"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let sep = |c: char| c == '-' || c == '_' || c == '.';
    if !name.chars().all(|c| alnum(c) || sep(c)) {
        return Err(invalid(
            "use lowercase letters, digits and the separators - _ .",
        ));
    }
    let first_last_ok =
        name.chars().next().is_some_and(alnum) && name.chars().last().is_some_and(alnum);
    let no_double = !name
        .as_bytes()
        .windows(2)
        .any(|w| sep(w[0] as char) && sep(w[1] as char));
    if !first_last_ok || !no_double {
        return Err(invalid(
            "it must start and end with a letter or digit, with one separator at a time",
        ));
    }
    if RESERVED.contains(&name) {
        return Err(invalid("this name is reserved"));
    }
    Ok(())
}

pub fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid email address {email:?}")))
    }
}

/// Refuses a new account name whose namespace already holds something: repositories, tags or
/// upload sessions in the registry, trust data, signing keys and policies, or repository
/// settings, stars, comments or webhooks. The one check that reads every store's tables: a
/// name's claim is decided in one place. Whoever takes such a name would inherit that
/// content (read private images, make them public, push over them); only a site administrator
/// hands it over, deliberately ([`crate::orgs::create`] with `claim`). Runs in the caller's
/// transaction, which the caller rolls back when it refuses.
pub async fn ensure_unclaimed(conn: &mut sqlx::AnyConnection, name: &str) -> Result<()> {
    let mut held = berth_registry::meta::namespace_holds_content(&mut *conn, name).await?;
    if !held {
        let prefix = format!("{name}/");
        let exact = [
            "SELECT 1 FROM repository_settings WHERE namespace = $1 LIMIT 1",
            "SELECT 1 FROM webhooks WHERE namespace = $1 LIMIT 1",
            "SELECT 1 FROM signing_keys WHERE namespace = $1 LIMIT 1",
            "SELECT 1 FROM signed_only WHERE namespace = $1 LIMIT 1",
        ];
        let under = [
            "SELECT 1 FROM stars WHERE substr(repository, 1, length($1)) = $1 LIMIT 1",
            "SELECT 1 FROM comments WHERE substr(repository, 1, length($1)) = $1 LIMIT 1",
            "SELECT 1 FROM tuf_files WHERE substr(repository, 1, length($1)) = $1 LIMIT 1",
            "SELECT 1 FROM tuf_keys WHERE substr(repository, 1, length($1)) = $1 LIMIT 1",
        ];
        let queries = exact
            .iter()
            .map(|q| (*q, name))
            .chain(under.iter().map(|q| (*q, prefix.as_str())));
        for (sql, value) in queries {
            if sqlx::query(sql)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?
                .is_some()
            {
                held = true;
                break;
            }
        }
    }
    if held {
        // Reads "content under toolsns/ (…) already exists".
        return Err(Error::Conflict(format!(
            "content under {name}/ (repositories, uploads, trust data or settings left there; \
             choose another name, or a site administrator can hand it to an organization)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        for ok in [
            "alice",
            "bob1",
            "a-b-c",
            "team.ops",
            "x_y_z",
            "abcd",
            &"a".repeat(30),
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "abc",
            "Alice",
            "-abc",
            "abc-",
            "a--b",
            "a/bc",
            "ab cd",
            "admin",
            "library",
            "static",
            &"a".repeat(31),
            "über",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert!(validate_email("a@example.com").is_ok());
        for bad in ["", "a", "a@b", "@b.com", "a b@c.com", "a@.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
