//! Webhooks end to end: a real receiver on loopback gets signed deliveries of pushes, deletes
//! and pulls; failures are retried and end as failed; the SSRF guard refuses internal targets;
//! outsiders neither see nor create webhooks; a slow receiver never slows a push.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::config::Config;
use berth_webhooks::guard::Allowlist;
use common::receiver::Receiver;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const REPO: &str = "admin1/app";
const HOOKS: &str = "/api/v1/repositories/admin1/app/webhooks";

/// Loopback allowed, quick retries, three attempts.
fn quick(c: &mut Config) {
    c.webhooks.allowed_targets = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
    c.webhooks.retry_base = Duration::from_millis(50);
    c.webhooks.max_attempts = 3;
}

async fn create_hook(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app
        .request(Method::POST, path)
        .json(&body)
        .send()
        .await
        .expect("create webhook");
    assert_eq!(r.status(), StatusCode::CREATED, "create webhook {body}");
    r.json().await.expect("webhook JSON")
}

/// Polls the delivery log until `done` holds for its newest delivery.
async fn wait_for_delivery(app: &TestApp, hook: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = app.json(&format!("{hook}/deliveries")).await;
        if let Some(d) = log.as_array().and_then(|a| a.first()) {
            if done(d) {
                return d.clone();
            }
        }
        assert!(Instant::now() < deadline, "delivery never settled: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_push_is_delivered_signed_in_docker_hubs_format() {
    let app = TestApp::start_with(quick).await;
    let receiver = Receiver::start().await;
    app.push_image(REPO, "v0", b"first layer").await;
    let hook = create_hook(
        &app,
        HOOKS,
        json!({"name": "deploy", "url": receiver.url("/hook"), "events": ["push"],
               "secret": "s3cret"}),
    )
    .await;
    assert_eq!(hook["has_secret"], true);
    assert!(hook.get("secret").is_none(), "the secret is never shown");
    let (_, digest) = app.push_image(REPO, "v1", b"second layer").await;

    let got = receiver.wait_for(1, 20).await;
    let req = &got[0];
    assert_eq!(req.path, "/hook");
    assert_eq!(req.event, "push");
    assert_eq!(req.content_type, "application/json");
    assert!(req.signed_with("s3cret"), "signature {:?}", req.signature);
    assert!(!req.signed_with("another secret"));
    let body = req.json();
    assert_eq!(body["push_data"]["tag"], "v1");
    assert_eq!(body["push_data"]["pusher"], ADMIN);
    assert_eq!(body["push_data"]["digest"], digest.as_str());
    assert!(body["push_data"]["pushed_at"].as_i64().is_some());
    let repo = &body["repository"];
    assert_eq!(repo["repo_name"], REPO);
    assert_eq!(repo["namespace"], ADMIN);
    assert_eq!(repo["name"], "app");
    assert_eq!(repo["owner"], ADMIN);
    assert_eq!(repo["is_private"], false);
    assert_eq!(repo["status"], "Active");
    assert_eq!(repo["repo_url"], format!("{}/r/{REPO}", app.base));
    for key in [
        "description",
        "full_description",
        "is_official",
        "star_count",
        "comment_count",
        "date_created",
    ] {
        assert!(repo.get(key).is_some(), "repository.{key} in {repo}");
    }

    // The log shows the same delivery, delivered at the first attempt.
    let hook_url = format!("{HOOKS}/{}", hook["id"]);
    let d = wait_for_delivery(&app, &hook_url, |d| d["status"] == "delivered").await;
    assert_eq!(d["id"], req.delivery.as_str());
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["response_status"], 200);
    assert_eq!(d["response_excerpt"], "answered 200");
    assert_eq!(receiver.received().len(), 1, "one push, one delivery");

    // The receiver reports back through the callback URL, as on Docker Hub.
    let callback = body["callback_url"]
        .as_str()
        .expect("callback_url")
        .to_owned();
    assert!(callback.starts_with(&app.base), "{callback}");
    let bad = app
        .anonymous
        .post(&callback)
        .json(&json!({"state": "maybe"}))
        .send()
        .await
        .expect("callback");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = app
        .anonymous
        .post(&callback)
        .json(&json!({"state": "success", "target_url": "javascript:alert(1)"}))
        .send()
        .await
        .expect("callback");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let forged = format!("{}0", callback.trim_end_matches(|c: char| c != '/'));
    let r = app
        .anonymous
        .post(&forged)
        .json(&json!({"state": "success"}))
        .send()
        .await
        .expect("callback");
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a wrong token is refused"
    );
    let r = app
        .anonymous
        .post(&callback)
        .json(
            &json!({"state": "success", "description": "deployed", "context": "ci",
                      "target_url": "https://ci.example.com/build/7"}),
        )
        .send()
        .await
        .expect("callback");
    assert_eq!(r.status(), StatusCode::OK);
    let d = wait_for_delivery(&app, &hook_url, |d| d["callback"].is_object()).await;
    assert_eq!(d["callback"]["state"], "success");
    assert_eq!(d["callback"]["description"], "deployed");
    assert_eq!(
        d["callback"]["target_url"],
        "https://ci.example.com/build/7"
    );

    // Switched off, it hears nothing more.
    let r = app
        .request(Method::PATCH, &hook_url)
        .json(&json!({"active": false}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    app.push_image(REPO, "v2", b"third layer").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    let log = app.json(&format!("{hook_url}/deliveries")).await;
    assert_eq!(log.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_until_the_delivery_fails_then_redelivered() {
    let app = TestApp::start_with(quick).await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    app.push_image(REPO, "v0", b"layer").await;
    let hook = create_hook(
        &app,
        HOOKS,
        json!({"name": "flaky", "url": receiver.url("/"), "events": ["push", "delete"]}),
    )
    .await;
    let hook_url = format!("{HOOKS}/{}", hook["id"]);
    app.push_image(REPO, "v1", b"layer").await;

    let d = wait_for_delivery(&app, &hook_url, |d| d["status"] == "failed").await;
    assert_eq!(d["attempts"], 3, "max_attempts");
    assert_eq!(d["response_status"], 500);
    assert!(
        d["error"].as_str().is_some_and(|e| e.contains("500")),
        "{d}"
    );
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.delivery == got[0].delivery && r.signature.is_none()));

    // Redelivery sends the same news again, as a new delivery.
    receiver.answer(200);
    let r = app
        .request(
            Method::POST,
            &format!(
                "{hook_url}/deliveries/{}/redeliver",
                d["id"].as_str().expect("id")
            ),
        )
        .send()
        .await
        .expect("redeliver");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let new: Value = r.json().await.expect("delivery");
    assert_eq!(new["redelivery_of"], d["id"]);
    let done = wait_for_delivery(&app, &hook_url, |x| x["status"] == "delivered").await;
    assert_eq!(done["id"], new["id"]);
    let last = receiver.wait_for(4, 10).await.pop().expect("a request");
    assert_eq!(last.delivery, new["id"].as_str().expect("id"));
    assert_eq!(last.json()["push_data"], got[0].json()["push_data"]);
    assert_ne!(last.json()["callback_url"], got[0].json()["callback_url"]);

    let r = app
        .request(
            Method::POST,
            &format!("{hook_url}/deliveries/nope/redeliver"),
        )
        .send()
        .await
        .expect("redeliver");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn internal_targets_are_refused_unless_allowlisted() {
    // No allowlist: the defaults of a fresh install.
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    app.push_image(REPO, "v0", b"layer").await;
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        receiver.url("/"),
        format!("http://[::ffff:127.0.0.1]:{}/", receiver.port),
        // IPv4-compatible and other IPv6 forms that embed a loopback or metadata address.
        format!("http://[::7f00:1]:{}/", receiver.port),
        "http://[::a9fe:a9fe]/".to_owned(),
        format!("http://[64:ff9b:1::7f00:1]:{}/", receiver.port),
        "http://10.0.0.1/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        let r = app
            .request(Method::POST, HOOKS)
            .json(&json!({"name": "x", "url": url, "events": ["push"]}))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        let e: Value = r.json().await.expect("error");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{e}"
        );
    }
    // A name is checked where it matters, when the delivery connects: `localhost` resolves to
    // loopback.
    let hook = create_hook(
        &app,
        HOOKS,
        json!({"name": "sneaky", "url": format!("http://localhost:{}/", receiver.port),
               "events": ["push"]}),
    )
    .await;
    app.push_image(REPO, "v1", b"layer").await;
    let hook_url = format!("{HOOKS}/{}", hook["id"]);
    let d = wait_for_delivery(&app, &hook_url, |d| d["status"] != "pending").await;
    assert_eq!(d["status"], "refused", "{d}");
    let error = d["error"].as_str().expect("error");
    assert!(
        error.contains("localhost") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(d["attempts"], 1, "a refusal is not retried");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn the_allowlist_lets_a_named_endpoint_through() {
    let app = TestApp::start_with(|c| {
        quick(c);
        c.webhooks.allowed_targets = Arc::new(Allowlist::parse("localhost:1").expect("allowlist"));
    })
    .await;
    let receiver = Receiver::start().await;
    app.push_image(REPO, "v0", b"layer").await;
    // Another port of the same host stays refused.
    let hook = create_hook(
        &app,
        HOOKS,
        json!({"name": "other-port", "url": format!("http://localhost:{}/", receiver.port),
               "events": ["push"]}),
    )
    .await;
    app.push_image(REPO, "v1", b"layer").await;
    let d = wait_for_delivery(&app, &format!("{HOOKS}/{}", hook["id"]), |d| {
        d["status"] != "pending"
    })
    .await;
    assert_eq!(d["status"], "refused");

    let app = TestApp::start_with(|c| {
        quick(c);
        let entry = format!("localhost:{}", receiver.port);
        c.webhooks.allowed_targets = Arc::new(Allowlist::parse(&entry).expect("allowlist"));
    })
    .await;
    app.push_image(REPO, "v0", b"layer").await;
    create_hook(
        &app,
        HOOKS,
        json!({"name": "named", "url": format!("http://localhost:{}/in", receiver.port),
               "events": ["push"]}),
    )
    .await;
    app.push_image(REPO, "v1", b"layer").await;
    let got = receiver.wait_for(1, 20).await;
    assert_eq!(got[0].path, "/in");
}

#[tokio::test]
async fn outsiders_neither_see_nor_create_webhooks() {
    let app = TestApp::start_with(quick).await;
    let receiver = Receiver::start().await;
    let r = app
        .request(Method::POST, "/api/v1/repositories")
        .json(&json!({"namespace": ADMIN, "name": "secret", "visibility": "private"}))
        .send()
        .await
        .expect("create repository");
    assert_eq!(r.status(), StatusCode::CREATED);
    let private = "/api/v1/repositories/admin1/secret/webhooks";
    let hook = create_hook(
        &app,
        private,
        json!({"name": "mine", "url": receiver.url("/"), "events": ["push"]}),
    )
    .await;
    app.push_image(REPO, "v0", b"layer").await;

    let mallory = sign_up_basic(&app, "mallory").await;
    let body = json!({"name": "theirs", "url": receiver.url("/"), "events": ["push"]});
    let one = format!("{private}/{}", hook["id"]);
    let deliveries = format!("{one}/deliveries");
    for (method, path, body) in [
        (Method::GET, private, None),
        (Method::POST, private, Some(body.clone())),
        (Method::GET, one.as_str(), None),
        (
            Method::PATCH,
            one.as_str(),
            Some(json!({"url": receiver.url("/x")})),
        ),
        (Method::DELETE, one.as_str(), None),
        (Method::GET, deliveries.as_str(), None),
    ] {
        let r = call(&app, method.clone(), path, Some(&mallory), body.clone()).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "{method} {path}: invisible"
        );
        let r = call(&app, method.clone(), path, None, body).await;
        assert!(
            matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
            "{method} {path} anonymous: {}",
            r.status()
        );
    }
    // On a public repository an outsider learns it exists, but not its webhooks.
    let r = call(&app, Method::GET, HOOKS, Some(&mallory), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::POST,
        HOOKS,
        Some(&mallory),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // An organization's webhooks are its owners' alone.
    let r = app
        .request(Method::POST, "/api/v1/orgs")
        .json(&json!({"name": "acme"}))
        .send()
        .await
        .expect("org");
    assert_eq!(r.status(), StatusCode::CREATED);
    invite_and_accept(
        &app,
        &basic(ADMIN, &app.admin_token),
        "/api/v1/orgs/acme/members/mallory",
        Some(json!({"role": "member"})),
        &mallory,
    )
    .await;
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/webhooks",
        Some(&mallory),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/webhooks",
        Some(&mallory),
        Some(body),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let listed = app.json(private).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "nothing changed");
}

#[tokio::test]
async fn an_organizations_webhook_hears_pulls_and_deletes_of_all_its_repositories() {
    let app = TestApp::start_with(quick).await;
    let receiver = Receiver::start().await;
    let r = app
        .request(Method::POST, "/api/v1/orgs")
        .json(&json!({"name": "acme"}))
        .send()
        .await
        .expect("org");
    assert_eq!(r.status(), StatusCode::CREATED);
    let hook = create_hook(
        &app,
        "/api/v1/orgs/acme/webhooks",
        json!({"name": "audit", "url": receiver.url("/org"), "events": ["pull", "delete"],
               "secret": "org secret"}),
    )
    .await;
    assert_eq!(hook["repository"], Value::Null);
    let (_, digest) = app.push_image("acme/api", "v1", b"api layer").await;
    let r = app
        .request(Method::GET, "/v2/acme/api/manifests/v1")
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status(), StatusCode::OK);
    let pull = receiver.wait_for(1, 20).await.remove(0);
    assert_eq!(pull.event, "pull", "pushes were not asked for");
    assert!(pull.signed_with("org secret"));
    let body = pull.json();
    assert_eq!(body["pull_data"]["tag"], "v1");
    assert_eq!(body["pull_data"]["digest"], digest.as_str());
    assert_eq!(body["pull_data"]["puller"], ADMIN);
    assert_eq!(body["repository"]["repo_name"], "acme/api");

    let r = app.delete("/v2/acme/api/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let got = receiver.wait_for(2, 20).await;
    let delete = got[1].json();
    assert_eq!(got[1].event, "delete");
    assert_eq!(delete["delete_data"]["target"], "tag");
    assert_eq!(delete["delete_data"]["tag"], "v1");
    assert_eq!(delete["delete_data"]["digest"], digest.as_str());
    assert_eq!(delete["delete_data"]["deleter"], ADMIN);

    let r = app
        .delete(&format!("/v2/acme/api/manifests/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let got = receiver.wait_for(3, 20).await;
    assert_eq!(got[2].json()["delete_data"]["target"], "manifest");

    let r = app.delete("/api/v1/repositories/acme/api").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got = receiver.wait_for(4, 20).await;
    let gone = got[3].json();
    assert_eq!(gone["delete_data"]["target"], "repository");
    assert_eq!(gone["repository"]["repo_name"], "acme/api");

    // Pull counts are counted in batches and shown by the API.
    app.push_image("acme/web", "v1", b"web layer").await;
    for _ in 0..3 {
        let r = app
            .request(Method::GET, "/v2/acme/web/manifests/v1")
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("pull");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.json("/api/v1/repositories/acme/web").await["pull_count"] != 3 {
        assert!(Instant::now() < deadline, "pull count never reached 3");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.wait_for(7, 20).await;
}

/// 1,000 pushes while the receiver holds every request at the door: each push is answered at
/// once, and once the receiver lets them in, every delivery arrives and is logged.
#[tokio::test]
async fn a_slow_receiver_never_slows_a_push_and_every_delivery_is_recorded() {
    const PUSHES: usize = 1000;
    let app = TestApp::start_with(|c| {
        quick(c);
        c.webhooks.timeout = Duration::from_secs(120);
    })
    .await;
    let receiver = Receiver::start().await;
    let (manifest, _) = app.push_image(REPO, "base", b"shared layer").await;

    // A baseline of the same pushes with no webhook.
    let push = |tag: String| {
        let app = &app;
        let manifest = &manifest;
        async move {
            let started = Instant::now();
            let r = app.put_manifest(REPO, &tag, OCI_MANIFEST, manifest).await;
            assert_eq!(r.status(), StatusCode::CREATED, "push {tag}");
            started.elapsed()
        }
    };
    // Eight pushers at a time, each push timed.
    let pushes = |prefix: &'static str, n: usize| {
        let push = &push;
        async move {
            let mut latencies = Vec::with_capacity(n);
            for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
                let batch =
                    futures::future::join_all(chunk.iter().map(|i| push(format!("{prefix}{i}"))))
                        .await;
                latencies.extend(batch);
            }
            latencies
        }
    };
    let mut baseline = pushes("warm", 200).await;

    receiver.hold().await;
    create_hook(
        &app,
        HOOKS,
        json!({"name": "slow", "url": receiver.url("/slow"), "events": ["push"],
               "secret": "k"}),
    )
    .await;
    let mut latencies = pushes("t", PUSHES).await;
    // Every push was answered while the receiver answered nothing.
    assert!(receiver.received().is_empty());
    assert!(receiver.in_flight() <= 8, "concurrency is bounded");
    let p = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
    };
    println!(
        "push latency without webhooks p50 {:?} p99 {:?}; with a held receiver p50 {:?} p99 {:?}",
        p(&mut baseline, 0.5),
        p(&mut baseline, 0.99),
        p(&mut latencies, 0.5),
        p(&mut latencies, 0.99)
    );

    receiver.open();
    let got = receiver.wait_for(PUSHES, 120).await;
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.delivery.clone()).collect();
    assert_eq!(ids.len(), PUSHES, "one delivery per push");
    assert!(got.iter().all(|r| r.signed_with("k")));
    let tags: std::collections::HashSet<_> = got
        .iter()
        .map(|r| {
            r.json()["push_data"]["tag"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!((0..PUSHES).all(|i| tags.contains(&format!("t{i}"))));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE status = 'delivered'",
        )
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
        if delivered == PUSHES as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {PUSHES} logged as delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The settings pages manage webhooks without JavaScript: add (refused targets explained),
/// see the delivery log, redeliver, change, delete; for a repository and an organization.
#[tokio::test]
async fn webhooks_are_managed_in_the_settings_pages() {
    use common::web::*;
    let app = TestApp::start_with(quick).await;
    let receiver = Receiver::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let alice_auth = basic("alice", "alice password");
    let r = push_blob_as(&app, &alice_auth, "alice/app", b"warm up").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let settings = "/r/alice/app/settings";
    let (status, html) = page(&alice, &app, settings).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"webhooks\"") && html.contains("No webhooks yet"));
    assert!(html.contains("/r/alice/app/settings/webhooks/new"));

    let new = "/r/alice/app/settings/webhooks/new";
    let to = "/r/alice/app/settings/webhooks";
    let r = submit(
        &alice,
        &app,
        new,
        to,
        &[
            ("hook_name", "<b>meta</b>"),
            ("url", "http://169.254.169.254/latest/"),
            ("on_push", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("page");
    assert!(html.contains("cloud metadata"), "the refusal says why");
    assert!(
        html.contains("&#60;b&#62;meta") || html.contains("&lt;b&gt;meta"),
        "kept and escaped"
    );
    assert!(!html.contains("<b>meta</b>"));

    let r = submit(
        &alice,
        &app,
        new,
        to,
        &[
            ("hook_name", "ci"),
            ("url", &receiver.url("/ci")),
            ("on_push", "on"),
            ("secret", "page secret"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let saved = location(&r);
    let hook_page = saved.trim_end_matches("?saved=1").to_owned();
    assert!(
        hook_page.starts_with("/r/alice/app/settings/webhooks/"),
        "{saved}"
    );
    let (_, html) = page(&alice, &app, &saved).await;
    assert!(html.contains("Webhook saved.") && html.contains("Nothing delivered yet"));

    app.push_image("alice/app", "v1", b"layer").await;
    let first = receiver.wait_for(1, 20).await.remove(0);
    assert!(first.signed_with("page secret"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let html = loop {
        let (_, html) = page(&alice, &app, &hook_page).await;
        if html.contains("status-delivered") {
            break html;
        }
        assert!(
            Instant::now() < deadline,
            "the log never showed the delivery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(html.contains(&first.delivery), "the log names the delivery");
    assert!(html.contains("Redeliver"));
    let r = submit(
        &alice,
        &app,
        &hook_page,
        &format!("{hook_page}/redeliver"),
        &[("delivery", &first.delivery)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = receiver.wait_for(2, 20).await.remove(1);
    assert_ne!(again.delivery, first.delivery);
    assert_eq!(again.json()["push_data"], first.json()["push_data"]);

    // Forms need the page's CSRF token; outsiders cannot see the page.
    let r = post(&alice, &app, &format!("{hook_page}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let bob = sign_up_web(&app, "bobby").await;
    let (status, html) = page(&bob, &app, &hook_page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains(&receiver.url("/ci")));

    // Change it: deletes only, no secret.
    let r = submit(
        &alice,
        &app,
        &hook_page,
        &hook_page,
        &[
            ("hook_name", "ci"),
            ("url", &receiver.url("/ci")),
            ("on_delete", "on"),
            ("remove_secret", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let api_path = format!(
        "/api/v1/repositories/alice/app/webhooks/{}",
        hook_page.rsplit('/').next().expect("id")
    );
    let hook: Value = call(&app, Method::GET, &api_path, Some(&alice_auth), None)
        .await
        .json()
        .await
        .expect("webhook");
    assert_eq!(hook["events"], json!(["delete"]));
    assert_eq!(hook["has_secret"], false);

    let r = submit(
        &alice,
        &app,
        &hook_page,
        &format!("{hook_page}/delete"),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/r/alice/app/settings#webhooks");
    let (_, html) = page(&alice, &app, settings).await;
    assert!(html.contains("No webhooks yet"));

    // An organization's settings page has the same section.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice_auth),
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (status, html) = page(&alice, &app, "/o/acme/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"#webhooks\"") && html.contains("/o/acme/settings/webhooks/new"));
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings/webhooks/new",
        "/o/acme/settings/webhooks",
        &[
            ("hook_name", "all of acme"),
            ("url", &receiver.url("/acme")),
            ("on_push", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let org_hook = location(&r).trim_end_matches("?saved=1").to_owned();
    assert!(org_hook.starts_with("/o/acme/settings/webhooks/"));
    let (_, html) = page(&alice, &app, "/o/acme/settings").await;
    assert!(html.contains("all of acme"));
    app.push_image("acme/api", "v1", b"acme layer").await;
    let got = receiver.wait_for(3, 20).await;
    assert_eq!(got[2].path, "/acme");
    let (status, _) = page(&bob, &app, &org_hook).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = post(
        &bob,
        &app,
        "/o/acme/settings/webhooks",
        &[("hook_name", "x")],
    )
    .await;
    assert!(
        matches!(r.status(), StatusCode::FORBIDDEN),
        "{}",
        r.status()
    );
}

/// What the builds crate hands over about a finished build.
fn finished_build(app: &TestApp) -> Value {
    json!({
        "build_id": "b-41",
        "status": "success",
        "trigger": "push",
        "source_ref": "refs/heads/main",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "tags": ["latest", "1.2"],
        "digest": "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
        "queued_at": 1_764_470_000,
        "finished_at": 1_764_470_090,
        "duration_seconds": 90,
        "build_url": format!("{}/r/alice/app/builds/b-41", app.base),
        "error": null,
    })
}

#[tokio::test]
async fn a_build_event_reaches_the_webhooks_that_hear_builds_and_no_other() {
    use berth_webhooks::{deliveries, BuildEvent};
    use common::web::*;
    let app = TestApp::start_with(quick).await;
    let builds = Receiver::start().await;
    let pushes = Receiver::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let alice_auth = basic("alice", "alice password");
    let r = push_blob_as(&app, &alice_auth, "alice/app", b"warm up").await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Subscribed in the settings page: one webhook to builds only, one to everything else.
    let new = "/r/alice/app/settings/webhooks/new";
    let to = "/r/alice/app/settings/webhooks";
    let (_, html) = page(&alice, &app, new).await;
    assert!(
        html.contains("name=\"on_build\"") && html.contains("Builds: queued, succeeded, failed")
    );
    let r = submit(
        &alice,
        &app,
        new,
        to,
        &[
            ("hook_name", "builds"),
            ("url", &builds.url("/builds")),
            ("on_build", "on"),
            ("secret", "build secret"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let hook_page = location(&r).trim_end_matches("?saved=1").to_owned();
    let r = submit(
        &alice,
        &app,
        new,
        to,
        &[
            ("hook_name", "registry"),
            ("url", &pushes.url("/registry")),
            ("on_push", "on"),
            ("on_delete", "on"),
            ("on_pull", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, &hook_page).await;
    assert!(
        html.contains("name=\"on_build\" checked"),
        "the form shows the subscription"
    );

    let api = "/api/v1/repositories/alice/app/webhooks";
    let listed: Value = app
        .anonymous
        .get(app.url(api))
        .header("Authorization", &alice_auth)
        .send()
        .await
        .expect("list webhooks")
        .json()
        .await
        .expect("webhooks JSON");
    let named = |name: &str| {
        listed
            .as_array()
            .and_then(|hooks| hooks.iter().find(|h| h["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("webhook {name} in {listed}"))
    };
    assert_eq!(named("builds")["events"], json!(["build"]));
    let registry = named("registry");
    assert_eq!(registry["events"], json!(["push", "delete", "pull"]));

    // The builds crate stages the event in its own transaction, then wakes the sender.
    let data = finished_build(&app);
    let hooks = &app.state.webhooks;
    let mut tx = app.state.pool.begin().await.expect("begin");
    let staged = deliveries::stage_build(
        &mut tx,
        &hooks.config,
        "alice/app",
        BuildEvent::Success,
        data.clone(),
    )
    .await
    .expect("stage build deliveries");
    tx.commit().await.expect("commit");
    hooks.wake();
    assert_eq!(staged, 1, "only the webhook that hears builds");

    let got = builds.wait_for(1, 20).await.remove(0);
    assert_eq!(got.path, "/builds");
    assert_eq!(got.event, "build");
    assert!(
        got.signed_with("build secret"),
        "signature {:?}",
        got.signature
    );
    let body = got.json();
    assert_eq!(body["event"], "build_success");
    assert_eq!(body["build_data"], data);
    assert_eq!(body["repository"]["repo_name"], "alice/app");
    assert_eq!(body["repository"]["namespace"], "alice");
    assert!(body["callback_url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{}/api/v1/webhooks/callbacks/", app.base))));
    assert!(body.get("push_data").is_none());

    // The log names the build event, and a redelivery sends it as it was.
    let deadline = Instant::now() + Duration::from_secs(20);
    let html = loop {
        let (_, html) = page(&alice, &app, &hook_page).await;
        if html.contains("status-delivered") {
            break html;
        }
        assert!(
            Instant::now() < deadline,
            "the log never showed the delivery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(html.contains(&got.delivery));
    assert!(
        html.contains("<td>build_success</td>"),
        "the log says which build event"
    );
    let r = submit(
        &alice,
        &app,
        &hook_page,
        &format!("{hook_page}/redeliver"),
        &[("delivery", &got.delivery)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = builds.wait_for(2, 20).await.remove(1);
    assert_ne!(again.delivery, got.delivery);
    assert_eq!(again.json()["event"], "build_success");
    assert_eq!(again.json()["build_data"], data);

    // The other webhook heard nothing, and its log is empty.
    assert!(pushes.received().is_empty(), "{:?}", pushes.received());
    let (_, html) = page(&alice, &app, &format!("{to}/{}", registry["id"])).await;
    assert!(html.contains("Nothing delivered yet"), "{html}");
}
