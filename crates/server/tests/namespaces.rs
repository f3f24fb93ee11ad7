//! A name that already holds content cannot be claimed by signing up or creating an
//! organization: whoever took it would inherit that content. Site administrators hand such a
//! namespace over deliberately, through the API or the command line.

use crate::common;

use common::web::{browser, submit};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn sign_up_status(app: &TestApp, name: &str) -> (StatusCode, Value) {
    let r = app
        .anonymous
        .post(app.url("/api/v1/users"))
        .json(&json!({
            "username": name,
            "email": format!("{name}@example.com"),
            "password": "a long password",
        }))
        .send()
        .await
        .expect("sign up");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_namespace_with_content_cannot_be_claimed_by_signing_up() {
    let app = TestApp::start().await;
    // An administrator keeps a private image under a namespace nobody has taken.
    app.push_image("toolsns/base", "v1", b"internal tools")
        .await;
    let r = app
        .request(Method::PATCH, "/api/v1/repositories/toolsns/base")
        .json(&json!({"visibility": "private"}))
        .send()
        .await
        .expect("make private");
    assert_eq!(r.status(), StatusCode::OK);

    let (status, body) = sign_up_status(&app, "toolsns").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("toolsns/"), "{message}");
    // The sign-up page says so too.
    let client = browser();
    let r = submit(
        &client,
        &app,
        "/signup",
        "/signup",
        &[
            ("username", "toolsns"),
            ("email", "t@example.com"),
            ("password", "a long password"),
            ("password_confirmation", "a long password"),
        ],
    )
    .await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.text().await.expect("page").contains("toolsns/"));

    // Nor by creating an organization.
    let bob = sign_up_basic(&app, "bobby").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&bob),
        Some(json!({"name": "toolsns"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&bob),
        Some(json!({"name": "toolsns", "claim": true})),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "only administrators claim"
    );
    let r = call(
        &app,
        Method::GET,
        "/v2/toolsns/base/tags/list",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "still private");

    // An upload session holds a namespace too.
    app.start_upload("halfdone/app").await;
    assert_eq!(
        sign_up_status(&app, "halfdone").await.0,
        StatusCode::CONFLICT
    );
    // A free name is still free.
    assert_eq!(
        sign_up_status(&app, "freename").await.0,
        StatusCode::CREATED
    );

    // An administrator hands the namespace to a new organization, deliberately.
    let r = app
        .request(Method::POST, "/api/v1/orgs")
        .json(&json!({"name": "toolsns", "claim": true}))
        .send()
        .await
        .expect("claim");
    assert_eq!(r.status(), StatusCode::CREATED);
    let org: Value = app.json("/api/v1/orgs/toolsns").await;
    assert_eq!(org["name"], "toolsns");
    let r = app.get("/v2/toolsns/base/tags/list").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_command_line_hands_a_namespace_to_an_organization() {
    let app = TestApp::start().await;
    app.push_image("legacy/app", "v1", b"old content").await;
    sign_up(&app, "carol").await;
    let run = |extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.args(["admin", "create-org", "legacy", "--owner", "carol"])
            .args(extra)
            .args(["--database-url", &app.config.database_url])
            .arg("--data-dir")
            .arg(&app.config.data_dir)
            .env_remove("BERTH_DATABASE_URL")
            .env_remove("BERTH_DATA_DIR");
        run_command(cmd)
    };
    let out = run(&[]).await;
    assert!(!out.status.success(), "refused without --claim");
    assert!(
        out.stderr_text().contains("legacy/"),
        "{}",
        out.stderr_text()
    );
    let out = run(&["--claim"]).await;
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(out
        .stdout_text()
        .contains("created organization legacy owned by carol"));
    // Carol owns it now, with its content.
    let r = push_blob_as(
        &app,
        &basic("carol", "carol password"),
        "legacy/app",
        b"new",
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}
