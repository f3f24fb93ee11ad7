//! Prometheus metrics on their own listener: a push and a pull move the byte counters by the
//! blob sizes and the request counts by route class; a streaming upload shows in flight; failed
//! and throttled logins, failing webhook deliveries, garbage collection and builds are counted;
//! queue depths and the pool are read when scraped; the public listener has no `/metrics`.
//! The scrape is read exactly (Rust) and by the Prometheus client library's parsers (Python),
//! against the real binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_webhooks::guard::Allowlist;
use common::receiver::Receiver;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common;

const REPO: &str = "admin1/app";
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Berth with its metrics listener on a free loopback port.
fn metrics_on(c: &mut berth::config::Config) {
    c.metrics_listen = Some("127.0.0.1:0".parse().expect("address"));
}

/// One scrape, read line by line.
struct Scrape(String);

impl Scrape {
    /// The value of the sample written exactly `name{labels}` (labels in the order Berth writes
    /// them); panics if there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no sample {}\n{}", series(name, labels), self.0))
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let key = series(name, labels);
        self.0.lines().find_map(|line| {
            let value = line.strip_prefix(&key)?.strip_prefix(' ')?;
            Some(value.parse().expect("a number"))
        })
    }

    /// The value, or 0 when the series does not exist yet.
    fn or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).unwrap_or(0.0)
    }
}

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

async fn scrape_at(base: &str) -> Scrape {
    let r = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, "content-type"), CONTENT_TYPE);
    let text = r.text().await.expect("exposition");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    Scrape(text)
}

fn header_of(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_at(app.metrics_base.as_deref().expect("metrics are on")).await
}

