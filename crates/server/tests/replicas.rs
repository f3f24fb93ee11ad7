//! Several Berth processes on one PostgreSQL database, behind a load balancer without
//! stickiness, behave as one: caches follow writes made through the other replica, login
//! guesses are counted once, sessions and CSRF tokens work anywhere, a webhook event is sent
//! once, collections run one at a time, and replicas refuse to start with other secrets.
//!
//! Two real apps share one database (and one data directory, standing in for shared blob
//! storage and a shared secrets volume). On SQLite, replicas are not a deployment: skipped.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use berth::config::Config;
use berth_webhooks::guard::Allowlist;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::receiver::Receiver;
use crate::common::web::{sign_up_web, submit};
use crate::common::{
    self, basic, error_code, sha256, sign_up, TestApp, ADMIN, ADMIN_PASSWORD, OCI_MANIFEST,
};

/// Whether this run can start replicas; says why not when it cannot.
fn replicas_supported() -> bool {
    let postgres = common::backend_is_postgres();
    if !postgres {
        eprintln!("skipped: replicas share a PostgreSQL database (BERTH_TEST_BACKEND=postgres)");
    }
    postgres
}

/// Caches trusted for a minute: only a notification can explain a replica seeing a change
/// within a second.
fn long_cache(c: &mut Config) {
    c.registry.cache_ttl = Duration::from_secs(60);
}

/// Two replicas with long caches, each listening for the other's changes.
async fn two_replicas() -> (TestApp, TestApp) {
    let a = TestApp::start_with(long_cache).await;
    let b = a.replica(long_cache).await;
    // A listener forgets everything once it listens; a test that primes a cache before then
    // would see it emptied.
    let db = database(&a).await;
    within(Duration::from_secs(10), "both replicas listen", || async {
        let listening: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()
               AND state = 'idle' AND query ILIKE 'LISTEN%'",
        )
        .bind(berth_registry::coherence::LISTENER_NAME)
        .fetch_one(&db)
        .await
        .expect("pg_stat_activity");
        listening >= 2
    })
    .await;
    (a, b)
}

/// The digest `app` serves for `repo:reference`, or its status when it serves none.
async fn served(app: &TestApp, repo: &str, reference: &str) -> Result<String, StatusCode> {
    let r = app
        .client
        .get(app.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("GET manifest");
    if r.status() != StatusCode::OK {
        return Err(r.status());
    }
    Ok(sha256(&r.bytes().await.expect("manifest body")))
}

/// Polls `check` every 10 ms for up to `within`; how long it took to hold.
async fn within<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection of the test's own to the replicas' database, for what no replica announces.
async fn database(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.config.database_url)
        .await
        .expect("connect to the replicas' database")
}

/// Pushes `latest` (and `other`) through A and has B cache `latest`; then moves `latest` to
/// `other` in the database behind Berth's back, so that no replica announces it. Returns the
/// repository, the digest B cached and the one `latest` now names.
async fn cached_then_moved_unannounced(a: &TestApp, b: &TestApp) -> (String, String, String) {
    let repo = format!("{ADMIN}/app");
    let (_, first) = a.push_image(&repo, "latest", b"first layer").await;
    let (_, other) = a.push_image(&repo, "other", b"other layer").await;
    // Word of those pushes may still be on its way to B: let it arrive before B's cache is
    // primed, so that only the write below could change what B holds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served(b, &repo, "latest").await, Ok(first.clone()));
    sqlx::query(
        "UPDATE tags SET manifest_digest = $1 WHERE name = 'latest'
         AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
    )
    .bind(&other)
    .bind(&repo)
    .execute(&database(a).await)
    .await
    .expect("move the tag unannounced");
    (repo, first, other)
}

