//! "Forgot password?": a link by e-mail to choose a new password. Only when `[smtp]` is
//! configured; otherwise these pages are the site's 404 and the log-in page offers no link.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::{credentials, Accounts, Error as AccountsError};
use serde::Deserialize;

use super::auth::signed_in;
use super::error::inline;
use super::{render, Chrome, PageError, Viewer};

/// The pages exist only with a mailer.
fn enabled(accounts: &Accounts) -> Result<(), PageError> {
    match accounts.mailer {
        Some(_) => Ok(()),
        None => Err(PageError::not_found()),
    }
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    who: String,
    sent: bool,
    error: Option<String>,
}

pub async fn forgot_form(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, PageError> {
    enabled(&accounts)?;
    let page = ForgotPage {
        chrome: viewer.chrome.clone(),
        who: String::new(),
        sent: false,
        error: None,
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    who: String,
}

pub async fn forgot(
    req: HttpRequest,
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, PageError> {
    enabled(&accounts)?;
    viewer.check_csrf(&form.csrf)?;
    let who = form.who.trim();
    let peer = req.peer_addr().map(|a| a.ip());
    let answer = |status: StatusCode, sent: bool, error: Option<String>| {
        let page = ForgotPage {
            chrome: viewer.chrome.clone(),
            who: if sent { String::new() } else { who.to_owned() },
            sent,
            error,
        };
        render(&viewer, status, &page)
    };
    if who.is_empty() {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            Some("Enter your e-mail address or user name.".into()),
        );
    }
    match accounts.request_password_reset(who, peer).await {
        Ok(()) => answer(StatusCode::OK, true, None),
        Err(AccountsError::Throttled { retry_after }) => {
            let minutes = retry_after.div_ceil(60).max(1);
            let mut resp = answer(
                StatusCode::TOO_MANY_REQUESTS,
                false,
                Some(format!(
                    "Too many requests from here. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                )),
            )?;
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after.max(1)),
            );
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    chrome: Chrome,
    username: String,
    ticket: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password_reset_gone.html")]
struct GonePage {
    chrome: Chrome,
}

fn gone(viewer: &Viewer) -> Result<HttpResponse, PageError> {
    let page = GonePage {
        chrome: viewer.chrome.clone(),
    };
    render(viewer, StatusCode::GONE, &page)
}

pub async fn reset_form(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    ticket: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    enabled(&accounts)?;
    let ticket = ticket.into_inner();
    let user = credentials::ticket_user(&accounts.db, &ticket).await?;
    let Some(user) = user.filter(|u| u.active) else {
        return gone(&viewer);
    };
    let page = ResetPage {
        chrome: viewer.chrome.clone(),
        username: user.name,
        ticket,
        error: None,
    };
    render(&viewer, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    password: String,
    password_confirmation: String,
}

/// Sets the new password, ends every session of the user, and signs them in here.
pub async fn reset(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    ticket: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, PageError> {
    enabled(&accounts)?;
    viewer.check_csrf(&form.csrf)?;
    let ticket = ticket.into_inner();
    let user = credentials::ticket_user(&accounts.db, &ticket).await?;
    let Some(user) = user.filter(|u| u.active) else {
        return gone(&viewer);
    };
    let result = if form.password != form.password_confirmation {
        Err("The two passwords do not match.".to_owned())
    } else {
        match credentials::reset_with_ticket(&accounts.db, &ticket, &form.password).await {
            Ok(user) => Ok(user),
            Err(e) => Err(inline(e)?),
        }
    };
    match result {
        Ok(user) => {
            tracing::info!(user = %user.name, "password reset from a mailed link");
            signed_in(&accounts, &viewer, &user, "/").await
        }
        Err(message) => {
            let page = ResetPage {
                chrome: viewer.chrome.clone(),
                username: user.name,
                ticket,
                error: Some(message),
            };
            render(&viewer, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