/// Scrapes until `ready` holds (the work it waits for is done in the background).
async fn scrape_until(app: &TestApp, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(app).await;
        if ready(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never came to pass:\n{}", s.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn requests(s: &Scrape, route: &str, status: &str) -> f64 {
    s.or_zero(
        "berth_http_requests_total",
        &[("route", route), ("status", status)],
    )
}

fn logins(s: &Scrape, credential: &str, result: &str) -> f64 {
    s.value(
        "berth_logins_total",
        &[("credential", credential), ("result", result)],
    )
}

async fn token_with_password(app: &TestApp, password: &str) -> StatusCode {
    app.anonymous
        .get(app.url(&format!(
            "/auth/token?service={}&scope=repository:{REPO}:pull",
            app.host()
        )))
        .header("Authorization", basic(ADMIN, password))
        .send()
        .await
        .expect("token")
        .status()
}

#[tokio::test]
async fn a_push_and_a_pull_move_the_counters_by_what_they_carried() {
    let app = TestApp::start_with(metrics_on).await;

    let r = app.get("/metrics").await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "never on the public listener"
    );

    let layer = vec![7u8; 300_000];
    let (manifest, digest) = app.push_image(REPO, "v1", &layer).await;
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(&layer)
    );
    let pushed = scrape(&app).await;
    assert_eq!(
        pushed.value("berth_blob_upload_received_bytes_total", &[]),
        (layer.len() + config.len()) as f64,
        "bytes in: both blobs, once each"
    );
    assert_eq!(requests(&pushed, "registry_upload", "202"), 2.0);
    assert_eq!(requests(&pushed, "registry_upload", "201"), 2.0);
    assert_eq!(requests(&pushed, "registry_manifest", "201"), 1.0);
    assert_eq!(pushed.value("berth_blob_uploads_in_flight", &[]), 0.0);
    assert_eq!(pushed.value("berth_blob_pull_sent_bytes_total", &[]), 0.0);

    // The pulls: the layer whole, its first ten bytes, the config; a HEAD sends no body.
    let layer_path = format!("/v2/{REPO}/blobs/{}", sha256(&layer));
    let r = app.get(&layer_path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("layer").len(), layer.len());
    let r = app
        .request(Method::GET, &layer_path)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("range").len(), 10);
    let r = app
        .get(&format!("/v2/{REPO}/blobs/{}", sha256(config.as_bytes())))
        .await;
    assert_eq!(r.bytes().await.expect("config"), config.as_bytes());
    assert_eq!(app.head(&layer_path).await.status(), StatusCode::OK);
    for reference in ["v1", digest.as_str(), "v1"] {
        let r = app
            .request(Method::GET, &format!("/v2/{REPO}/manifests/{reference}"))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("manifest");
        assert_eq!(r.bytes().await.expect("manifest"), manifest);
    }
    let missing = app
        .get(&format!("/v2/{REPO}/blobs/{}", sha256(b"nothing")))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v2/").await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/user").await.status(), StatusCode::OK);
    assert_eq!(
        app.anonymous
            .get(app.url("/no/such/page"))
            .send()
            .await
            .expect("page")
            .status(),
        StatusCode::NOT_FOUND
    );

    let pulled = scrape(&app).await;
    assert_eq!(
        pulled.value("berth_blob_pull_sent_bytes_total", &[]),
        (layer.len() + 10 + config.len()) as f64,
        "bytes out: the layer, ten bytes of it, the config"
    );
    assert_eq!(
        pulled.value("berth_blob_upload_received_bytes_total", &[]),
        pushed.value("berth_blob_upload_received_bytes_total", &[]),
        "pulls receive nothing"
    );
    assert_eq!(requests(&pulled, "registry_blob", "200"), 3.0);
    assert_eq!(requests(&pulled, "registry_blob", "206"), 1.0);
    assert_eq!(requests(&pulled, "registry_blob", "404"), 1.0);
    assert_eq!(requests(&pulled, "registry_manifest", "200"), 3.0);
    assert_eq!(requests(&pulled, "registry_other", "200"), 1.0);
    assert_eq!(requests(&pulled, "api", "200"), 1.0);
    assert_eq!(
        requests(&pulled, "other", "404"),
        2.0,
        "paths no route has: /metrics and /no/such/page"
    );
    assert_eq!(
        pulled.value(
            "berth_http_request_duration_seconds_count",
            &[("route", "registry_blob")]
        ),
        5.0
    );
    assert_eq!(
        pulled.value(
            "berth_http_request_duration_seconds_bucket",
            &[("le", "+Inf"), ("route", "registry_blob")]
        ),
        5.0
    );
    // Three reads of a manifest pushed a moment ago: the database answers the first of each
    // reference, the cache the rest while they are fresh (a second).
    let hits = pulled.value("berth_manifest_cache_requests_total", &[("result", "hit")]);
    let misses = pulled.value("berth_manifest_cache_requests_total", &[("result", "miss")]);
    let before = pushed.value("berth_manifest_cache_requests_total", &[("result", "hit")])
        + pushed.value("berth_manifest_cache_requests_total", &[("result", "miss")]);
    assert_eq!(hits + misses - before, 3.0, "every read is a hit or a miss");
    assert!(misses >= 2.0, "{misses} misses");
    assert!(hits >= 1.0, "{hits} hits");

    // The database pool, as it stands when scraped.
    let idle = pulled.value("berth_db_connections", &[("state", "idle")]);
    let in_use = pulled.value("berth_db_connections", &[("state", "in_use")]);
    let max = pulled.value("berth_db_connections_max", &[]);
    assert!(
        idle + in_use >= 1.0 && idle + in_use <= max,
        "{idle} + {in_use} of {max}"
    );
    assert_eq!(max, if backend_is_postgres() { 16.0 } else { 8.0 });
    assert_eq!(pulled.value("berth_webhook_queue_depth", &[]), 0.0);
    assert_eq!(pulled.value("berth_build_queue_depth", &[]), 0.0);
    // The scrape names no repository, digest or path.
    assert!(!pulled.0.contains("admin1/app") && !pulled.0.contains("sha256:"));
}

