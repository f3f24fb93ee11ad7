#![cfg(feature = "e2e")]
//! Site administration in a real browser: the administrator finds users, deactivates and
//! reactivates one, makes another an administrator and forces a third to choose a new
//! password; reads the audit log through its filters (and the API); and an organization's
//! owner reads the organization's own log, which its members and everyone else cannot find.

use crate::common;

use common::browser::Browser;
use common::ui::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Logs in through `/login` with a password of the caller's choosing.
async fn log_in_with(browser: &Browser, app: &TestApp, name: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#username", name).await;
    browser.fill("#password", password).await;
    browser.submit("form[action='/login']").await;
}

/// The login form refused the attempt (the page is the form again, with its error).
async fn assert_refused(browser: &Browser, what: &str) {
    assert!(
        browser.exists(".form-error").await && browser.exists("form[action='/login']").await,
        "{what}: expected the login form with an error on {}",
        browser.current_url().await
    );
    assert!(!browser.exists("details.menu").await, "{what}: signed in");
}

/// Ticks nothing: a confirmation box left empty (its `required` removed, as a browser
/// without form validation would send it) is refused by the server too.
async fn submit_unconfirmed(browser: &Browser, form: &str, checkbox: &str) {
    browser
        .execute(&format!(
            "document.querySelector({}).required = false;",
            serde_json::to_string(checkbox).expect("css as JSON")
        ))
        .await;
    browser.submit(form).await;
    assert!(
        browser.text(".form-error").await.contains("Tick the box"),
        "an unconfirmed {form} is refused"
    );
}

