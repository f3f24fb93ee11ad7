#![cfg(feature = "e2e")]
//! The browser harness works end to end: a real Chromium opens a real Berth's home page, which
//! is styled by its own stylesheet, served under a Content-Security-Policy that forbids inline
//! script, and opens no dialog.

use crate::common;

use common::browser::Browser;
use common::*;

#[tokio::test]
async fn home_page_renders_in_chromium_with_its_stylesheet_under_a_strict_csp() {
    let app = TestApp::start().await;

    let r = app.anonymous.get(app.url("/")).send().await.expect("GET /");
    assert!(r.status().is_success(), "GET / answered {}", r.status());
    let csp = header(&r, "content-security-policy");
    assert!(
        !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
        "the home page's CSP allows inline script or eval: {csp}"
    );
    assert!(
        csp.contains("default-src") || csp.contains("script-src"),
        "the home page's CSP restricts no scripts: {csp}"
    );

    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await;
    assert_eq!(browser.current_path().await, "/");
    let title = browser.title().await;
    assert!(title.contains("Berth"), "page title: {title:?}");

    // Chromium's default body is black 16px Times with an 8px margin; berth.css changes at
    // least one of them, which shows the stylesheet arrived and the CSP let it apply.
    let body = browser
        .execute(
            "const s = getComputedStyle(document.body);
             return [s.fontFamily, s.margin, s.color, s.backgroundColor].join(' | ');",
        )
        .await;
    let body = body.as_str().unwrap_or_default().to_owned();
    let default = r#""Times New Roman" | 8px | rgb(0, 0, 0) | rgba(0, 0, 0, 0)"#;
    assert_ne!(body, default, "the body has Chromium's default style");
    let sheets = browser
        .execute("return Array.from(document.styleSheets).filter(s => s.href && new URL(s.href).pathname.endsWith('.css')).length;")
        .await;
    assert!(sheets.as_u64().unwrap_or(0) >= 1, "no stylesheet loaded");

    browser.assert_no_alert().await;
    let violations: Vec<String> = browser
        .console()
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "CSP violations: {violations:#?}");

    let (desktop, phone) = browser.screenshot("home-empty").await;
    assert!(desktop.exists() && phone.exists());
    browser.close().await;
}

/// The helpers other browser tests lean on do what they say: typing and submitting a form
/// lands on the page it leads to, and a dialog or a `window.__pwned` set by a script fails
/// `assert_no_alert`.
#[tokio::test]
async fn harness_fills_and_submits_forms_and_catches_dialogs() {
    use futures::FutureExt;

    let app = TestApp::start().await;
    let browser = Browser::start().await;

    // A form on a data: page (no CSP there) that sends a GET to the app.
    let form = format!(
        "data:text/html,<form class=probe action='{}/' method=get>\
         <input id=q name=q><button>Go</button></form>",
        app.base
    );
    browser.goto(&form).await;
    browser.fill("#q", "hello").await;
    browser.fill("#q", "busybox").await;
    browser.submit("form.probe").await;
    assert_eq!(browser.current_path().await, "/");
    assert!(browser.current_url().await.ends_with("/?q=busybox"));
    assert!(browser.exists("body").await);
    assert!(!browser.exists("#q").await);
    browser.assert_no_alert().await;

    browser
        .goto("data:text/html,<p id=x>hi</p><script>alert('xss')</script>")
        .await;
    let caught = std::panic::AssertUnwindSafe(browser.assert_no_alert())
        .catch_unwind()
        .await;
    assert!(caught.is_err(), "an open alert went unnoticed");
    // assert_no_alert dismissed it, so the page is usable again.
    assert_eq!(browser.text("#x").await, "hi");

    browser
        .goto("data:text/html,<script>window.__pwned = 1</script>")
        .await;
    let caught = std::panic::AssertUnwindSafe(browser.assert_no_alert())
        .catch_unwind()
        .await;
    assert!(caught.is_err(), "window.__pwned went unnoticed");

    browser.close().await;
}
