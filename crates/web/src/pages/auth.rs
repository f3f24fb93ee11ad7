//! Signing up, logging in and logging out.

use actix_web::cookie::time::Duration;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::users::{self, NewUser};
use berth_accounts::{credentials, sessions, Accounts, Error as AccountsError};
use serde::Deserialize;

use super::error::inline;
use super::forms::local_path;
use super::{render, see_other, Chrome, PageError, Viewer};
use crate::api::session_cookie;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    username: String,
    next: String,
    error: Option<String>,
    /// Whether to offer "Forgot password?" (mail is configured).
    forgot: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> String {
    local_path(next).unwrap_or("/").to_owned()
}

pub async fn login_form(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = next_or_home(query.next.as_deref());
    if viewer.user.is_some() {
        return Ok(see_other(&next));
    }
    let page = LoginPage {
        chrome: viewer.chrome.clone(),
        username: String::new(),
        next,
        error: None,
        forgot: accounts.mailer.is_some(),
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

/// Signs `user` in: a new session (never one the visitor brought along, which ends) and its
/// cookie.
pub(super) async fn signed_in(
    accounts: &Accounts,
    viewer: &Viewer,
    user: &users::User,
    to: &str,
) -> Result<HttpResponse, PageError> {
    if let Some(old) = viewer.session_secret() {
        sessions::delete(&accounts.db, old).await?;
    }
    let session = sessions::create(&accounts.db, user).await?;
    let mut resp = see_other(to);
    resp.add_cookie(&session_cookie(
        accounts,
        session.secret,
        Duration::seconds(sessions::IDLE_TTL),
    ))
    .map_err(|e| {
        tracing::error!(error = %e, "setting the session cookie");
        PageError::internal()
    })?;
    Ok(resp)
}

pub async fn login(
    req: HttpRequest,
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let next = next_or_home(form.next.as_deref());
    let username = form.username.trim();
    let refused = |status: StatusCode, message: String| {
        let page = LoginPage {
            chrome: viewer.chrome.clone(),
            username: username.to_owned(),
            next: next.clone(),
            error: Some(message),
            forgot: accounts.mailer.is_some(),
        };
        render(&viewer, status, &page)
    };
    let peer = req.peer_addr().map(|a| a.ip());
    let (identity, must_change) = match accounts.login_for_web(username, &form.password, peer).await
    {
        Ok(found) => found,
        Err(AccountsError::Throttled { retry_after }) => {
            let message = inline(AccountsError::Throttled { retry_after })?;
            let mut resp = refused(StatusCode::TOO_MANY_REQUESTS, message)?;
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after.max(1)),
            );
            return Ok(resp);
        }
        Err(e) => return refused(StatusCode::UNPROCESSABLE_ENTITY, inline(e)?),
    };
    // Sessions are for people with passwords, not for tokens or robots.
    let (Some(user), None) = (identity.user, identity.scope) else {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Log in with your password, not an access token.".into(),
        );
    };
    if must_change {
        // A reset forced by an administrator: no session until a new password is chosen, with
        // a single-use ticket that stands for the password just given.
        let ticket = credentials::issue_ticket(&accounts.db, &user).await?;
        let page = NewPasswordPage {
            chrome: viewer.chrome.clone(),
            username: user.name,
            ticket,
            next,
            error: None,
        };
        return render(&viewer, StatusCode::OK, &page);
    }
    signed_in(&accounts, &viewer, &user, &next).await
}

#[derive(Template)]
#[template(path = "new_password.html")]
struct NewPasswordPage {
    chrome: Chrome,
    username: String,
    ticket: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    csrf: String,
    ticket: String,
    password: String,
    password_confirmation: String,
    next: Option<String>,
}

/// The new password a forced reset asks for at log-in; signs the user in once it is set.
pub async fn new_password(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<NewPasswordForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let next = next_or_home(form.next.as_deref());
    let Some(user) = credentials::ticket_user(&accounts.db, &form.ticket).await? else {
        return Err(PageError::new(
            StatusCode::GONE,
            "This form has expired or was used already. Log in again.",
        ));
    };
    let result = if form.password != form.password_confirmation {
        Err("The two passwords do not match.".to_owned())
    } else {
        match credentials::redeem_ticket(&accounts.db, &form.ticket, &form.password).await {
            Ok(user) => Ok(user),
            Err(e) => Err(inline(e)?),
        }
    };
    match result {
        Ok(user) => signed_in(&accounts, &viewer, &user, &next).await,
        Err(message) => {
            let page = NewPasswordPage {
                chrome: viewer.chrome.clone(),
                username: user.name,
                ticket: form.ticket.clone(),
                next,
                error: Some(message),
            };
            render(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    chrome: Chrome,
    username: String,
    email: String,
    error: Option<String>,
}

fn signup_closed() -> PageError {
    PageError::forbidden("Sign-up is closed on this registry. Ask an administrator for an account.")
}

pub async fn signup_form(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, PageError> {
    if !accounts.config.open_signup {
        return Err(signup_closed());
    }
    if viewer.user.is_some() {
        return Ok(see_other("/"));
    }
    let page = SignupPage {
        chrome: viewer.chrome.clone(),
        username: String::new(),
        email: String::new(),
        error: None,
    };
    render(&viewer, StatusCode::OK, &page)
}

/// Exactly these fields: nobody can choose to be an administrator by adding one.
#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    username: String,
    email: String,
    password: String,
    password_confirmation: String,
}

pub async fn signup(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    if !accounts.config.open_signup {
        return Err(signup_closed());
    }
    let username = form.username.trim();
    let email = form.email.trim();
    let refused = |message: String| {
        let page = SignupPage {
            chrome: viewer.chrome.clone(),
            username: username.to_owned(),
            email: email.to_owned(),
            error: Some(message),
        };
        render(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    if form.password != form.password_confirmation {
        return refused("The two passwords do not match.".into());
    }
    let created = users::create(
        &accounts.db,
        NewUser {
            name: username,
            email,
            password: &form.password,
        },
        false,
    )
    .await;
    let user = match created {
        Ok(user) => user,
        Err(e) => return refused(inline(e)?),
    };
    tracing::info!(user = %user.name, "signed up on the web");
    signed_in(&accounts, &viewer, &user, &format!("/u/{}", user.name)).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    if let Some(secret) = viewer.session_secret() {
        sessions::delete(&accounts.db, secret).await?;
    }
    let mut resp = see_other("/");
    resp.add_cookie(&session_cookie(&accounts, String::new(), Duration::ZERO))
        .map_err(|_| PageError::internal())?;
    Ok(resp)
}
