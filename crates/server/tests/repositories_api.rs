//! `/api/v1/repositories`: create, read, change and delete repositories as account objects.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn create_read_update_and_delete_a_repository() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    use reqwest::Method as M;

    // Create: in one's own namespace only, with valid input.
    let r = call(
        &app,
        M::POST,
        "/api/v1/repositories",
        None,
        Some(json!({"namespace":"alice","name":"app"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = call(
        &app,
        M::POST,
        "/api/v1/repositories",
        Some(&bob),
        Some(json!({"namespace":"alice","name":"app"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for bad in [
        json!({"namespace":"alice","name":"Bad Name"}),
        json!({"namespace":"alice","name":"app","visibility":"secret"}),
        json!({"namespace":"alice","name":"app","owner":"bobby"}),
        json!({"namespace":"alice","name":"app","description": "x".repeat(101)}),
    ] {
        let r = call(
            &app,
            M::POST,
            "/api/v1/repositories",
            Some(&alice),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let v: Value = r.json().await.expect("json error");
        assert!(v["error"]["message"].is_string());
    }
    let r = call(
        &app,
        M::POST,
        "/api/v1/repositories",
        Some(&alice),
        Some(json!({"namespace":"alice","name":"app","visibility":"private","description":"The app"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["repository"], "alice/app");
    assert_eq!(v["private"], true);
    assert_eq!(v["description"], "The app");
    let r = call(
        &app,
        M::POST,
        "/api/v1/repositories",
        Some(&alice),
        Some(json!({"namespace":"alice","name":"app"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Read: private means invisible to others.
    let r = call(
        &app,
        M::GET,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    for auth in [None, Some(bob.as_str())] {
        let r = call(&app, M::GET, "/api/v1/repositories/alice/app", auth, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = call(
            &app,
            M::PATCH,
            "/api/v1/repositories/alice/app",
            auth,
            Some(json!({"visibility":"public"})),
        )
        .await;
        assert!(
            r.status() == StatusCode::NOT_FOUND || r.status() == StatusCode::UNAUTHORIZED,
            "{}",
            r.status()
        );
    }

    // Update: the owner makes it public; then others can read but not change it.
    let r = call(
        &app,
        M::PATCH,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        Some(json!({"visibility":"public","full_description":"# App\nDetails."})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["private"], false);
    assert_eq!(v["full_description"], "# App\nDetails.");
    let r = call(&app, M::GET, "/api/v1/repositories/alice/app", None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(
        &app,
        M::PATCH,
        "/api/v1/repositories/alice/app",
        Some(&bob),
        Some(json!({"visibility":"private"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        M::PATCH,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        Some(json!({"visibility":"hidden"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Delete: removes tags and manifests too.
    let r = app
        .anonymous
        .post(app.url(&format!(
            "/v2/alice/app/blobs/uploads/?digest={}",
            sha256(b"cfg")
        )))
        .header("Authorization", alice.as_str())
        .body("cfg")
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = call(
        &app,
        M::DELETE,
        "/api/v1/repositories/alice/app",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        M::DELETE,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &app,
        M::GET,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.get("/v2/alice/app/tags/list").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");

    // The audit log saw it all.
    let log = berth_accounts::audit::recent(&app.state.accounts.db, 50)
        .await
        .expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "repository.create",
        "repository.visibility",
        "repository.delete",
        "user.create",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn pulls_are_counted_and_pushes_timed() {
    let app = TestApp::start().await;
    let (_, digest) = app.push_image("counted/app", "v1", b"layer").await;
    for reference in ["v1", digest.as_str(), "v1"] {
        let r = app
            .get(&format!("/v2/counted/app/manifests/{reference}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // HEAD requests are not pulls.
    assert_eq!(
        app.head("/v2/counted/app/manifests/v1").await.status(),
        StatusCode::OK
    );
    // The background flush may be writing at the same moment: flush until it has all landed.
    let mut v = serde_json::Value::Null;
    for _ in 0..50 {
        app.state.accounts.flush_counters().await.expect("flush");
        v = app.json("/api/v1/repositories/counted/app").await;
        if v["pull_count"] == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(v["pull_count"], 3);
    assert!(v["last_pushed_at"].as_i64().expect("pushed") > 0);
}

#[tokio::test]
async fn a_deleted_organization_leaves_nothing_for_the_next_owner_of_its_name() {
    let app = TestApp::start().await;
    let olive = sign_up_basic(&app, "olive").await;
    use reqwest::Method as M;
    let r = call(
        &app,
        M::POST,
        "/api/v1/orgs",
        Some(&olive),
        Some(json!({"name":"acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .anonymous
        .post(app.url(&format!(
            "/v2/acme/secret/blobs/uploads/?digest={}",
            sha256(b"s")
        )))
        .header("Authorization", olive.as_str())
        .body("s")
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = call(&app, M::DELETE, "/api/v1/orgs/acme", Some(&olive), None).await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "repositories need confirm=true"
    );
    let r = call(
        &app,
        M::DELETE,
        "/api/v1/orgs/acme?confirm=true",
        Some(&olive),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Someone registers the name again: the old content is gone, not inherited.
    let mallory = sign_up_basic(&app, "acme").await;
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/acme/secret/blobs/{}", sha256(b"s"))))
        .header("Authorization", mallory.as_str())
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.get("/v2/acme/secret/tags/list").await;
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
}