async fn api_status(app: &TestApp, path: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let r = call(app, Method::GET, path, auth, None).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn column(browser: &Browser, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in browser.find_all(css).await {
        out.push(e.text().await.expect("cell text").trim().to_owned());
    }
    out
}

#[tokio::test]
async fn a_site_admin_manages_users_and_nobody_else_finds_the_pages() {
    let app = TestApp::start().await;

    // bobby and carol sign up and stay signed in, each in a browser of their own.
    let bobby = Browser::start().await;
    sign_up_in(&bobby, &app, "bobby").await;
    let carol = Browser::start().await;
    sign_up_in(&carol, &app, "carol").await;

    // Neither of them, nor an anonymous visitor, finds /admin or reads the audit log.
    assert!(
        !carol.exists("a[href='/admin']").await,
        "no admin link for carol"
    );
    for page in [
        "/admin",
        "/admin/users",
        "/admin/users/bobby",
        "/admin/audit",
    ] {
        carol.goto(&app.url(page)).await;
        assert_error_page(&carol, 404, &format!("carol opening {page}")).await;
    }
    let anonymous = Browser::start().await;
    for page in ["/admin", "/admin/orgs", "/admin/storage"] {
        anonymous.goto(&app.url(page)).await;
        assert_error_page(&anonymous, 404, &format!("an anonymous visitor on {page}")).await;
    }
    let carol_auth = basic("carol", &password("carol"));
    let (status, body) = api_status(&app, "/api/v1/audit", Some(&carol_auth)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "carol on the audit API: {body}"
    );
    assert!(body["error"]["code"].is_string(), "{body}");
    let (status, body) = api_status(&app, "/api/v1/audit", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "anonymous on the audit API"
    );
    assert!(body["error"]["code"].is_string(), "{body}");

    // The administrator logs in; the menu leads to /admin and its status.
    let admin = Browser::start().await;
    log_in_with(&admin, &app, ADMIN, ADMIN_PASSWORD).await;
    assert_signed_in_as(&admin, ADMIN).await;
    admin.click("details.menu > summary").await;
    admin.click_and_wait("details.menu a[href='/admin']").await;
    assert_eq!(admin.current_path().await, "/admin");
    let backend = if backend_is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    assert_eq!(admin.text("#status-backend").await.trim(), backend);
    assert!(admin.text("#status-version").await.starts_with("Berth "));
    assert_eq!(admin.text("#status-gc").await.trim(), "None yet");
    screenshots(&admin, "admin-status").await;
    // After a collection the status names it.
    let r = app
        .request(Method::POST, "/api/v1/admin/gc")
        .json(&json!({"dry_run": true}))
        .send()
        .await
        .expect("gc");
    assert_eq!(r.status(), StatusCode::OK);
    admin.goto(&app.url("/admin")).await;
    let gc = admin.text("#status-gc").await;
    assert!(
        gc.contains("dry run") && gc.contains("api by admin1"),
        "{gc}"
    );

    // The search finds by the start of a name or of an email.
    admin
        .click_and_wait("nav.tabs a[href='/admin/users']")
        .await;
    admin.fill("#user-q", "bob").await;
    admin.submit("form[action='/admin/users']").await;
    assert_eq!(admin.current_path().await, "/admin/users");
    assert_eq!(column(&admin, "#users tbody th").await, ["bobby"]);
    admin.goto(&app.url("/admin/users?q=CAROL%40example")).await;
    assert_eq!(column(&admin, "#users tbody th").await, ["carol"]);
    admin.goto(&app.url("/admin/users?q=nobody-at-all")).await;
    assert!(admin.text(".empty").await.contains("nobody-at-all"));
    admin.goto(&app.url("/admin/users")).await;
    assert_eq!(
        column(&admin, "#users tbody th").await,
        ["admin1", "bobby", "carol"]
    );
    screenshots(&admin, "admin-users").await;

    // bobby is deactivated (after a refused attempt without the confirmation): his session
    // ends and he cannot log in; reactivated, he can.
    admin
        .click_and_wait("#users a[href='/admin/users/bobby']")
        .await;
    screenshots(&admin, "admin-user").await;
    submit_unconfirmed(&admin, "#deactivate", "#confirm-deactivate").await;
    admin.click("#confirm-deactivate").await;
    admin.submit("#deactivate").await;
    assert!(admin.text(".notice").await.starts_with("Deactivated"));
    assert!(admin
        .text("#user-standing")
        .await
        .starts_with("Deactivated"));
    bobby.goto(&app.url("/settings")).await;
    assert!(!bobby.exists("details.menu").await, "bobby's session ended");
    log_in_with(&bobby, &app, "bobby", &password("bobby")).await;
    assert_refused(&bobby, "a deactivated bobby").await;
    admin.submit("#activate").await;
    assert!(admin.text(".notice").await.starts_with("Reactivated"));
    log_in(&bobby, &app, "bobby").await;

    // bobby becomes an administrator: his menu has the link, and /admin opens for him.
    admin.submit("#grant-admin").await;
    assert!(admin
        .text("#user-standing")
        .await
        .contains("site administrator"));
    bobby.goto(&app.url("/admin/users")).await;
    assert_eq!(bobby.current_path().await, "/admin/users");
    assert!(bobby.exists("details.menu a[href='/admin']").await);
    // Nobody changes their own standing: bobby's page of himself has no forms.
    bobby.goto(&app.url("/admin/users/bobby")).await;
    assert!(!bobby.exists("#revoke-admin").await && !bobby.exists("#deactivate").await);
    // Taken back (confirmed), /admin is a 404 for him again.
    admin.goto(&app.url("/admin/users/bobby")).await;
    admin.click("#confirm-revoke-admin").await;
    admin.submit("#revoke-admin").await;
    assert!(admin.text(".notice").await.contains("no longer"));
    bobby.goto(&app.url("/admin")).await;
    assert_error_page(&bobby, 404, "bobby, no longer an administrator").await;

    // carol must choose a new password: her session ends, her password opens only the form
    // that replaces it (not the API), a common password is refused there, and afterwards
    // only the new one works.
    admin.goto(&app.url("/admin/users/carol")).await;
    admin.click("#confirm-force-reset").await;
    admin.submit("#force-reset").await;
    assert!(admin.text(".notice").await.starts_with("Reset forced"));
    carol.goto(&app.url("/settings")).await;
    assert!(!carol.exists("details.menu").await, "carol's session ended");
    let (status, _) = api_status(&app, "/api/v1/user", Some(&carol_auth)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password on the API"
    );
    log_in_with(&carol, &app, "carol", &password("carol")).await;
    assert_eq!(
        carol.text("h1").await,
        "Choose a new password",
        "carol is asked for a new password"
    );
    assert!(
        !carol.exists("details.menu").await,
        "not signed in before choosing"
    );
    screenshots(&carol, "new-password").await;
    carol.fill("#new-password", "password123").await;
    carol
        .fill("#new-password-confirmation", "password123")
        .await;
    carol.submit("form[action='/login/new-password']").await;
    assert!(carol.text(".form-error").await.contains("most common"));
    let fresh = "carol's fresh passphrase";
    carol.fill("#new-password", fresh).await;
    carol.fill("#new-password-confirmation", fresh).await;
    carol.submit("form[action='/login/new-password']").await;
    assert_signed_in_as(&carol, "carol").await;
    log_out(&carol).await;
    log_in_with(&carol, &app, "carol", &password("carol")).await;
    assert_refused(&carol, "carol's old password").await;
    log_in_with(&carol, &app, "carol", fresh).await;
    assert_signed_in_as(&carol, "carol").await;

    // Every change is in the audit log, under the administrator's name.
    let log = app.json("/api/v1/audit?actor=admin1&action=user.").await;
    let actions: Vec<(&str, &str)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for expected in [
        ("user.deactivate", "bobby"),
        ("user.activate", "bobby"),
        ("user.admin.grant", "bobby"),
        ("user.admin.revoke", "bobby"),
        ("user.password_force_reset", "carol"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }

    for b in [admin, bobby, carol, anonymous] {
        b.close().await;
    }
}

#[tokio::test]
async fn the_audit_log_filters_and_each_organization_sees_its_own() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    let carol = Browser::start().await;
    sign_up_in(&carol, &app, "carol").await;
    let alice_auth = basic("alice", &password("alice"));
    let carol_auth = basic("carol", &password("carol"));
    let dave_auth = sign_up_basic(&app, "dave").await;

    // alice founds acme and invites carol as a member; dave founds umbrella.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice_auth),
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "acme");
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&dave_auth),
        Some(json!({"name": "umbrella"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "umbrella");
    invite_and_accept(
        &app,
        &alice_auth,
        "/api/v1/orgs/acme/members/carol",
        Some(json!({"role": "member"})),
        &carol_auth,
    )
    .await;
    app.push_image("acme/app", "1.0", b"a layer of acme's app")
        .await;

    // The administrator filters the log on its page.
    let admin = Browser::start().await;
    log_in_with(&admin, &app, ADMIN, ADMIN_PASSWORD).await;
    admin.goto(&app.url("/admin/audit")).await;
    admin.fill("#audit-action", "org.create").await;
    admin.submit("form.audit-filters").await;
    assert_eq!(
        column(&admin, "#audit .audit-action").await,
        ["org.create", "org.create"]
    );
    assert_eq!(
        column(&admin, "#audit .audit-target").await,
        ["umbrella", "acme"]
    );
    screenshots(&admin, "admin-audit").await;
    admin.fill("#audit-actor", "alice").await;
    admin.submit("form.audit-filters").await;
    assert_eq!(column(&admin, "#audit .audit-target").await, ["acme"]);
    assert_eq!(
        admin.attr("#audit-actor", "value").await.as_deref(),
        Some("alice")
    );
    // A target finds itself and what is under it, whoever acted.
    admin.goto(&app.url("/admin/audit?target=acme")).await;
    let targets = column(&admin, "#audit .audit-target").await;
    assert!(
        !targets.is_empty()
            && targets
                .iter()
                .all(|t| t == "acme" || t.starts_with("acme/")),
        "{targets:?}"
    );
    // A prefix of actions, and time: a day long past matches nothing, and from then on
    // everything.
    admin
        .goto(&app.url("/admin/audit?action=org.&actor=alice"))
        .await;
    let acts = column(&admin, "#audit .audit-action").await;
    assert!(
        acts.contains(&"org.create".to_owned()) && acts.contains(&"org.invite".to_owned()),
        "{acts:?}"
    );
    admin
        .goto(&app.url("/admin/audit?action=org.create&since=2001-01-01&until=2001-01-31"))
        .await;
    assert_eq!(
        admin.text("#audit-empty").await,
        "No entries match these filters."
    );
    admin
        .goto(&app.url("/admin/audit?action=org.create&since=2001-01-01"))
        .await;
    assert_eq!(column(&admin, "#audit .audit-action").await.len(), 2);
    admin.goto(&app.url("/admin/audit?since=yesterday")).await;
    assert_error_page(&admin, 400, "a time that is not one").await;

    // The same filters on the API.
    let entries = |v: &Value| v["entries"].as_array().cloned().unwrap_or_default();
    let all = app.json("/api/v1/audit?action=org.create").await;
    assert_eq!(entries(&all).len(), 2, "{all}");
    assert_eq!(all["next_page"], Value::Null);
    let at = entries(&all)[0]["at"].as_i64().expect("at");
    let one = app.json("/api/v1/audit?action=org.create&actor=dave").await;
    assert_eq!(entries(&one).len(), 1);
    assert_eq!(entries(&one)[0]["target"], "umbrella");
    let later = app
        .json(&format!(
            "/api/v1/audit?action=org.create&since={}",
            at + 3600
        ))
        .await;
    assert!(
        entries(&later).is_empty(),
        "nothing after the last: {later}"
    );
    let until = app
        .json(&format!(
            "/api/v1/audit?action=org.create&until={}",
            at + 3600
        ))
        .await;
    assert_eq!(entries(&until).len(), 2);
    let none = app.json("/api/v1/audit?target=nobody-here").await;
    assert!(entries(&none).is_empty());
    let r = app.get("/api/v1/audit?until=soon").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Organizations and storage, each with their counts.
    admin.goto(&app.url("/admin/orgs")).await;
    assert_eq!(column(&admin, "#orgs tbody th").await, ["acme", "umbrella"]);
    assert_eq!(
        column(&admin, "#orgs tbody td.num").await,
        ["2", "1", "1", "0"]
    );
    screenshots(&admin, "admin-orgs").await;
    admin.goto(&app.url("/admin/storage")).await;
    let names = column(&admin, "#storage tbody th").await;
    assert_eq!(
        names,
        ["acme", "admin1", "alice", "carol", "dave", "umbrella"]
    );
    // Used and quota, row by row: acme's usage comes first.
    let used = column(&admin, "#storage tbody td.num").await;
    assert!(!used[0].starts_with('0'), "acme stores its image: {used:?}");
    screenshots(&admin, "admin-storage").await;

    // alice, acme's owner, reads acme's log: its creation, carol's invitation, not umbrella.
    alice.goto(&app.url("/o/acme/settings")).await;
    alice
        .click_and_wait("nav.tabs a[href='/o/acme/settings/audit']")
        .await;
    let acts = column(&alice, "#audit .audit-action").await;
    assert!(
        acts.contains(&"org.create".to_owned()) && acts.contains(&"org.invite".to_owned()),
        "{acts:?}"
    );
    let page = html(&alice).await;
    assert!(
        !page.contains("umbrella"),
        "acme's log shows umbrella's entries"
    );
    screenshots(&alice, "org-audit").await;
    alice
        .goto(&app.url("/o/acme/settings/audit?action=org.create"))
        .await;
    assert_eq!(column(&alice, "#audit .audit-target").await, ["acme"]);
    alice
        .goto(&app.url("/o/acme/settings/audit?actor=dave"))
        .await;
    assert_eq!(
        alice.text("#audit-empty").await,
        "No entries match these filters."
    );
    alice.goto(&app.url("/o/umbrella/settings/audit")).await;
    assert_error_page(&alice, 404, "alice on umbrella's log").await;

    // carol, a mere member, finds no log.
    carol.goto(&app.url("/o/acme/settings/audit")).await;
    assert_error_page(&carol, 404, "a member on acme's log").await;

    for b in [admin, alice, carol] {
        b.close().await;
    }
}
