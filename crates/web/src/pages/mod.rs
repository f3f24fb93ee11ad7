//! Server-rendered HTML pages: the layout every page shares, the viewer (who is signed in),
//! CSRF checks on every form, error pages, security headers, and the account and
//! organization pages. Complete without JavaScript; `static/berth.js` only improves them.

mod admin;
mod assets;
mod auth;
mod avatars;
mod builds;
mod chrome;
mod error;
mod filters;
mod flash;
mod forms;
mod home;
mod invitations;
mod org_settings;
mod orgs;
mod password_reset;
mod repo_head;
mod repo_settings;
mod repository;
mod retention;
mod search;
mod security;
mod settings;
mod signing;
mod storage;
mod tags;
mod time;
mod users;
mod viewer;
mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{guard, web, HttpResponse};
use askama::Template;

pub use chrome::Chrome;
pub use error::PageError;
pub use forms::PageNumber;
pub use viewer::Viewer;

/// Mounts the pages. Registered last: the scope answers every path nothing else took, with
/// the site's own 404 page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use web::post;
    admin::mark_started();
    cfg.route("/static/{file}", get().to(assets::serve))
        .route("/avatars/{file}", get().to(avatars::serve))
        .service(
            web::scope("")
                .app_data(forms::config())
                .app_data(forms::query_config())
                .app_data(forms::path_config())
                .wrap_fn(security::wrap)
                .route("/", get().to(home::page))
                .route("/search", get().to(search::page))
                .route("/repositories/new", get().to(home::new_repository_form))
                .route("/repositories/new", post().to(home::create_repository))
                .route("/r/{tail:.+}", get().to(repository::get))
                .route("/r/{tail:.+}", post().to(repository::post))
                .route("/login", get().to(auth::login_form))
                .route("/login", post().to(auth::login))
                .route("/signup", get().to(auth::signup_form))
                .route("/signup", post().to(auth::signup))
                .route("/logout", post().to(auth::logout))
                .route("/settings", get().to(settings::page))
                .route("/settings/profile", post().to(settings::profile))
                .route("/settings/password", post().to(settings::password))
                .route(
                    "/settings/sessions/end",
                    post().to(settings::sign_out_everywhere),
                )
                .route("/settings/tokens", post().to(settings::create_token))
                .route(
                    "/settings/tokens/created/{flash}",
                    get().to(settings::token_created),
                )
                .route("/settings/tokens/revoke", post().to(settings::revoke_token))
                .route("/settings/delete", post().to(settings::delete_account))
                .route(
                    "/settings/invitations/accept",
                    post().to(invitations::accept),
                )
                .route(
                    "/settings/invitations/decline",
                    post().to(invitations::decline),
                )
                .route("/settings/signing", get().to(signing::page))
                .route("/settings/signing/keys", post().to(signing::add))
                .route("/settings/signing/keys/remove", post().to(signing::remove))
                .route("/settings/signing/policy", post().to(signing::policy))
                .route("/admin", get().to(admin::status))
                .route("/admin/users", get().to(admin::users))
                .route("/admin/users/{name}", get().to(admin::user))
                .route("/admin/users/{name}", post().to(admin::user_action))
                .route("/admin/orgs", get().to(admin::orgs))
                .route("/admin/storage", get().to(admin::storage))
                .route("/admin/audit", get().to(admin::audit_log))
                .route("/login/new-password", post().to(auth::new_password))
                .route("/password/forgot", get().to(password_reset::forgot_form))
                .route("/password/forgot", post().to(password_reset::forgot))
                .route(
                    "/password/reset/{ticket}",
                    get().to(password_reset::reset_form),
                )
                .route("/password/reset/{ticket}", post().to(password_reset::reset))
                .route("/u/{name}", get().to(users::page))
                .route("/orgs/new", get().to(orgs::new_form))
                .route("/orgs/new", post().to(orgs::create))
                .route("/o/{org}", get().to(orgs::page))
                .route("/o/{org}/leave", post().to(orgs::leave))
                .service(
                    web::scope("/o/{org}/settings")
                        .route("", get().to(org_settings::page))
                        .route("/profile", post().to(org_settings::save_profile))
                        .route("/audit", get().to(admin::org_audit_log))
                        .route("/members", post().to(org_settings::set_member))
                        .route("/members/remove", post().to(org_settings::remove_member))
                        .route(
                            "/invitations/cancel",
                            post().to(org_settings::cancel_invitation),
                        )
                        .route("/teams", post().to(org_settings::create_team))
                        .route("/teams/members", post().to(org_settings::add_team_member))
                        .route(
                            "/teams/members/remove",
                            post().to(org_settings::remove_team_member),
                        )
                        .route("/teams/grants", post().to(org_settings::set_grant))
                        .route(
                            "/teams/grants/remove",
                            post().to(org_settings::remove_grant),
                        )
                        .route("/robots", post().to(org_settings::create_robot))
                        .route(
                            "/robots/created/{flash}",
                            get().to(org_settings::robot_created),
                        )
                        .route("/robots/revoke", post().to(org_settings::revoke_robot))
                        .route("/immutable-tags", post().to(org_settings::immutable_tags))
                        .route("/retention", post().to(org_settings::save_retention))
                        .route(
                            "/retention/preview",
                            post().to(org_settings::preview_retention),
                        )
                        .route(
                            "/retention/remove",
                            post().to(org_settings::remove_retention),
                        )
                        .route("/quota", post().to(org_settings::set_quota))
                        .route("/signing", get().to(signing::page))
                        .route("/signing/keys", post().to(signing::add))
                        .route("/signing/keys/remove", post().to(signing::remove))
                        .route("/signing/policy", post().to(signing::policy))
                        .route("/webhooks/{id}", get().to(webhooks::org_page))
                        .route("/webhooks", post().to(webhooks::org_post))
                        .route("/webhooks/{id}", post().to(webhooks::org_post))
                        .route("/webhooks/{id}/{action}", post().to(webhooks::org_post))
                        .route("/delete", post().to(org_settings::delete_org)),
                )
                .default_service(web::to(error::not_found)),
        );
}

/// GET, and HEAD with the same headers (the server drops the body).
fn get() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Renders a page with `status`; for an anonymous visitor without one, sets the CSRF cookie
/// its forms are checked against.
pub fn render<T: Template>(
    viewer: &Viewer,
    status: StatusCode,
    page: &T,
) -> Result<HttpResponse, PageError> {
    let html = page.render().map_err(|e| {
        tracing::error!(error = %e, "rendering a page");
        PageError::internal()
    })?;
    let mut resp = HttpResponse::build(status);
    resp.content_type("text/html; charset=utf-8");
    if let Some(cookie) = viewer.new_csrf_cookie() {
        resp.cookie(cookie);
    }
    Ok(resp.body(html))
}

/// Where a repository's page lives.
pub fn repository_url(name: &str) -> String {
    format!("/r/{name}")
}

/// `303 See Other` to a local path: the GET after a successful POST.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_owned()))
        .finish()
}
