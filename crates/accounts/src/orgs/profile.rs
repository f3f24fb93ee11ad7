//! What an organization says about itself: a short description and a web address, shown on
//! its page and in the API. Owners (and site administrators) change them; the address must be
//! `http` or `https`, so it can be shown as a link.

use serde::Serialize;

use super::{require_owner, Org};
use crate::error::{Error, Result};
use crate::users::User;
use crate::{audit, Db};

/// Longest description kept.
pub const DESCRIPTION_CHARS: usize = 300;
/// Longest address kept.
pub const URL_CHARS: usize = 2048;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Profile {
    pub description: String,
    /// Empty, or an `http(s)://` address.
    pub url: String,
}

/// The organization's profile (empty until an owner fills it in).
pub async fn get(db: &Db, org: &Org) -> Result<Profile> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT description, url FROM org_profiles WHERE org_id = $1")
            .bind(org.id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(
        row.map_or_else(Profile::default, |(description, url)| Profile {
            description,
            url,
        }),
    )
}

/// Checks an address typed into the form: empty, or an absolute `http(s)` URL with a host.
pub fn check_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(String::new());
    }
    if raw.chars().count() > URL_CHARS {
        return Err(Error::Invalid(format!(
            "the web address is longer than {URL_CHARS} characters"
        )));
    }
    let url = url::Url::parse(raw)
        .map_err(|_| Error::Invalid("the web address is not a valid URL".into()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Invalid(
            "the web address must start with http:// or https://".into(),
        ));
    }
    Ok(url.to_string())
}

/// Saves the profile, by `actor` (an owner or an administrator); audited.
pub async fn set(
    db: &Db,
    org: &Org,
    actor: &User,
    description: &str,
    url: &str,
) -> Result<Profile> {
    require_owner(db, org, actor).await?;
    let description = description.trim();
    if description.chars().count() > DESCRIPTION_CHARS {
        return Err(Error::Invalid(format!(
            "the description is longer than {DESCRIPTION_CHARS} characters"
        )));
    }
    if description.contains('\0') {
        return Err(Error::Invalid(
            "text must not contain NUL characters".into(),
        ));
    }
    let url = check_url(url)?;
    sqlx::query(
        "INSERT INTO org_profiles (org_id, description, url, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id) DO UPDATE
         SET description = excluded.description, url = excluded.url,
             updated_at = excluded.updated_at",
    )
    .bind(org.id)
    .bind(description)
    .bind(&url)
    .bind(crate::now())
    .execute(&db.pool)
    .await?;
    audit::record(db, &actor.name, "org.profile", &org.name, &url).await?;
    Ok(Profile {
        description: description.to_owned(),
        url,
    })
}
