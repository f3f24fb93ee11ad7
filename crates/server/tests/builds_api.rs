//! The builds API without a Docker Engine: linking sources (what is refused and what is kept
//! secret), build rules, who may see and start builds, push events' signatures, and what
//! happens while builds are off.

use std::sync::Arc;

use berth_webhooks::guard::Allowlist;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common;
use common::git::{gitea_push, github_push, NO_COMMIT};
use common::*;

/// A Berth whose builds are on, with an Engine that is not there: builds are queued, and fail
/// when the worker reaches them.
async fn app_with_builds() -> TestApp {
    TestApp::start_with(|c| {
        c.builds.docker_host = Some("unix:///nonexistent/docker.sock".into());
        c.builds.allowed_sources = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
    })
    .await
}

async fn create(app: &TestApp, auth: &str, namespace: &str, name: &str, private: bool) {
    let r = app
        .anonymous
        .post(app.url("/api/v1/repositories"))
        .header("Authorization", auth)
        .json(&json!({
            "namespace": namespace,
            "name": name,
            "visibility": if private { "private" } else { "public" },
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

async fn put(app: &TestApp, auth: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .anonymous
        .put(app.url(path))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .expect("PUT");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, auth: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut req = app.anonymous.get(app.url(path));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let r = req.send().await.expect("GET");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn linking_a_source_checks_it_and_keeps_its_secrets() {
    let app = app_with_builds().await;
    let alice = sign_up_basic(&app, "alice").await;
    create(&app, &alice, "alice", "app", false).await;
    let path = "/api/v1/repositories/alice/app/build-source";

    for (body, says) in [
        (json!({"url": "file:///srv/git/app.git"}), "file://"),
        (
            json!({"url": "https://bob:secret@git.example/app.git"}),
            "password",
        ),
        (
            json!({"url": "git://10.1.2.3/app.git"}),
            "builds.allowed_sources",
        ),
        (json!({"url": "ftp://git.example/app.git"}), "ftp"),
        (
            json!({"url": "https://git.example/app.git", "rules": [
                {"source_type": "tag", "source": "/^v([0-9.]+)$/", "tag": "{\\2}"}
            ]}),
            "rule 1",
        ),
        (
            json!({"url": "https://git.example/app.git", "rules": [
                {"source_type": "branch", "source": "main", "tag": "latest", "dockerfile": "../etc/passwd"}
            ]}),
            "rule 1",
        ),
    ] {
        let (status, v) = put(&app, &alice, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{body}: {message}");
    }
    let (status, _) = get(&app, Some(&alice), path).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing was linked by bad input"
    );

    // https with a token: stored, never shown; the default rule builds main as latest.
    let (status, v) = put(
        &app,
        &alice,
        path,
        json!({"url": "https://git.example/alice/app.git", "username": "alice", "password": "tok-123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["has_password"], true);
    assert!(
        !v.to_string().contains("tok-123"),
        "the token is never shown: {v}"
    );
    assert_eq!(v["rules"][0]["source"], "main");
    assert_eq!(v["rules"][0]["tag"], "latest");
    let secret = v["push_secret"].as_str().expect("secret").to_owned();
    assert!(secret.len() >= 32);
    assert!(v["push_url"]
        .as_str()
        .unwrap_or("")
        .starts_with(&format!("{}/api/v1/build-hooks/", app.base)));
    let stored: Vec<u8> = sqlx::query_scalar(
        "SELECT sealed_password FROM build_sources WHERE repository = 'alice/app'",
    )
    .fetch_one(&app.state.pool)
    .await
    .expect("sealed password");
    assert!(
        !String::from_utf8_lossy(&stored).contains("tok-123"),
        "the token is sealed at rest"
    );

    // Switching to ssh makes a deploy key and drops the https credentials.
    let (status, v) = put(
        &app,
        &alice,
        path,
        json!({"url": "ssh://git@git.example/alice/app.git"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["has_password"], false);
    let key = v["deploy_key"].as_str().expect("a deploy key");
    assert!(key.starts_with("ssh-ed25519 "), "{key}");
    assert_eq!(
        v["push_secret"],
        secret.as_str(),
        "the push-event secret stays"
    );
    let (_, again) = put(
        &app,
        &alice,
        path,
        json!({"url": "ssh://git@git.example/alice/app.git"}),
    )
    .await;
    assert_eq!(
        again["deploy_key"], key,
        "the key stays until a new one is asked for"
    );
    let (_, renewed) = put(
        &app,
        &alice,
        path,
        json!({"url": "ssh://git@git.example/alice/app.git", "new_deploy_key": true}),
    )
    .await;
    assert_ne!(renewed["deploy_key"], key);

    // Others: bob sees neither the source nor its secret; rules are readable on a public repo.
    let bob = sign_up_basic(&app, "bobby").await;
    let (status, _) = get(&app, Some(&bob), path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(
        &app,
        &bob,
        path,
        json!({"url": "https://evil.example/x.git"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = get(&app, None, "/api/v1/repositories/alice/app/build-rules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!v.to_string().contains(&secret), "rules carry no secret");

    // The audit log has the link and its changes.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE target = 'alice/app' ORDER BY id")
            .fetch_all(&app.state.pool)
            .await
            .expect("audit");
    assert!(
        actions.iter().any(|a| a == "build.source.link"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "build.source.update"),
        "{actions:?}"
    );

    let r = app
        .anonymous
        .delete(app.url(path))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("unlink");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, Some(&alice), path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn push_events_must_be_signed_and_queue_what_the_autobuild_rules_match() {
    let app = app_with_builds().await;
    let alice = sign_up_basic(&app, "alice").await;
    create(&app, &alice, "alice", "app", false).await;
    let (status, source) = put(
        &app,
        &alice,
        "/api/v1/repositories/alice/app/build-source",
        json!({"url": "https://git.example/alice/app.git", "rules": [
            {"source_type": "branch", "source": "main", "tag": "latest"},
            {"source_type": "branch", "source": "/^release-(.+)$/", "tag": "{\\1}", "autobuild": false},
            {"source_type": "tag", "source": "/^v([0-9.]+)$/", "tag": "{\\1}"},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{source}");
    let url = source["push_url"].as_str().expect("url").to_owned();
    let secret = source["push_secret"].as_str().expect("secret").to_owned();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let clone = "https://git.example/alice/app.git";
    let send = |(headers, body): (Vec<(String, String)>, Vec<u8>), to: String| {
        let client = app.anonymous.clone();
        async move {
            let mut req = client.post(to);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let r = req.body(body).send().await.expect("push event");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, _) = send(
        gitea_push("wrong", "refs/heads/main", NO_COMMIT, commit, clone),
        url.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a bad signature is refused");
    let (mut headers, body) = gitea_push(&secret, "refs/heads/main", NO_COMMIT, commit, clone);
    headers.retain(|(k, _)| !k.to_ascii_lowercase().contains("signature"));
    let (status, _) = send((headers, body), url.clone()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an unsigned event is refused"
    );
    let (status, _) = send(
        gitea_push(&secret, "refs/heads/main", NO_COMMIT, commit, clone),
        format!("{}/api/v1/build-hooks/nosuchhook", app.base),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let count = |app: &TestApp| {
        let pool = app.state.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM builds")
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    assert_eq!(count(&app).await, 0, "refused events queue nothing");

    let (status, v) = send(
        gitea_push(&secret, "refs/heads/main", NO_COMMIT, commit, clone),
        url.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"], "queued");
    assert_eq!(v["builds"][0]["tags"], json!(["latest"]));
    assert_eq!(v["builds"][0]["commit"], commit);
    assert_eq!(v["builds"][0]["trigger"], "push");

    // An autobuild-off rule is not built by a push, but is by "Build now".
    let (status, v) = send(
        github_push(&secret, "refs/heads/release-2", NO_COMMIT, commit, clone),
        url.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["builds"], json!([]), "{v}");
    let r = app
        .anonymous
        .post(app.url("/api/v1/repositories/alice/app/builds"))
        .header("Authorization", &alice)
        .json(&json!({"ref": "release-2"}))
        .send()
        .await
        .expect("build now");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["builds"][0]["tags"], json!(["2"]));
    assert_eq!(v["builds"][0]["trigger"], "manual");

    // A tag rule; a deleted branch builds nothing.
    let (_, v) = send(
        github_push(&secret, "refs/tags/v1.2.3", NO_COMMIT, commit, clone),
        url.clone(),
    )
    .await;
    assert_eq!(v["builds"][0]["tags"], json!(["1.2.3"]), "{v}");
    let (_, v) = send(
        gitea_push(&secret, "refs/heads/main", commit, NO_COMMIT, clone),
        url.clone(),
    )
    .await;
    assert_eq!(v["result"], "ignored", "{v}");
    let r = app
        .anonymous
        .post(app.url("/api/v1/repositories/alice/app/builds"))
        .header("Authorization", &alice)
        .json(&json!({"ref": "no-rule-matches"}))
        .send()
        .await
        .expect("build now");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(count(&app).await, 3);

    // The worker finds no Engine: the builds fail with its reason, and the badge says so.
    let mut failed = 0;
    for _ in 0..100 {
        failed =
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM builds WHERE status = 'failed'")
                .fetch_one(&app.state.pool)
                .await
                .expect("count");
        if failed == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(failed, 3, "every build fails without an Engine");
    let (_, b) = get(
        &app,
        None,
        "/api/v1/repositories/alice/app/builds?page_size=1",
    )
    .await;
    assert_eq!(b["count"], 3);
    assert!(
        !b["results"][0]["error"].as_str().unwrap_or("").is_empty(),
        "{b}"
    );
    let r = app
        .anonymous
        .get(app.url("/api/v1/repositories/alice/app/build-badge"))
        .send()
        .await
        .expect("badge");
    assert_eq!(header(&r, "content-type"), "image/svg+xml");
    assert!(r.text().await.expect("svg").contains("failed"));
}

#[tokio::test]
async fn private_builds_are_invisible_and_builds_off_says_so() {
    // Builds off: linking works (to prepare), building says why it cannot.
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    create(&app, &alice, "alice", "secret", true).await;
    let (status, _) = put(
        &app,
        &alice,
        "/api/v1/repositories/alice/secret/build-source",
        json!({"url": "https://git.example/alice/secret.git"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let r = app
        .anonymous
        .post(app.url("/api/v1/repositories/alice/secret/builds"))
        .header("Authorization", &alice)
        .json(&json!({"ref": "main"}))
        .send()
        .await
        .expect("build now");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("JSON");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("docker_host"),
        "{v}"
    );
    let (_, list) = get(
        &app,
        Some(&alice),
        "/api/v1/repositories/alice/secret/builds",
    )
    .await;
    assert_eq!(list["enabled"], false);

    let bob = sign_up_basic(&app, "bobby").await;
    sqlx::query(
        "INSERT INTO builds (repository, namespace, status, trigger_kind, triggered_by, ref_kind,
                             ref_name, tags, dockerfile, context, queued_at)
         VALUES ('alice/secret', 'alice', 'failed', 'manual', 'alice', 'branch', 'main',
                 '[\"latest\"]', 'Dockerfile', '.', 1)",
    )
    .execute(&app.state.pool)
    .await
    .expect("a build");
    let id: i64 = sqlx::query_scalar("SELECT id FROM builds")
        .fetch_one(&app.state.pool)
        .await
        .expect("id");
    for path in [
        "/api/v1/repositories/alice/secret/builds".to_owned(),
        format!("/api/v1/repositories/alice/secret/builds/{id}"),
        format!("/api/v1/repositories/alice/secret/builds/{id}/log"),
        "/api/v1/repositories/alice/secret/build-rules".to_owned(),
        "/api/v1/repositories/alice/secret/build-badge".to_owned(),
    ] {
        for auth in [None, Some(bob.as_str())] {
            let (status, _) = get(&app, auth, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} as {auth:?}");
        }
        let (status, _) = get(&app, Some(&alice), &path).await;
        assert_eq!(status, StatusCode::OK, "{path} as its owner");
    }
    let r = app
        .anonymous
        .post(app.url(&format!(
            "/api/v1/repositories/alice/secret/builds/{id}/cancel"
        )))
        .header("Authorization", &bob)
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "bob cannot even see it");
    let r = app
        .anonymous
        .post(app.url(&format!(
            "/api/v1/repositories/alice/secret/builds/{id}/cancel"
        )))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("cancel");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a finished build cannot be cancelled"
    );

    // Deleting the repository takes its builds and source with it.
    let r = app
        .anonymous
        .delete(app.url("/api/v1/repositories/alice/secret"))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("delete");
    assert!(r.status().is_success(), "{}", r.status());
    for table in ["builds", "build_sources"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&app.state.pool)
            .await
            .expect("count");
        assert_eq!(n, 0, "{table} after the repository is deleted");
    }
}