#[tokio::test]
async fn an_upload_counts_in_flight_while_its_body_streams() {
    let app = TestApp::start_with(metrics_on).await;
    let location = app.start_upload(REPO).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let patch = tokio::spawn(
        app.client
            .patch(app.url(&location))
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    tx.send(Ok(vec![1u8; 1000])).await.expect("first part");
    let streaming = scrape_until(&app, |s| {
        s.value("berth_blob_upload_received_bytes_total", &[]) == 1000.0
    })
    .await;
    assert_eq!(streaming.value("berth_blob_uploads_in_flight", &[]), 1.0);

    tx.send(Ok(vec![2u8; 24])).await.expect("second part");
    drop(tx);
    let r = patch.await.expect("task").expect("PATCH");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let done = scrape(&app).await;
    assert_eq!(done.value("berth_blob_uploads_in_flight", &[]), 0.0);
    assert_eq!(
        done.value("berth_blob_upload_received_bytes_total", &[]),
        1024.0
    );
}

#[tokio::test]
async fn failed_and_throttled_logins_are_counted_apart_from_successes() {
    let app = TestApp::start_with(|c| {
        metrics_on(c);
        c.auth.throttle_failures = 3;
    })
    .await;
    let before = scrape(&app).await;
    for (credential, result) in [
        ("password", "success"),
        ("password", "failure"),
        ("password", "throttled"),
        ("robot", "failure"),
    ] {
        assert_eq!(logins(&before, credential, result), 0.0, "all at zero");
    }

    // The registry's Basic auth is a login too: a wrong access token.
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/{REPO}/tags/list")))
        .header("Authorization", basic(ADMIN, "berth_pat_not_a_token"))
        .send()
        .await
        .expect("tags");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        token_with_password(&app, ADMIN_PASSWORD).await,
        StatusCode::OK
    );
    let mut refused = 0;
    let mut throttled = 0;
    while throttled < 2 {
        match token_with_password(&app, "not the password").await {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("a wrong password got {other}"),
        }
        assert!(refused + throttled < 20, "never throttled");
    }
    assert!(refused >= 1);

    let s = scrape(&app).await;
    assert_eq!(logins(&s, "password", "success"), 1.0);
    assert_eq!(logins(&s, "password", "failure"), f64::from(refused));
    assert_eq!(logins(&s, "password", "throttled"), 2.0);
    assert_eq!(requests(&s, "token", "429"), 2.0);
    assert_eq!(requests(&s, "token", "401"), f64::from(refused));
    assert_eq!(logins(&s, "token", "failure"), 1.0);
    assert_eq!(requests(&s, "registry_other", "401"), 1.0);
    assert_eq!(logins(&s, "robot", "success"), 0.0);
}

#[tokio::test]
async fn failing_webhook_deliveries_are_counted_and_the_queue_read_from_the_database() {
    let app = TestApp::start_with(|c| {
        metrics_on(c);
        c.webhooks.allowed_targets = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
        // One retry, an hour away: the failed delivery waits in the queue.
        c.webhooks.max_attempts = 2;
        c.webhooks.retry_base = Duration::from_secs(3600);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    app.push_image(REPO, "v0", b"layer").await;
    let r = app
        .request(Method::POST, "/api/v1/repositories/admin1/app/webhooks")
        .json(&json!({"name": "down", "url": receiver.url("/"), "events": ["push"]}))
        .send()
        .await
        .expect("create webhook");
    assert_eq!(r.status(), StatusCode::CREATED);
    app.push_image(REPO, "v1", b"layer").await;

    let s = scrape_until(&app, |s| {
        s.value(
            "berth_webhook_delivery_failures_total",
            &[("outcome", "retry")],
        ) == 1.0
    })
    .await;
    receiver.wait_for(1, 10).await;
    assert_eq!(s.value("berth_webhook_queue_depth", &[]), 1.0);
    assert_eq!(
        s.value(
            "berth_webhook_delivery_failures_total",
            &[("outcome", "failed")]
        ),
        0.0
    );
    let log: Value = app.json("/api/v1/repositories/admin1/app/webhooks").await;
    let id = &log[0]["id"];
    let deliveries = app
        .json(&format!(
            "/api/v1/repositories/admin1/app/webhooks/{id}/deliveries"
        ))
        .await;
    assert_eq!(deliveries[0]["status"], "pending");
    assert_eq!(deliveries[0]["attempts"], 1);
}

#[tokio::test]
async fn garbage_collection_counts_its_runs_and_the_bytes_it_freed() {
    let app = TestApp::start_with(metrics_on).await;
    app.push_image(REPO, "v1", b"kept layer").await;
    // A blob no manifest uses, older than the grace period (whole seconds) once a second passed.
    app.push_blob(REPO, &[9u8; 4321]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let dry = app.gc(true, Duration::ZERO).await;
    assert_eq!(dry.bytes_freed, 4321);
    let s = scrape(&app).await;
    let runs = |s: &Scrape, mode: &str, result: &str| {
        s.value("berth_gc_runs_total", &[("mode", mode), ("result", result)])
    };
    assert_eq!(runs(&s, "dry_run", "done"), 1.0);
    assert_eq!(runs(&s, "collect", "done"), 0.0);
    assert_eq!(
        s.value("berth_gc_freed_bytes_total", &[]),
        0.0,
        "a dry run frees nothing"
    );

    let report = app.gc(false, Duration::ZERO).await;
    assert_eq!(report.bytes_freed, 4321);
    let s = scrape(&app).await;
    assert_eq!(runs(&s, "collect", "done"), 1.0);
    assert_eq!(runs(&s, "collect", "failed"), 0.0);
    assert_eq!(s.value("berth_gc_freed_bytes_total", &[]), 4321.0);
}

#[tokio::test]
async fn the_build_queue_is_read_when_scraped_and_ended_builds_counted() {
    let app = TestApp::start_with(metrics_on).await;
    app.push_image(REPO, "latest", b"layer").await;
    let row = |status| common::builds::Row {
        repository: REPO,
        status,
        ref_name: "main",
        commit: "3f2c9e1a7b4d",
        tag: "latest",
        error: "",
    };
    let first = common::builds::insert(&app, row("queued")).await;
    common::builds::insert(&app, row("queued")).await;
    // Written by another server: a depth from the database, not from what this one counted.
    let s = scrape(&app).await;
    assert_eq!(s.value("berth_build_queue_depth", &[]), 2.0);
    assert_eq!(
        s.value("berth_builds_finished_total", &[("outcome", "cancelled")]),
        0.0
    );

    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/repositories/{REPO}/builds/{first}/cancel"),
        )
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), StatusCode::OK);
    let s = scrape(&app).await;
    assert_eq!(s.value("berth_build_queue_depth", &[]), 1.0);
    assert_eq!(
        s.value("berth_builds_finished_total", &[("outcome", "cancelled")]),
        1.0
    );
}

