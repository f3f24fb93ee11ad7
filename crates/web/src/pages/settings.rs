//! Account settings: email, password, personal access tokens, invitations to organizations, and
//! deleting the account.

use actix_web::cookie::time::Duration;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use berth_accounts::access::Scope;
use berth_accounts::orgs::invitations;
use berth_accounts::tokens::{self, TokenInfo};
use berth_accounts::users::{self, User};
use berth_accounts::{Accounts, Error as AccountsError};
use berth_hub::Hub;
use serde::{Deserialize, Serialize};

use super::error::inline;
use super::filters;
use super::flash::{no_store, put_flash, take_flash};
use super::invitations::InvitationRow;
use super::{render, see_other, time, Chrome, PageError, Viewer};
use crate::api::session_cookie;
use crate::Site;

/// Which of the page's forms an inline error belongs to.
#[derive(Default)]
pub struct Errors {
    pub profile: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub delete: Option<String>,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub created: i64,
    pub last_used: Option<i64>,
    pub expires: Option<i64>,
}

impl TokenRow {
    fn from(t: &TokenInfo) -> Self {
        TokenRow {
            id: t.id,
            name: t.name.clone(),
            scope: scope_label(t.scope),
            created: t.created_at,
            last_used: t.last_used_at,
            expires: t.expires_at,
        }
    }
}

fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "Read",
        Scope::ReadWrite => "Read & write",
        Scope::ReadWriteDelete => "Read, write & delete",
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    name: String,
    email: String,
    tokens: Vec<TokenRow>,
    notice: Option<&'static str>,
    errors: Errors,
    token_name: String,
    token_scope: String,
    token_expiry: String,
    sole_owned: Vec<String>,
    /// When the password changed, if personal access tokens made before then still work: the
    /// page asks the user to review them.
    review_tokens_since: Option<String>,
    /// Invitations to organizations and teams waiting for an answer.
    invitations: Vec<InvitationRow>,
}

/// What the form posted, kept when the page is shown again with an error.
#[derive(Default)]
struct Kept {
    email: Option<String>,
    token_name: String,
    token_scope: String,
    token_expiry: String,
}

async fn settings_page(
    viewer: &Viewer,
    accounts: &Accounts,
    user: &User,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: Errors,
    kept: Kept,
) -> Result<HttpResponse, PageError> {
    let tokens = tokens::list(&accounts.db, user).await?;
    let changed = users::password_changed_at(&accounts.db, user).await?;
    let review_tokens_since = changed
        .filter(|at| {
            tokens
                .iter()
                .any(|t| t.kind == tokens::Kind::Personal && t.created_at <= *at)
        })
        .map(time::date_time);
    let page = SettingsPage {
        review_tokens_since,
        chrome: viewer.chrome.clone(),
        name: user.name.clone(),
        email: kept.email.unwrap_or_else(|| user.email.clone()),
        tokens: tokens.iter().map(TokenRow::from).collect(),
        notice,
        errors,
        token_name: kept.token_name,
        token_scope: if kept.token_scope.is_empty() {
            "read".into()
        } else {
            kept.token_scope
        },
        token_expiry: if kept.token_expiry.is_empty() {
            "90".into()
        } else {
            kept.token_expiry
        },
        sole_owned: users::sole_owned_orgs(&accounts.db, user).await?,
        invitations: invitations::of_user(&accounts.db, user)
            .await?
            .iter()
            .map(InvitationRow::from)
            .collect(),
    };
    render(viewer, status, &page)
}

/// Where an anonymous visitor goes instead of a page that needs an account.
pub fn login_first(path: &str) -> HttpResponse {
    see_other(&format!("/login?next={path}"))
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = viewer.user.clone() else {
        return Ok(login_first("/settings"));
    };
    // Only fixed messages: nothing from the address is echoed into the page.
    let notice = match query.done.as_deref() {
        Some("email") => Some("Your email address was changed."),
        Some("password") => Some("Your password was changed."),
        Some("revoked") => Some("The token was revoked. It no longer works."),
        Some("signed-out") => {
            Some("Every other session and every docker login made with your password has ended.")
        }
        Some("declined") => Some("The invitation was declined."),
        _ => None,
    };
    settings_page(
        &viewer,
        &accounts,
        &user,
        StatusCode::OK,
        notice,
        Errors::default(),
        Kept::default(),
    )
    .await
}

/// The signed-in user of a settings form, after its CSRF check.
fn poster<'a>(viewer: &'a Viewer, csrf: &str) -> Result<&'a User, PageError> {
    viewer.check_csrf(csrf)?;
    viewer.require_user()
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    email: String,
}

