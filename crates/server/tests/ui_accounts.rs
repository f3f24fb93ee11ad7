#![cfg(feature = "e2e")]
//! Accounts in a real browser: the most common passwords are refused wherever a password is
//! chosen, and a failed log-in keeps the name and puts the cursor in the password field.

use crate::common;

use common::browser::Browser;
use common::ui::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn the_most_common_passwords_are_refused_at_sign_up_and_password_change() {
    let app = TestApp::start().await;
    let browser = Browser::start().await;

    // Sign-up with a common password, in any case, is refused in words; the form keeps the
    // name and email.
    for common in ["password1", "Qwerty123"] {
        browser.goto(&app.url("/signup")).await;
        browser.fill("#username", "erin").await;
        browser.fill("#email", "erin@example.com").await;
        browser.fill("#password", common).await;
        browser.fill("#password_confirmation", common).await;
        browser.submit("form[action='/signup']").await;
        let error = browser.text(".form-error").await;
        assert!(
            error.contains("10,000 most common passwords"),
            "{common}: {error}"
        );
        assert_eq!(
            browser.attr("#username", "value").await.as_deref(),
            Some("erin")
        );
        assert!(
            !browser.exists("details.menu").await,
            "signed up with {common}"
        );
    }
    screenshots(&browser, "signup-common-password").await;

    // The API refuses it the same way.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/users",
        None,
        Some(json!({"username": "erin", "email": "erin@example.com", "password": "iloveyou"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("most common"),
        "{body}"
    );

    // A good one is taken; changing it to a common one is refused, and the old one still works.
    sign_up_in(&browser, &app, "erin").await;
    browser.goto(&app.url("/settings#password")).await;
    browser.fill("#current_password", &password("erin")).await;
    browser.fill("#new_password", "qwerty123").await;
    browser
        .fill("#new_password_confirmation", "qwerty123")
        .await;
    browser.submit("form[action='/settings/password']").await;
    let error = browser.text("#password .form-error").await;
    assert!(error.contains("most common"), "{error}");
    log_out(&browser).await;
    log_in(&browser, &app, "erin").await;

    browser.close().await;
}

#[tokio::test]
async fn a_failed_log_in_keeps_the_name_and_focuses_the_password() {
    let app = TestApp::start().await;
    sign_up(&app, "frank").await;
    let browser = Browser::start().await;

    browser.goto(&app.url("/login")).await;
    let focused = browser.execute("return document.activeElement.id;").await;
    assert_eq!(focused, "username", "a fresh form starts at the name");

    browser.fill("#username", "frank").await;
    browser.fill("#password", "not frank's password").await;
    browser.submit("form[action='/login']").await;
    assert!(browser
        .text(".form-error")
        .await
        .to_lowercase()
        .contains("incorrect"));
    assert_eq!(
        browser.attr("#username", "value").await.as_deref(),
        Some("frank"),
        "the name is kept"
    );
    let focused = browser.execute("return document.activeElement.id;").await;
    assert_eq!(focused, "password", "the password field has the focus");
    screenshots(&browser, "login-failed").await;

    // Typing straight away goes into the password field.
    browser.fill("#password", "frank password").await;
    browser.submit("form[action='/login']").await;
    assert_signed_in_as(&browser, "frank").await;

    browser.close().await;
}