#[tokio::test]
async fn a_build_that_fails_is_counted_as_failed() {
    // Builds on, with an Engine nobody answers at: the worker takes the build and fails it.
    let app = TestApp::start_with(|c| {
        metrics_on(c);
        common::builds::on(c);
    })
    .await;
    app.push_image(REPO, "latest", b"layer").await;
    common::builds::insert(
        &app,
        common::builds::Row {
            repository: REPO,
            status: "queued",
            ref_name: "main",
            commit: "3f2c9e1a7b4d",
            tag: "latest",
            error: "",
        },
    )
    .await;
    app.state.builds.wake();
    let s = scrape_until(&app, |s| {
        s.value("berth_builds_finished_total", &[("outcome", "failed")]) == 1.0
    })
    .await;
    assert_eq!(s.value("berth_build_queue_depth", &[]), 0.0);
    assert_eq!(
        s.value("berth_builds_finished_total", &[("outcome", "success")]),
        0.0
    );
}

/// The Python that has `prometheus_client`: `BERTH_TEST_PYTHON` (scripts/test sets it to a
/// virtualenv of its own, and then it must work), else `python3` if it can import it.
fn python_with_prometheus_client() -> Option<String> {
    let (python, required) = match std::env::var("BERTH_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => (p, true),
        _ => ("python3".to_owned(), false),
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !required,
        "BERTH_TEST_PYTHON={python} cannot import prometheus_client"
    );
    ok.then_some(python)
}

/// What the Prometheus client library's parsers read from a scrape.
struct Parsed {
    families: serde_json::Map<String, Value>,
    samples: Vec<Value>,
}

impl Parsed {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        self.samples
            .iter()
            .find(|s| s[0] == name && s[1].as_object() == Some(&wanted))
            .and_then(|s| s[2].as_f64())
            .unwrap_or_else(|| panic!("the parser found no {name} {wanted:?}"))
    }
}

