//! Secrets shown once across a redirect: the form's `POST` keeps what the next page shows in a
//! flash of the viewer's session (see `berth_accounts::flash`) and answers `303`; the `GET`
//! takes it, so a reload shows nothing again and makes nothing twice.

use actix_web::http::header;
use actix_web::HttpResponse;
use berth_accounts::{flash, Accounts};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{PageError, Viewer};

/// Keeps `value` for the viewer's session until the page at the redirect shows it.
pub async fn put_flash<T: Serialize>(
    viewer: &Viewer,
    accounts: &Accounts,
    kind: &str,
    value: &T,
) -> Result<String, PageError> {
    let session = viewer.session_secret().ok_or_else(PageError::internal)?;
    let body = serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "writing a flash");
        PageError::internal()
    })?;
    Ok(flash::put(&accounts.db, session, kind, &body).await?)
}

/// What `put_flash` kept for the viewer's session, once; `None` when it was shown already,
/// expired, or belongs to another session.
pub async fn take_flash<T: DeserializeOwned>(
    viewer: &Viewer,
    accounts: &Accounts,
    kind: &str,
    id: &str,
) -> Result<Option<T>, PageError> {
    let Some(session) = viewer.session_secret() else {
        return Ok(None);
    };
    let Some(body) = flash::take(&accounts.db, session, kind, id).await? else {
        return Ok(None);
    };
    serde_json::from_str(&body).map(Some).map_err(|e| {
        tracing::error!(error = %e, "reading a flash");
        PageError::internal()
    })
}

/// A page that shows a secret: never stored by the browser or anything between.
pub fn no_store(mut resp: HttpResponse) -> HttpResponse {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}
