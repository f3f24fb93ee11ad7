//! Page errors: each a page in the site's style, with the status [`Failure`] gives.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use berth_accounts::Error as AccountsError;

use crate::error::Failure;

use super::{Chrome, Viewer};

#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        PageError::new(
            StatusCode::NOT_FOUND,
            "There is nothing at this address. Check the spelling, or it may have been deleted.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        PageError::new(StatusCode::FORBIDDEN, message)
    }

    /// A form sent without the token of the page it came from.
    pub fn csrf() -> Self {
        PageError::forbidden(
            "This form has expired or did not come from this site. Go back, reload the page \
             and try again.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal() -> Self {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again in a moment.",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::NOT_FOUND => "Page not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "Bad request",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            StatusCode::CONFLICT => "Conflict",
            _ => "Something went wrong",
        }
    }

    /// The error as a page inside the layout `chrome` draws.
    pub fn page(&self, chrome: &Chrome) -> HttpResponse {
        let page = ErrorPage {
            chrome,
            status: self.status.as_u16(),
            title: self.title(),
            message: &self.message,
        };
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        match page.render() {
            Ok(html) => resp.content_type("text/html; charset=utf-8").body(html),
            Err(e) => {
                tracing::error!(error = %e, "rendering an error page");
                resp.content_type("text/plain; charset=utf-8")
                    .body(self.message.clone())
            }
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl From<Failure> for PageError {
    /// Pages speak to people: the status of the table, in their words.
    fn from(f: Failure) -> Self {
        match f.status {
            // A page has no login dialog to offer: a wrong password is refused, not challenged.
            StatusCode::UNAUTHORIZED => PageError::forbidden(f.message),
            StatusCode::TOO_MANY_REQUESTS => {
                let secs = f.retry_after.unwrap_or(1);
                PageError {
                    retry_after: f.retry_after,
                    ..PageError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!(
                            "Too many failed attempts. Try again in {} seconds.",
                            secs.max(1)
                        ),
                    )
                }
            }
            StatusCode::NOT_FOUND => PageError::not_found(),
            // A rule's refusal says which rule; any other is not the page's to explain.
            StatusCode::FORBIDDEN if f.code == "denied" => {
                PageError::forbidden(capitalize(&f.message))
            }
            StatusCode::FORBIDDEN => PageError::forbidden("You do not have permission to do that."),
            StatusCode::INTERNAL_SERVER_ERROR => PageError::internal(),
            status => PageError::new(status, f.message),
        }
    }
}

impl From<AccountsError> for PageError {
    fn from(e: AccountsError) -> Self {
        Failure::from(e).into()
    }
}

impl From<berth_registry::Error> for PageError {
    fn from(e: berth_registry::Error) -> Self {
        Failure::from(e).into()
    }
}

/// What a form shows next to its fields when the accounts crate refuses a change; `None` for
/// failures that are no fault of the input (they become error pages).
pub fn inline(e: AccountsError) -> Result<String, PageError> {
    match e {
        AccountsError::Invalid(m) => Ok(capitalize(&m)),
        AccountsError::Conflict(_)
        | AccountsError::InUse(_)
        | AccountsError::NotFound(_)
        | AccountsError::BadCredentials => Ok(capitalize(&e.to_string())),
        AccountsError::Throttled { .. } => Ok(PageError::from(e).message),
        other => Err(PageError::from(other)),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Drawn for an anonymous visitor; the pages' middleware draws it again with the viewer's
    /// own header when it knows them.
    fn error_response(&self) -> HttpResponse {
        self.page(&Chrome::default())
    }
}

/// The page for any address no route claims (the viewer is loaded for the page's header).
pub async fn not_found(_viewer: Viewer) -> Result<HttpResponse, PageError> {
    Err(PageError::not_found())
}
