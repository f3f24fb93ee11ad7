//! The viewer: who the session cookie says is signed in, and the CSRF token the page's forms
//! must send back — the session's own for a signed-in user, and for an anonymous visitor (the
//! log-in and sign-up forms) a random `berth_csrf` cookie whose value the form repeats.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use berth_accounts::access::Identity;
use berth_accounts::users::User;
use berth_accounts::{orgs, sessions, Accounts};

use super::{Chrome, PageError};
use crate::api::{constant_time_eq, SESSION_COOKIE};

pub const CSRF_COOKIE: &str = "berth_csrf";

pub struct Viewer {
    pub user: Option<User>,
    pub chrome: Chrome,
    /// The session cookie's value, when signed in.
    session: Option<String>,
    /// Whether `chrome.csrf` is new and still has to be set as the anonymous CSRF cookie.
    fresh_csrf: bool,
    secure: bool,
}

impl Viewer {
    async fn load(req: &HttpRequest) -> Result<Viewer, PageError> {
        let accounts = req
            .app_data::<web::Data<Accounts>>()
            .ok_or_else(PageError::internal)?;
        let secure = accounts.config.realm.starts_with("https://");
        let signup_open = accounts.config.open_signup;
        if let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
            if let Some((user, csrf)) = sessions::get(&accounts.db, &secret).await? {
                let orgs = orgs::of_user(&accounts.db, user.id)
                    .await?
                    .into_iter()
                    .map(|(o, _)| o.name)
                    .collect();
                return Ok(Viewer {
                    chrome: Chrome {
                        user: Some(user.name.clone()),
                        csrf,
                        orgs,
                        signup_open,
                        admin: user.is_admin && user.active,
                    },
                    user: Some(user),
                    session: Some(secret),
                    fresh_csrf: false,
                    secure,
                });
            }
        }
        let existing = req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()));
        let (csrf, fresh_csrf) = match existing {
            Some(v) => (v, false),
            None => (random_token()?, true),
        };
        Ok(Viewer {
            user: None,
            chrome: Chrome {
                user: None,
                csrf,
                orgs: Vec::new(),
                signup_open,
                admin: false,
            },
            session: None,
            fresh_csrf,
            secure,
        })
    }

    /// The identity the access decision takes.
    pub fn identity(&self) -> Identity {
        Identity {
            user: self.user.clone(),
            ..Identity::default()
        }
    }

    /// The signed-in user, or a page asking to log in.
    pub fn require_user(&self) -> Result<&User, PageError> {
        self.user
            .as_ref()
            .ok_or_else(|| PageError::forbidden("You need to log in to see this page."))
    }

    /// Checks the token a form sent. A fresh anonymous token was never set as a cookie, so
    /// nothing can match it.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        let ok = !self.fresh_csrf
            && !sent.is_empty()
            && constant_time_eq(sent.as_bytes(), self.chrome.csrf.as_bytes());
        if ok {
            Ok(())
        } else {
            tracing::warn!(signed_in = self.user.is_some(), "form refused: CSRF token");
            Err(PageError::csrf())
        }
    }

    pub fn session_secret(&self) -> Option<&str> {
        self.session.as_deref()
    }

    pub fn new_csrf_cookie(&self) -> Option<Cookie<'static>> {
        self.fresh_csrf.then(|| {
            Cookie::build(CSRF_COOKIE, self.chrome.csrf.clone())
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(self.secure)
                .max_age(Duration::days(1))
                .finish()
        })
    }
}

fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "random bytes for a CSRF token");
        PageError::internal()
    })?;
    Ok(hex::encode(bytes))
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let viewer = Viewer::load(&req).await?;
            // For error pages drawn after the handler: they show the same header.
            req.extensions_mut().insert(viewer.chrome.clone());
            Ok(viewer)
        })
    }
}
