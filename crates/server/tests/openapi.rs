//! The OpenAPI document describes the API that is really there: every documented operation is
//! routed (it answers with the API's own JSON, not the router's bare 404/405), and every route
//! that needs a user refuses an anonymous caller.

mod common;

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