async fn parse_with_python(python: &str, exposition: &str) -> Parsed {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(python)
        .args(["-c", include_str!("metrics_parse.py")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(exposition.as_bytes())
        .await
        .expect("write the scrape");
    drop(stdin);
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .expect("python in time")
        .expect("python");
    assert!(
        out.status.success(),
        "the parsers refused the scrape: {}\n{exposition}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    Parsed {
        families: v["families"].as_object().cloned().expect("families"),
        samples: v["samples"].as_array().cloned().expect("samples"),
    }
}

#[tokio::test]
async fn the_real_binary_serves_metrics_prometheus_parsers_read() {
    let Some(python) = python_with_prometheus_client() else {
        eprintln!(
            "skipped: python3 cannot import prometheus_client (pip install prometheus_client, \
             or set BERTH_TEST_PYTHON)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let database = common::binary::database(dir.path()).await;
    common::binary::create_admin(dir.path(), database.as_deref());
    let port = common::binary::free_port();
    let metrics_port = common::binary::free_port();
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let berth = common::binary::start_with_env(
        dir.path(),
        database.as_deref(),
        port,
        &[("BERTH_METRICS_LISTEN", &metrics_listen)],
    )
    .await;
    let client = common::binary::authed_client();
    let blob = vec![5u8; 70_000];
    common::binary::push_blob_to(&client, &berth.base, "root1/app", &blob).await;
    let config = b"{}".to_vec();
    common::binary::push_blob_to(&client, &berth.base, "root1/app", &config).await;
    let manifest = image_manifest(
        (&sha256(&config), config.len()),
        &[(&sha256(&blob), blob.len())],
        "",
    );
    let r = client
        .put(format!("{}/v2/root1/app/manifests/v1", berth.base))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{}/v2/root1/app/manifests/v1", berth.base))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull manifest");
    assert_eq!(r.bytes().await.expect("manifest"), manifest);
    let r = client
        .get(format!(
            "{}/v2/root1/app/blobs/{}",
            berth.base,
            sha256(&blob)
        ))
        .send()
        .await
        .expect("pull blob");
    assert_eq!(r.bytes().await.expect("blob").len(), blob.len());
    let r = reqwest::Client::new()
        .get(format!("{}/auth/token?service=x", berth.base))
        .header(
            "Authorization",
            basic(common::binary::ROOT, "not the password"),
        )
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::get(format!("{}/metrics", berth.base))
        .await
        .expect("public /metrics");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let exposition = scrape_at(&format!("http://{metrics_listen}")).await.0;
    let parsed = parse_with_python(&python, &exposition).await;
    for (family, kind) in [
        ("berth_http_requests", "counter"),
        ("berth_http_request_duration_seconds", "histogram"),
        ("berth_blob_upload_received_bytes", "counter"),
        ("berth_blob_pull_sent_bytes", "counter"),
        ("berth_blob_uploads_in_flight", "gauge"),
        ("berth_manifest_cache_requests", "counter"),
        ("berth_gc_runs", "counter"),
        ("berth_gc_freed_bytes", "counter"),
        ("berth_logins", "counter"),
        ("berth_webhook_delivery_failures", "counter"),
        ("berth_builds_finished", "counter"),
        ("berth_db_connections", "gauge"),
        ("berth_db_connections_max", "gauge"),
        ("berth_webhook_queue_depth", "gauge"),
        ("berth_build_queue_depth", "gauge"),
    ] {
        assert_eq!(
            parsed.families.get(family).and_then(Value::as_str),
            Some(kind),
            "{family}"
        );
    }
    assert_eq!(
        parsed.value("berth_blob_upload_received_bytes_total", &[]),
        (blob.len() + config.len()) as f64
    );
    assert_eq!(
        parsed.value("berth_blob_pull_sent_bytes_total", &[]),
        blob.len() as f64
    );
    assert_eq!(
        parsed.value(
            "berth_logins_total",
            &[("credential", "password"), ("result", "failure")]
        ),
        1.0
    );
    assert_eq!(
        parsed.value(
            "berth_http_requests_total",
            &[("route", "registry_manifest"), ("status", "201")]
        ),
        1.0
    );
    assert_eq!(
        parsed.value(
            "berth_http_requests_total",
            &[("route", "token"), ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        parsed.value(
            "berth_http_request_duration_seconds_count",
            &[("route", "registry_blob")]
        ),
        1.0
    );
    assert_eq!(
        parsed.value("berth_manifest_cache_requests_total", &[("result", "miss")])
            + parsed.value("berth_manifest_cache_requests_total", &[("result", "hit")]),
        1.0
    );
    assert_eq!(parsed.value("berth_webhook_queue_depth", &[]), 0.0);
    drop(berth);
}