pub async fn profile(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    match users::set_email(&accounts.db, user, &form.email).await {
        Ok(_) => Ok(see_other("/settings?done=email#profile")),
        Err(e) => {
            let errors = Errors {
                profile: Some(inline(e)?),
                ..Errors::default()
            };
            let kept = Kept {
                email: Some(form.email.trim().to_owned()),
                ..Kept::default()
            };
            settings_page(
                &viewer,
                &accounts,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                kept,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current_password: String,
    new_password: String,
    new_password_confirmation: String,
}

pub async fn password(
    req: actix_web::HttpRequest,
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    let result = if form.new_password != form.new_password_confirmation {
        Err("The two new passwords do not match.".to_owned())
    } else {
        match accounts
            .change_password(
                &user.name,
                &form.current_password,
                &form.new_password,
                viewer.session_secret(),
                req.peer_addr().map(|a| a.ip()),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(AccountsError::BadCredentials) => {
                Err("The current password is incorrect.".to_owned())
            }
            Err(e) => Err(inline(e)?),
        }
    };
    match result {
        Ok(()) => Ok(see_other("/settings?done=password#password")),
        Err(message) => {
            let errors = Errors {
                password: Some(message),
                ..Errors::default()
            };
            settings_page(
                &viewer,
                &accounts,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                Kept::default(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
    scope: String,
    /// Days until it expires; empty for never.
    #[serde(default)]
    expires_in_days: String,
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenCreated {
    chrome: Chrome,
    /// Where `docker login` goes.
    host: String,
    user: String,
    /// `None` once the secret has been shown.
    shown: Option<ShownToken>,
}

/// A new token as its one showing needs it, kept in a flash between the form's `POST` and the
/// `GET` it redirects to.
#[derive(Serialize, Deserialize)]
struct ShownToken {
    name: String,
    scope: String,
    expires: String,
    token: String,
}

/// The flash kind of a new token.
const TOKEN_FLASH: &str = "token";

pub const EXPIRY_DAYS: [i64; 4] = [7, 30, 90, 365];

fn expiry(days: &str) -> Result<Option<i64>, String> {
    if days.is_empty() || days == "never" {
        return Ok(None);
    }
    match days.parse::<i64>() {
        Ok(d) if EXPIRY_DAYS.contains(&d) => Ok(Some(berth_accounts::now() + d * 86_400)),
        _ => Err("Choose one of the offered expiry times.".into()),
    }
}

/// Creates a token, then redirects to the page that shows its secret: a reload of that page
/// cannot make a second token, and shows the secret no more.
pub async fn create_token(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    let created = match (Scope::parse(&form.scope), expiry(&form.expires_in_days)) {
        (Err(_), _) => Err("Choose a scope for the token.".to_owned()),
        (_, Err(message)) => Err(message),
        (Ok(scope), Ok(expires)) => {
            match tokens::create(&accounts.db, user, &form.name, scope, expires).await {
                Ok(t) => Ok(t),
                Err(e) => Err(inline(e)?),
            }
        }
    };
    let token = match created {
        Ok(t) => t,
        Err(message) => {
            let errors = Errors {
                token: Some(message),
                ..Errors::default()
            };
            let kept = Kept {
                token_name: form.name.clone(),
                token_scope: form.scope.clone(),
                token_expiry: form.expires_in_days.clone(),
                ..Kept::default()
            };
            return settings_page(
                &viewer,
                &accounts,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                kept,
            )
            .await;
        }
    };
    let shown = ShownToken {
        name: token.info.name.clone(),
        scope: scope_label(token.info.scope).to_owned(),
        expires: token
            .info
            .expires_at
            .map_or_else(|| "never".into(), time::date),
        token: token.token,
    };
    let id = put_flash(&viewer, &accounts, TOKEN_FLASH, &shown).await?;
    Ok(see_other(&format!("/settings/tokens/created/{id}")))
}

/// `GET /settings/tokens/created/{flash}`: the new token's secret the first time, and after
/// that a page saying it is not shown again.
pub async fn token_created(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    site: web::Data<Site>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = viewer.user.clone() else {
        return Ok(login_first("/settings"));
    };
    let page = TokenCreated {
        chrome: viewer.chrome.clone(),
        host: site.registry_host().to_owned(),
        user: user.name.clone(),
        shown: take_flash(&viewer, &accounts, TOKEN_FLASH, &id).await?,
    };
    Ok(no_store(render(&viewer, StatusCode::OK, &page)?))
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

pub async fn revoke_token(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    tokens::revoke(&accounts.db, user, form.id).await?;
    Ok(see_other("/settings?done=revoked#tokens"))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm_name: String,
}

/// Deletes the account and everything in its namespace, in one transaction.
pub async fn delete_account(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    let refused = |message: String| {
        let errors = Errors {
            delete: Some(message),
            ..Errors::default()
        };
        settings_page(
            &viewer,
            &accounts,
            user,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
            Kept::default(),
        )
    };
    if form.confirm_name.trim() != user.name {
        return refused(format!("Type your username, {}, to confirm.", user.name)).await;
    }
    let sole = users::sole_owned_orgs(&accounts.db, user).await?;
    if !sole.is_empty() {
        return refused(format!(
            "You are the only owner of {}. Add another owner or delete the organization first.",
            sole.join(", ")
        ))
        .await;
    }
    let removed = match hub.delete_user(user).await {
        Ok(removed) => removed,
        Err(e @ AccountsError::Conflict(_)) => return refused(inline(e)?).await,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user = %user.name, repositories = removed, "account deleted");
    let mut resp = see_other("/");
    resp.add_cookie(&session_cookie(&accounts, String::new(), Duration::ZERO))
        .map_err(|_| PageError::internal())?;
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// "Sign out everywhere": every session (this one too) and every refresh token ends; personal
/// access tokens stay.
pub async fn sign_out_everywhere(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let user = poster(&viewer, &form.csrf)?;
    berth_accounts::sessions::sign_out_everywhere(&accounts.db, user).await?;
    let mut resp = see_other("/login");
    resp.add_cookie(&session_cookie(&accounts, String::new(), Duration::ZERO))
        .map_err(|_| PageError::internal())?;
    Ok(resp)
}
