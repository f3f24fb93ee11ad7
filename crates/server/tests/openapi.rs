//! The OpenAPI document describes the API that is really there: every documented operation is
//! routed (it answers with the API's own JSON, not the router's bare 404/405), and every route
//! that needs a user refuses an anonymous caller.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn every_documented_operation_exists_and_checks_who_asks() {
    let app = TestApp::start().await;
    let doc = app.json("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10, "the document lists the API");
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path
            .replace("{namespace}", "alice")
            .replace("{name}", "app")
            .replace("{org}", "acme")
            .replace("{user}", "bobby")
            .replace("{team}", "devs")
            .replace("{repo}", "app")
            .replace("{id}", "1")
            .replace("{tag}", "latest")
            .replace("{delivery}", "d1")
            .replace("{token}", "t1");
        for (method, op) in ops.as_object().expect("operations") {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let mut req = app
                .anonymous
                .request(m.clone(), app.url(&format!("/api/v1{concrete}")));
            if op.get("requestBody").is_some() {
                req = req.json(&serde_json::json!({}));
            }
            let r = req.send().await.expect("request");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            // Public reads (search) answer; everything else refuses with the API's error.
            assert!(
                body["error"]["code"].is_string() || (status.is_success() && body.is_object()),
                "{method} {path}: {status} without the API's JSON, so not routed"
            );
            let secured = op.get("security").is_some();
            let reads_public = m == Method::GET;
            if secured && !reads_public && status != StatusCode::BAD_REQUEST {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} without credentials"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} operations checked");
}

/// Makes an access token for `auth` (a user's password) through the API; returns the secret.
async fn token(app: &TestApp, auth: &str, name: &str, scope: &str) -> String {
    let r = call(
        app,
        Method::POST,
        "/api/v1/user/tokens",
        Some(auth),
        Some(serde_json::json!({"name": name, "scope": scope})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "token {name}");
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_owned()
}

/// Whether an operation administers something: keys, policies, webhooks, members, teams,
/// robots, tokens, passwords, sessions, invitations, settings, or deletes anything.
fn administers(method: &Method, path: &str) -> bool {
    const WORDS: &[&str] = &[
        "signing-keys",
        "signing-policy",
        "webhooks",
        "members",
        "teams",
        "robots",
        "tokens",
        "password",
        "active",
        "sessions",
        "invitations",
        "retention",
    ];
    WORDS.iter().any(|w| path.contains(w))
        || (*method == Method::DELETE && !path.ends_with("/star"))
        || (*method == Method::PATCH && path == "/repositories/{namespace}/{name}")
}

/// Every state-changing operation in the OpenAPI document checks the access token's scope
/// before anything else: a `read` token changes nothing, and a `read-write` token administers
/// nothing. (A leaked pull token must not turn signature enforcement off or trust a new key.)
#[tokio::test]
async fn token_scopes_hold_on_every_documented_write() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(serde_json::json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let read = basic("alice", &token(&app, &alice, "pull only", "read").await);
    let read_write = basic("alice", &token(&app, &alice, "ci", "read-write").await);
    let full = basic(
        "alice",
        &token(&app, &alice, "all", "read-write-delete").await,
    );
    let signed_only = |auth: String| {
        let app = &app;
        async move {
            let r = call(
                app,
                Method::GET,
                "/api/v1/user/signing-policy",
                Some(&auth),
                None,
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = r.json().await.expect("json");
            v["signed_only"].clone()
        }
    };
    let policy_before = signed_only(alice.clone()).await;

    let doc = app.json("/api/v1/openapi.json").await;
    let mut refused = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{namespace}", "alice")
            .replace("{name}", "app")
            .replace("{org}", "acme")
            .replace("{user}", "bobby")
            .replace("{team}", "devs")
            .replace("{repo}", "app")
            .replace("{robot}", "bot")
            .replace("{id}", "1")
            .replace("{tag}", "latest")
            .replace("{delivery}", "d1")
            .replace("{token}", "t1");
        for (method, op) in ops.as_object().expect("operations") {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let by_header = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|x| x.get("basic").is_some() || x.get("bearer").is_some())
            });
            if m == Method::GET || !by_header {
                continue;
            }
            let send = |auth: &str| {
                let mut req = app
                    .anonymous
                    .request(m.clone(), app.url(&format!("/api/v1{concrete}")))
                    .header("Authorization", auth);
                if op.get("requestBody").is_some() {
                    req = req.json(&serde_json::json!({"signed_only": false}));
                }
                req.send()
            };
            let r = send(&read).await.expect("request");
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} with a read token"
            );
            let v: Value = r.json().await.expect("json");
            assert_eq!(v["error"]["code"], "insufficient_scope", "{method} {path}");
            refused += 1;
            if administers(&m, path) {
                let r = send(&read_write).await.expect("request");
                assert_eq!(
                    r.status(),
                    StatusCode::FORBIDDEN,
                    "{method} {path} with a read-write token"
                );
                let v: Value = r.json().await.expect("json");
                assert_eq!(v["error"]["code"], "insufficient_scope", "{method} {path}");
            }
        }
    }
    assert!(refused >= 30, "{refused} operations checked");
    assert_eq!(signed_only(alice.clone()).await, policy_before);

    // The scopes allow what they are for: a read-write token stars and comments, a
    // read-write-delete token administers.
    app.push_image("alice/app", "v1", b"layer").await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/repositories/alice/app/star",
        Some(&read_write),
        None,
    )
    .await;
    assert!(
        r.status().is_success(),
        "star with read-write: {}",
        r.status()
    );
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/user/signing-policy",
        Some(&full),
        Some(serde_json::json!({"signed_only": true})),
    )
    .await;
    assert!(
        r.status().is_success(),
        "policy with read-write-delete: {}",
        r.status()
    );
    assert_eq!(signed_only(full).await, Value::Bool(true));
}

/// The document as the app serves it, against snapshots/openapi__openapi_document.snap: a
/// change to the API's description is a diff to review, not a silent edit.
#[tokio::test]
async fn the_served_document_matches_its_snapshot() {
    let app = TestApp::start().await;
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "application/json");
    let doc: Value = r.json().await.expect("the document is JSON");
    insta::with_settings!({omit_expression => true}, {
        insta::assert_json_snapshot!("openapi_document", doc);
    });
}
