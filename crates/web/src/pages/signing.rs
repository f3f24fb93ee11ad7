//! Content trust settings of a namespace: `/settings/signing` for the signed-in user's own,
//! `/o/{org}/settings/signing` for an organization (its owners). The public keys signatures are
//! checked against, and the "only signed images can be pulled" switch. The accounts crate checks
//! the permission again and audits every change.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::users::User;
use berth_accounts::Accounts;
use berth_trust::{signing, Trust};
use serde::Deserialize;

use super::error::inline;
use super::filters;
use super::settings::login_first;
use super::{render, see_other, Chrome, PageError, Viewer};

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub algorithm: String,
    pub fingerprint: String,
    /// When it was added (Unix seconds), and by whom.
    pub added: i64,
    pub added_by: String,
}

#[derive(Template)]
#[template(path = "signing.html")]
struct SigningPage {
    chrome: Chrome,
    namespace: String,
    /// Where the forms post: `/settings/signing` or `/o/{org}/settings/signing`.
    base: String,
    back: String,
    keys: Vec<KeyRow>,
    signed_only: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    key_name: String,
    public_key: String,
}

/// The namespace the address names (an organization, or the viewer's own) and the base URL of
/// its signing settings; the viewer must administer it.
async fn managed(
    viewer: &Viewer,
    accounts: &Accounts,
    trust: &Trust,
    req: &HttpRequest,
) -> Result<Result<(String, String), HttpResponse>, PageError> {
    let org = req.match_info().get("org").map(str::to_owned);
    let Some(user) = viewer.user.clone() else {
        let here = match &org {
            Some(o) => format!("/o/{o}/settings/signing"),
            None => "/settings/signing".to_owned(),
        };
        return Ok(Err(login_first(&here)));
    };
    let (namespace, base) = match org {
        Some(o) => {
            let org = berth_accounts::orgs::by_name(&accounts.db, &o)
                .await?
                .ok_or_else(PageError::not_found)?;
            let base = format!("/o/{}/settings/signing", org.name);
            (org.name, base)
        }
        None => (user.name.clone(), "/settings/signing".to_owned()),
    };
    if !signing::can_manage(trust, &user, &namespace).await? {
        return Err(PageError::forbidden(
            "only an organization's owners may manage its signing keys",
        ));
    }
    Ok(Ok((namespace, base)))
}

/// The poster of a settings form, after its CSRF check, with the namespace it administers and
/// the base URL of its signing settings.
async fn poster(
    viewer: &Viewer,
    accounts: &Accounts,
    trust: &Trust,
    req: &HttpRequest,
    csrf: &str,
) -> Result<(User, String, String), PageError> {
    viewer.check_csrf(csrf)?;
    let user = viewer.require_user()?.clone();
    // A signed-in poster: `managed` has no log-in page to send them to.
    match managed(viewer, accounts, trust, req).await? {
        Ok((namespace, base)) => Ok((user, namespace, base)),
        Err(_) => Err(PageError::forbidden("sign in first")),
    }
}

async fn show(
    viewer: &Viewer,
    trust: &Trust,
    (namespace, base): (String, String),
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    kept: (String, String),
) -> Result<HttpResponse, PageError> {
    let keys = signing::list(trust, &namespace)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            algorithm: k.algorithm,
            fingerprint: k.fingerprint,
            added: k.created_at,
            added_by: k.created_by,
        })
        .collect();
    let signed_only = signing::is_set(trust, &namespace).await?;
    let back = base.trim_end_matches("/signing").to_owned();
    let page = SigningPage {
        chrome: viewer.chrome.clone(),
        namespace,
        base,
        back,
        keys,
        signed_only,
        notice,
        error,
        key_name: kept.0,
        public_key: kept.1,
    };
    render(viewer, status, &page)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn page(
    viewer: Viewer,
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (namespace, base) = match managed(&viewer, &accounts, &trust, &req).await? {
        Ok(m) => m,
        Err(login) => return Ok(login),
    };
    // Fixed messages only: nothing from the address is echoed.
    let notice = match query.done.as_deref() {
        Some("added") => Some("The key was added. Signatures it made now verify."),
        Some("removed") => Some("The key was removed. Signatures it made no longer verify."),
        Some("policy") => Some("The pull policy was saved."),
        _ => None,
    };
    show(
        &viewer,
        &trust,
        (namespace, base),
        StatusCode::OK,
        notice,
        None,
        Default::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_key: String,
}

pub async fn add(
    viewer: Viewer,
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, PageError> {
    let (user, namespace, base) = poster(&viewer, &accounts, &trust, &req, &form.csrf).await?;
    match signing::add(
        &trust,
        &user,
        &namespace,
        form.name.trim(),
        &form.public_key,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{base}?done=added"))),
        Err(e) => {
            let message = inline(e)?;
            let kept = (form.name.clone(), form.public_key.clone());
            show(
                &viewer,
                &trust,
                (namespace, base),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                kept,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

pub async fn remove(
    viewer: Viewer,
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    form: web::Form<RemoveForm>,
) -> Result<HttpResponse, PageError> {
    let (user, namespace, base) = poster(&viewer, &accounts, &trust, &req, &form.csrf).await?;
    signing::remove(&trust, &user, &namespace, form.id).await?;
    Ok(see_other(&format!("{base}?done=removed")))
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    /// Present (`on`) when the box is ticked.
    signed_only: Option<String>,
}

pub async fn policy(
    viewer: Viewer,
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    form: web::Form<PolicyForm>,
) -> Result<HttpResponse, PageError> {
    let (user, namespace, base) = poster(&viewer, &accounts, &trust, &req, &form.csrf).await?;
    signing::set_signed_only(&trust, &user.name, &namespace, form.signed_only.is_some()).await?;
    Ok(see_other(&format!("{base}?done=policy")))
}