#[tokio::test]
async fn a_tag_moved_through_one_replica_is_served_fresh_by_the_other() {
    if !replicas_supported() {
        return;
    }
    let (a, b) = two_replicas().await;
    let (repo, first, _) = cached_then_moved_unannounced(&a, &b).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        served(&b, &repo, "latest").await,
        Ok(first.clone()),
        "B serves what it cached"
    );

    // A tag moved through A: B serves the new manifest as soon as the notification arrives.
    let mut took = Vec::new();
    for n in 0..5 {
        let (_, moved) = a
            .push_image(&repo, "latest", format!("layer {n}").as_bytes())
            .await;
        assert_eq!(served(&a, &repo, "latest").await, Ok(moved.clone()));
        took.push(
            within(Duration::from_secs(1), "B serves the moved tag", || async {
                served(&b, &repo, "latest").await.as_ref() == Ok(&moved)
            })
            .await,
        );
        // A deletion through A, too.
        let r = a.delete(&format!("/v2/{repo}/manifests/{moved}")).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        within(
            Duration::from_secs(1),
            "B forgets the deleted tag",
            || async { served(&b, &repo, "latest").await == Err(StatusCode::NOT_FOUND) },
        )
        .await;
    }
    println!("B served each moved tag after {took:?}");
}

/// An anonymous pull on B, of a repository made private through A.
/// The tags `app` lists for `repo` (the tags tab's listing, through the API), each with the
/// digest it names, by name.
async fn listed(app: &TestApp, repo: &str) -> Vec<(String, String)> {
    let r = app
        .anonymous
        .get(app.url(&format!("/api/v1/repositories/{repo}/tags")))
        .header("Authorization", basic(ADMIN, ADMIN_PASSWORD))
        .send()
        .await
        .expect("list tags");
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.expect("tags JSON");
    let mut tags: Vec<(String, String)> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|t| {
            let field = |k: &str| t[k].as_str().expect("tag field").to_owned();
            (field("name"), field("digest"))
        })
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn the_tags_one_replica_lists_follow_every_push_and_delete_through_the_other() {
    if !replicas_supported() {
        return;
    }
    // Caches trusted for a minute, and no waiting for word from A: B's listing checks the
    // repository's tag version each time it is read.
    let a = TestApp::start_with(long_cache).await;
    let b = a.replica(long_cache).await;
    let repo = format!("{ADMIN}/listed");
    let pair = |name: &str, digest: &str| (name.to_owned(), digest.to_owned());
    let (_, one) = a.push_image(&repo, "1.0", b"one").await;
    assert_eq!(listed(&b, &repo).await, [pair("1.0", &one)]);
    let (_, two) = a.push_image(&repo, "2.0", b"two").await;
    assert_eq!(
        listed(&b, &repo).await,
        [pair("1.0", &one), pair("2.0", &two)]
    );
    let (_, moved) = a.push_image(&repo, "1.0", b"one, again").await;
    assert_eq!(
        listed(&b, &repo).await,
        [pair("1.0", &moved), pair("2.0", &two)],
        "a moved tag names its new manifest"
    );
    let r = a.delete(&format!("/v2/{repo}/manifests/{two}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(listed(&b, &repo).await, [pair("1.0", &moved)]);
    let r = a.delete(&format!("/v2/{repo}/manifests/1.0")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(listed(&b, &repo).await.is_empty(), "no tags are left");
}

async fn anonymous_status(app: &TestApp, repo: &str) -> StatusCode {
    app.anonymous
        .get(app.url(&format!("/v2/{repo}/manifests/latest")))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("anonymous GET manifest")
        .status()
}

#[tokio::test]
async fn a_repository_made_private_through_one_replica_is_hidden_by_the_other() {
    if !replicas_supported() {
        return;
    }
    let (a, b) = two_replicas().await;
    let repo = format!("{ADMIN}/shown");
    a.push_image(&repo, "latest", b"shown layer").await;
    // B keeps the repository's visibility once it has answered an anonymous pull.
    within(
        Duration::from_secs(1),
        "B serves the public image",
        || async { anonymous_status(&b, &repo).await == StatusCode::OK },
    )
    .await;
    let visibility = |v: &'static str| {
        let a = &a;
        let repo = &repo;
        async move {
            let r = a
                .client
                .patch(a.url(&format!("/api/v1/repositories/{repo}")))
                .json(&serde_json::json!({ "visibility": v }))
                .send()
                .await
                .expect("PATCH visibility");
            assert_eq!(r.status(), StatusCode::OK, "make {v}");
        }
    };
    visibility("private").await;
    within(
        Duration::from_secs(1),
        "B hides the private image",
        || async { anonymous_status(&b, &repo).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    visibility("public").await;
    within(Duration::from_secs(1), "B shows it again", || async {
        anonymous_status(&b, &repo).await == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn a_replica_that_lost_its_listener_forgets_everything_once_it_listens_again() {
    if !replicas_supported() {
        return;
    }
    let (a, b) = two_replicas().await;
    let (repo, first, other) = cached_then_moved_unannounced(&a, &b).await;
    let db = database(&a).await;
    assert_eq!(served(&b, &repo, "latest").await, Ok(first.clone()));

    // Cut every listener's connection to this database, as a failover would: while it was
    // away, announcements may have been missed, so a replica listening again forgets all.
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(berth_registry::coherence::LISTENER_NAME)
    .fetch_all(&db)
    .await
    .expect("terminate the listeners");
    assert_eq!(cut, [true, true], "one listener per replica");
    within(
        Duration::from_secs(10),
        "B reads again once it listens again",
        || async { served(&b, &repo, "latest").await.as_ref() == Ok(&other) },
    )
    .await;
    // And it hears announcements again.
    let (_, moved) = a.push_image(&repo, "latest", b"after the cut").await;
    within(Duration::from_secs(1), "B serves the moved tag", || async {
        served(&b, &repo, "latest").await.as_ref() == Ok(&moved)
    })
    .await;
}

#[tokio::test]
async fn a_signed_only_policy_set_through_one_replica_holds_on_the_other_at_once() {
    if !replicas_supported() {
        return;
    }
    let (a, b) = two_replicas().await;
    let repo = format!("{ADMIN}/app");
    let (_, unsigned) = a.push_image(&repo, "unsigned", b"a layer").await;
    assert_eq!(served(&b, &repo, "unsigned").await, Ok(unsigned.clone()));
    common::signing::set_policy(
        &a,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        true,
    )
    .await;
    within(
        Duration::from_secs(1),
        "B refuses the unsigned image",
        || async { served(&b, &repo, "unsigned").await.is_err() },
    )
    .await;
    let r = b
        .client
        .get(b.url(&format!("/v2/{repo}/manifests/unsigned")))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("GET");
    assert_eq!(error_code(r).await, "DENIED");
    common::signing::set_policy(
        &b,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        false,
    )
    .await;
    within(Duration::from_secs(1), "A serves it again", || async {
        served(&a, &repo, "unsigned").await.as_ref() == Ok(&unsigned)
    })
    .await;
}

#[tokio::test]
async fn a_quota_set_through_one_replica_holds_on_the_other_at_once() {
    if !replicas_supported() {
        return;
    }
    let (a, b) = two_replicas().await;
    sign_up(&a, "alice").await;
    // B learns that no namespace has a quota.
    b.push_image(&format!("{ADMIN}/warm"), "v1", b"warm").await;
    let r = a
        .request(Method::PUT, "/api/v1/admin/namespaces/alice/quota")
        .json(&json!({"bytes": 10}))
        .send()
        .await
        .expect("set quota");
    assert!(r.status().is_success(), "set quota: {}", r.status());
    let alice = basic("alice", "alice password");
    let blob = vec![7u8; 4096];
    let r = common::push_blob_as(&b, &alice, "alice/app", &blob).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let r = common::push_blob_as(&b, &alice, "alice/app", config).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let manifest = common::image_manifest(
        (&sha256(config), config.len()),
        &[(&sha256(&blob), blob.len())],
        "",
    );
    let r = b
        .anonymous
        .put(b.url("/v2/alice/app/manifests/v1"))
        .header("Authorization", &alice)
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .expect("PUT manifest");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "B enforces A's quota");
    assert_eq!(error_code(r).await, "DENIED");
}

#[tokio::test]
async fn login_guesses_through_two_replicas_count_against_one_limit() {
    if !replicas_supported() {
        return;
    }
    let three = |c: &mut Config| c.auth.throttle_failures = 3;
    let a = TestApp::start_with(three).await;
    let b = a.replica(three).await;
    let password = sign_up(&a, "alice").await;
    let wrong = basic("alice", "not her password");
    let guess = |app: &TestApp, auth: &str| {
        let r = app
            .anonymous
            .get(app.url("/v2/"))
            .header("Authorization", auth.to_owned())
            .send();
        async move { r.await.expect("guess").status() }
    };
    // Three guesses spread over both replicas use up the limit of both.
    for app in [&a, &b, &a] {
        assert_eq!(guess(app, &wrong).await, StatusCode::UNAUTHORIZED);
    }
    for app in [&b, &a] {
        assert_eq!(guess(app, &wrong).await, StatusCode::TOO_MANY_REQUESTS);
        // The right password too, from this address.
        assert_eq!(
            guess(app, &basic("alice", &password)).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    // Parallel guesses through both are counted before they are verified, once.
    sign_up(&a, "robert").await;
    let guesses = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app
            .anonymous
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "robert", "password": format!("guess {i}")}))
            .send();
        async move { r.await.expect("sign in").status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(verified, 3, "{statuses:?}");
}

#[tokio::test]
async fn a_session_made_on_one_replica_posts_a_form_on_the_other() {
    if !replicas_supported() {
        return;
    }
    let a = TestApp::start().await;
    let b = a.replica(|_| {}).await;
    // One browser; a load balancer sends it to either replica (one host, as cookies see it).
    let browser = sign_up_web(&a, "alice").await;
    let r = submit(
        &browser,
        &b,
        "/settings",
        "/settings/profile",
        &[("email", "alice@elsewhere.example")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the form posted to B");
    let (_, html) = common::web::page(&browser, &a, "/settings").await;
    assert!(
        html.contains("alice@elsewhere.example"),
        "A shows B's change"
    );
    // Without the session's token, B refuses the form as A would.
    let r = common::web::post(
        &browser,
        &b,
        "/settings/profile",
        &[("csrf", "not the token"), ("email", "x@example.com")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_webhook_delivery_is_sent_once_by_two_replicas() {
    if !replicas_supported() {
        return;
    }
    let hooks = |c: &mut Config| {
        c.webhooks.allowed_targets = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
    };
    let a = TestApp::start_with(hooks).await;
    let b = a.replica(hooks).await;
    let receiver = Receiver::start().await;
    let repo = format!("{ADMIN}/app");
    a.push_image(&repo, "v0", b"first").await;
    let r = a
        .request(
            Method::POST,
            &format!("/api/v1/repositories/{repo}/webhooks"),
        )
        .json(&json!({"name": "deploy", "url": receiver.url("/hook"), "events": ["push"]}))
        .send()
        .await
        .expect("create webhook");
    assert_eq!(r.status(), StatusCode::CREATED);
    // Pushes through both replicas, so both senders are woken and race for the outbox.
    let pushes = 24;
    let mut tags = Vec::new();
    for n in 0..pushes {
        let app = if n % 2 == 0 { &a } else { &b };
        let tag = format!("v{}", n + 1);
        app.push_image(&repo, &tag, format!("layer {n}").as_bytes())
            .await;
        tags.push(tag);
    }
    let got = receiver.wait_for(pushes, 30).await;
    // Anything sent twice would arrive within a lease's time of the first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), got.len(), "no delivery came twice");
    let mut deliveries: Vec<&str> = got_all.iter().map(|r| r.delivery.as_str()).collect();
    deliveries.sort_unstable();
    deliveries.dedup();
    assert_eq!(deliveries.len(), pushes, "one delivery per push");
    let mut delivered: Vec<String> = got_all
        .iter()
        .map(|r| {
            r.json()["push_data"]["tag"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    delivered.sort();
    tags.sort();
    assert_eq!(delivered, tags, "each push once");
}

/// Whether `app`'s collection of garbage got to run (`false`: another held the lock).
async fn collect(
    app: &TestApp,
    progress: &(dyn Fn(berth_registry::lifecycle::gc::Progress) + Sync),
) -> bool {
    let request = berth_hub::gc::Request {
        dry_run: false,
        grace: Some(Duration::from_secs(1)),
        trigger: "cli",
        actor: "tests".to_owned(),
    };
    match app
        .state
        .hub
        .collect_garbage(
            &app.state.registry,
            &app.state.trust,
            &app.config.gc,
            request,
            progress,
        )
        .await
        .expect("garbage collection")
    {
        berth_hub::gc::Outcome::Done(_) => true,
        berth_hub::gc::Outcome::Busy => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_collecting_while_the_other_does_is_told_it_is_busy() {
    if !replicas_supported() {
        return;
    }
    let a = Arc::new(TestApp::start().await);
    let b = a.replica(|_| {}).await;
    a.push_image(&format!("{ADMIN}/app"), "v1", b"layer").await;

    // A's collection stops at its first step, holding the lock, until B has tried.
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let started_tx = Mutex::new(Some(started_tx));
    let (go_on, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let first = {
        let a = a.clone();
        tokio::spawn(async move {
            let progress = move |_| {
                if let Some(tx) = started_tx.lock().expect("lock").take() {
                    tx.send(()).ok();
                    // Blocks this worker thread only: its other tasks move elsewhere.
                    tokio::task::block_in_place(|| {
                        wait.lock()
                            .expect("lock")
                            .recv_timeout(Duration::from_secs(30))
                            .ok()
                    });
                }
            };
            collect(&a, &progress).await
        })
    };
    started.await.expect("A's collection started");
    assert!(
        !collect(&b, &|_| {}).await,
        "B is told a collection is running"
    );
    assert!(!collect(&a, &|_| {}).await, "and so is A itself");
    go_on.send(()).expect("let A go on");
    assert!(first.await.expect("A's collection"), "A's collection ran");
    // Once it is over, either may collect.
    assert!(collect(&b, &|_| {}).await);
    assert!(collect(&a, &|_| {}).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_and_collections_through_either_replica_lose_nothing_acknowledged() {
    if !replicas_supported() {
        return;
    }
    let a = Arc::new(TestApp::start().await);
    let b = Arc::new(a.replica(|_| {}).await);
    let repo = format!("{ADMIN}/soak");
    let until = Instant::now() + Duration::from_secs(6);
    // Collections on both replicas, back to back: never two at once. Each counts itself in
    // from its first step to its last (both under the lock).
    let running = Arc::new(Mutex::new(0u32));
    let overlaps = Arc::new(Mutex::new(0u32));
    let collectors: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|app| {
            let (running, overlaps) = (running.clone(), overlaps.clone());
            tokio::spawn(async move {
                let (mut ran, mut busy) = (0, 0);
                while Instant::now() < until {
                    let counted = Mutex::new(false);
                    let progress = |p: berth_registry::lifecycle::gc::Progress| {
                        let mut counted = counted.lock().expect("lock");
                        let mut r = running.lock().expect("lock");
                        if !*counted {
                            *counted = true;
                            *r += 1;
                            if *r > 1 {
                                *overlaps.lock().expect("lock") += 1;
                            }
                        }
                        if p.phase == berth_registry::lifecycle::gc::Phase::Files
                            && p.done == p.total
                        {
                            *r -= 1;
                        }
                    };
                    if collect(&app, &progress).await {
                        ran += 1;
                    } else {
                        busy += 1;
                    }
                }
                (ran, busy)
            })
        })
        .collect();
    // Pushes through both: each layer uploaded through one replica and the manifest through
    // the other, re-pushed layers mounted from what the repository has.
    let mut acknowledged = Vec::new();
    let mut n = 0u32;
    while Instant::now() < until {
        n += 1;
        let (up, put) = if n.is_multiple_of(2) {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let layer = format!("layer {}", n % 5).into_bytes();
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{n}}}"#).into_bytes();
        let config_digest = up.push_blob(&repo, &config).await;
        let layer_digest = up.push_blob(&repo, &layer).await;
        let manifest = common::image_manifest(
            (&config_digest, config.len()),
            &[(&layer_digest, layer.len())],
            "",
        );
        let tag = format!("t{n}");
        let r = put.put_manifest(&repo, &tag, OCI_MANIFEST, &manifest).await;
        if r.status() == StatusCode::CREATED {
            acknowledged.push((tag, sha256(&manifest), layer));
        } else {
            // A collection took a blob between its upload and the manifest: refused cleanly.
            assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
        }
    }
    let mut ran = 0;
    let mut busy = 0;
    for c in collectors {
        let (r, b) = c.await.expect("collector");
        ran += r;
        busy += b;
    }
    println!(
        "{} pushes acknowledged of {n}; {ran} collections ran, {busy} found the other running",
        acknowledged.len()
    );
    assert_eq!(
        *overlaps.lock().expect("lock"),
        0,
        "two collections ran at once"
    );
    // A collection marks whatever it finds still running as interrupted: none was.
    let db = database(&a).await;
    let statuses: Vec<String> = sqlx::query_scalar("SELECT DISTINCT status FROM gc_runs")
        .fetch_all(&db)
        .await
        .expect("gc runs");
    assert_eq!(statuses, ["done"], "every run ran alone to its end");
    assert!(ran >= 2 && busy >= 1, "both collected, and met each other");
    assert!(acknowledged.len() as u32 > n / 2, "most pushes got through");
    for (tag, digest, layer) in &acknowledged {
        for app in [&a, &b] {
            assert_eq!(served(app, &repo, tag).await.as_ref(), Ok(digest), "{tag}");
            let r = app
                .get(&format!("/v2/{repo}/blobs/{}", sha256(layer)))
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{tag}'s layer");
            assert_eq!(&r.bytes().await.expect("layer")[..], &layer[..]);
        }
    }
    a.assert_consistent().await;
}

#[tokio::test]
async fn replicas_share_their_secrets_or_refuse_to_start() {
    if !replicas_supported() {
        return;
    }
    let secrets = tempfile::tempdir().expect("secrets dir");
    let shared = secrets.path().to_owned();
    let a = TestApp::start_with(|c| c.secrets_dir = shared.clone()).await;
    let elsewhere = tempfile::tempdir().expect("another data dir");
    let data_dir = elsewhere.path().join("data");
    let b = a
        .replica(|c| {
            c.data_dir = data_dir;
            c.secrets_dir = shared.clone();
        })
        .await;
    // A token A issued is good on B.
    let r = a
        .client
        .get(a.url(&format!(
            "/auth/token?service={}&scope=repository:{ADMIN}/app:pull",
            a.host()
        )))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let token: serde_json::Value = r.json().await.expect("token json");
    let token = token["token"].as_str().expect("token").to_owned();
    let r = b
        .anonymous
        .get(b.url("/v2/"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("v2 on B");
    assert_eq!(r.status(), StatusCode::OK, "B checks A's tokens");
    assert!(
        !a.config.data_dir.join("token-signing.key").exists(),
        "the keys live in the secrets directory"
    );

    // A replica with keys of its own is refused, and told what to set.
    let own = tempfile::tempdir().expect("its own secrets");
    let mut config = b.config.clone();
    config.secrets_dir = own.path().to_owned();
    let e = berth::app::State::open(&config)
        .await
        .err()
        .expect("a replica with other keys does not start");
    let message = format!("{e:#}");
    assert!(message.contains("token-signing key"), "{message}");
    assert!(message.contains("secrets_dir"), "{message}");
    assert!(message.contains("BERTH_SECRETS_DIR"), "{message}");
    let key = std::fs::read(shared.join("token-signing.key")).expect("shared key");
    assert!(
        !message.contains(&String::from_utf8_lossy(&key)[..]),
        "never the key itself"
    );
    drop(b);
}
