//! Storage usage and quotas: what a namespace and a repository store (each blob its manifests
//! reference, once), the quotas site administrators set on namespaces (and the configured
//! default), and how pushes and uploads past them are refused.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use berth_registry::lifecycle::quota::human_size;
use common::web;
use common::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// An image as a test pushes it: a config unique to `label`, and its layers.
struct Image {
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
}

impl Image {
    fn new(label: &str, layers: &[&[u8]]) -> Image {
        Image {
            config: format!(
                r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"l":"{label}"}}}}}}"#
            )
            .into_bytes(),
            layers: layers.iter().map(|l| l.to_vec()).collect(),
        }
    }

    fn manifest(&self) -> Vec<u8> {
        let config = sha256(&self.config);
        let digests: Vec<String> = self.layers.iter().map(|l| sha256(l)).collect();
        let layers: Vec<(&str, usize)> = digests
            .iter()
            .zip(&self.layers)
            .map(|(d, l)| (d.as_str(), l.len()))
            .collect();
        image_manifest((&config, self.config.len()), &layers, "")
    }

    /// Every blob of the image with its size.
    fn blobs(&self) -> Vec<(String, i64)> {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(|b| (sha256(b), b.len() as i64))
            .collect()
    }

    /// What the image adds to a namespace holding none of its blobs.
    fn size(&self) -> i64 {
        self.blobs()
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .values()
            .sum()
    }

    async fn upload(&self, app: &TestApp, repo: &str) {
        app.push_blob(repo, &self.config).await;
        for layer in &self.layers {
            app.push_blob(repo, layer).await;
        }
    }

    /// Uploads the blobs, then puts the manifest under `tag`; the manifest `PUT`'s answer.
    async fn push(&self, app: &TestApp, repo: &str, tag: &str) -> Response {
        self.upload(app, repo).await;
        app.put_manifest(repo, tag, OCI_MANIFEST, &self.manifest())
            .await
    }
}

fn layer(byte: u8, len: usize) -> Vec<u8> {
    vec![byte; len]
}

async fn create_org(app: &TestApp, name: &str) {
    let r = call(
        app,
        Method::POST,
        "/api/v1/orgs",
        Some(&basic(ADMIN, &app.admin_token)),
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {name}");
}

async fn set_quota(app: &TestApp, namespace: &str, bytes: Value) -> Value {
    let r = app
        .request(
            Method::PUT,
            &format!("/api/v1/admin/namespaces/{namespace}/quota"),
        )
        .json(&json!({ "bytes": bytes }))
        .send()
        .await
        .expect("PUT quota");
    assert_eq!(r.status(), StatusCode::OK, "set the quota of {namespace}");
    r.json().await.expect("quota json")
}

async fn org_storage(app: &TestApp, org: &str) -> i64 {
    app.json(&format!("/api/v1/orgs/{org}")).await["storage_bytes"]
        .as_i64()
        .expect("storage_bytes")
}

async fn repo_storage(app: &TestApp, repo: &str) -> i64 {
    app.json(&format!("/api/v1/repositories/{repo}")).await["storage_bytes"]
        .as_i64()
        .expect("storage_bytes")
}

/// The registry error of a response: its status, code and message.
async fn refusal(r: Response) -> (StatusCode, String, String) {
    let status = r.status();
    let v: Value = r.json().await.expect("error body is JSON");
    (
        status,
        v["errors"][0]["code"].as_str().unwrap_or("").to_owned(),
        v["errors"][0]["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_shared_layer_counts_once_and_usage_shows_in_the_api() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    let base = layer(1, 3000);
    let one = Image::new("one", &[&base, &layer(2, 500)]);
    let two = Image::new("two", &[&base, &layer(3, 700)]);
    assert_eq!(
        one.push(&app, "acme/one", "v1").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        two.push(&app, "acme/two", "v1").await.status(),
        StatusCode::CREATED
    );

    let expected = one.size() + two.size() - base.len() as i64;
    assert_eq!(org_storage(&app, "acme").await, expected, "the base once");
    assert_eq!(repo_storage(&app, "acme/one").await, one.size());
    assert_eq!(repo_storage(&app, "acme/two").await, two.size());
    let quota = app.json("/api/v1/admin/namespaces/acme/quota").await;
    assert_eq!(
        quota,
        json!({"namespace": "acme", "bytes": null, "default_bytes": null, "used": expected})
    );

    // A blob no manifest references does not count, nor does a second tag of the same image.
    app.push_blob("acme/one", &layer(9, 10_000)).await;
    let r = app
        .put_manifest("acme/one", "v1-again", OCI_MANIFEST, &one.manifest())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(org_storage(&app, "acme").await, expected);

    // Deleting an image frees what only it referenced.
    let r = app
        .delete(&format!(
            "/v2/acme/two/manifests/{}",
            sha256(&two.manifest())
        ))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(org_storage(&app, "acme").await, one.size());
    assert_eq!(repo_storage(&app, "acme/two").await, 0);

    // The pages say it too.
    let html = app.get("/r/acme/one").await.text().await.expect("overview");
    assert!(
        html.contains(&format!("{} stored", human_size(one.size()))),
        "the overview shows the repository's size"
    );
    let admin = admin_browser(&app).await;
    let (_, html) = web::page(&admin, &app, "/o/acme").await;
    assert!(
        html.contains(&format!(
            "Storage: <strong>{}</strong>",
            human_size(one.size())
        )),
        "the organization's page shows what it stores"
    );
    let (_, html) = web::page(&app.anonymous, &app, "/o/acme").await;
    assert!(!html.contains("Storage:"), "outsiders are not told");
}

/// A browser signed in as the site administrator.
async fn admin_browser(app: &TestApp) -> reqwest::Client {
    let client = web::browser();
    let r = web::submit(
        &client,
        app,
        "/login",
        "/login",
        &[("username", ADMIN), ("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "log in as {ADMIN}");
    client
}

#[tokio::test]
async fn the_settings_pages_show_usage_and_site_administrators_set_the_quota_there() {
    let app = TestApp::start().await;
    // alice owns acme; the administrator is not a member.
    let alice = web::sign_up_web(&app, "alice").await;
    let r = web::submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let image = Image::new("one", &[&layer(1, 3000)]);
    assert_eq!(
        image.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );
    let used = human_size(image.size());

    // The owner sees the usage, read-only.
    let (status, html) = web::page(&alice, &app, "/o/acme/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(
        "acme stores <strong id=\"storage-used\">{used}</strong>."
    )));
    assert!(html.contains("Only the site's administrators can change the quota."));
    assert!(!html.contains("/o/acme/settings/quota"));
    let r = web::submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/quota",
        &[("amount", "100"), ("unit", "GiB"), ("action", "set")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The administrator sets it with the form; a bad amount is explained next to it.
    let admin = admin_browser(&app).await;
    let r = web::submit(
        &admin,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/quota",
        &[("amount", "lots"), ("unit", "GiB"), ("action", "set")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("page");
    assert!(html.contains("The quota is a number"), "{html}");
    let r = web::submit(
        &admin,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/quota",
        &[("amount", "2.5"), ("unit", "GiB"), ("action", "set")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/o/acme/settings?done=storage#storage");
    let quota = app.json("/api/v1/admin/namespaces/acme/quota").await;
    assert_eq!(quota["bytes"], json!(5i64 << 29));
    let (_, html) = web::page(&alice, &app, "/o/acme/settings").await;
    assert!(
        html.contains(&format!(
            "<strong id=\"storage-used\">{used}</strong> of its <strong id=\"storage-quota\">2.5 GiB</strong> quota"
        )),
        "{html}"
    );

    // The repository's settings say what it and its namespace store.
    let (_, html) = web::page(&alice, &app, "/r/acme/app/settings").await;
    assert!(html.contains(&format!(
        "This repository stores <strong id=\"repository-storage\">{used}</strong>"
    )));
    assert!(html.contains(&format!(
        "<strong id=\"namespace-storage\">{used}</strong> of its 2.5 GiB quota"
    )));

    // Removed again with the form's other button.
    let r = web::submit(
        &admin,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/quota",
        &[("action", "remove")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.json("/api/v1/admin/namespaces/acme/quota").await["bytes"],
        Value::Null
    );
}

#[tokio::test]
async fn a_push_past_the_quota_is_denied_and_a_retag_at_the_limit_passes() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    let first = Image::new("first", &[&layer(1, 4000)]);
    assert_eq!(
        first.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );
    let used = first.size();
    let limit = used + 1000;
    let quota = set_quota(&app, "acme", json!(limit)).await;
    assert_eq!(quota["bytes"], json!(limit));
    assert_eq!(quota["used"], json!(used));

    // 1 500 bytes more than fit: refused, and nothing of it is stored.
    let big = Image::new("big", &[&layer(1, 4000), &layer(2, 2500)]);
    let adds = big.size() - 4000;
    let r = big.push(&app, "acme/app", "v2").await;
    let (status, code, message) = refusal(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code, "DENIED");
    assert_eq!(
        message,
        format!(
            "quota of {} exceeded: {} used, this push adds {}",
            human_size(limit),
            human_size(used),
            human_size(adds)
        )
    );
    assert_eq!(
        app.get("/v2/acme/app/manifests/v2").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(org_storage(&app, "acme").await, used);

    // Something that fits passes, and brings the namespace to its limit exactly.
    let config_len = Image::new("s", &[]).size();
    let small = Image::new("s", &[&layer(3, (limit - used - config_len) as usize)]);
    assert_eq!(small.size(), limit - used);
    assert_eq!(
        small.push(&app, "acme/app", "small").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(org_storage(&app, "acme").await, limit);

    // At the limit, a push that adds nothing new passes: a re-tag, the same image pushed by
    // digest, or into another repository of the namespace.
    let manifest = first.manifest();
    for (repo, reference) in [
        ("acme/app", "latest".to_owned()),
        ("acme/app", sha256(&manifest)),
        ("acme/copy", "v1".to_owned()),
    ] {
        if repo == "acme/copy" {
            first.upload(&app, repo).await;
        }
        let r = app
            .put_manifest(repo, &reference, OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{repo}:{reference}");
    }
    // Full, it takes no new blob either.
    let auth = basic(ADMIN, &app.admin_token);
    let r = push_blob_as(&app, &auth, "acme/app", &layer(4, 1)).await;
    let (status, code, _) = refusal(r).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    assert_eq!(org_storage(&app, "acme").await, limit);

    // Other namespaces are not bound by it.
    assert_eq!(
        big.push(&app, &format!("{ADMIN}/app"), "v2").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_upload_into_a_full_namespace_is_refused_at_commit() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    let image = Image::new("one", &[&layer(1, 2000)]);
    assert_eq!(
        image.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );
    // A quota below what it already stores (quotas may be lowered): the namespace is full.
    set_quota(&app, "acme", json!(1000)).await;

    // A chunked upload: the chunk is accepted, the commit refused and the upload gone.
    let bytes = layer(5, 3000);
    let digest = sha256(&bytes);
    let location = app.start_upload("acme/app").await;
    let r = app
        .request(Method::PATCH, &location)
        .header("Content-Type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = common::location(&r);
    let r = app
        .request(Method::PUT, &with_digest(&location, &digest))
        .send()
        .await
        .expect("PUT");
    let (status, code, message) = refusal(r).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    assert!(message.contains("quota of 1000 B exceeded"), "{message}");
    assert_eq!(
        error_code(app.get(&location).await).await,
        "BLOB_UPLOAD_UNKNOWN",
        "the upload is discarded"
    );
    assert_eq!(
        app.head(&format!("/v2/acme/app/blobs/{digest}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let uploads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads")
        .fetch_one(&app.state.pool)
        .await
        .expect("count uploads");
    assert_eq!(uploads, 0, "no session is left behind");

    // A monolithic upload too.
    let auth = basic(ADMIN, &app.admin_token);
    let r = push_blob_as(&app, &auth, "acme/other", &bytes).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A blob the namespace already counts may be uploaded again; another namespace is free.
    assert_eq!(
        push_blob_as(&app, &auth, "acme/app", &layer(1, 2000))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        push_blob_as(&app, &auth, &format!("{ADMIN}/app"), &bytes)
            .await
            .status(),
        StatusCode::CREATED
    );

    // Raised past its usage, the namespace takes uploads again.
    set_quota(&app, "acme", json!(1 << 20)).await;
    app.push_blob("acme/app", &bytes).await;
}

#[tokio::test]
async fn null_removes_the_quota_and_every_change_is_audited() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    set_quota(&app, "acme", json!(10)).await;
    let image = Image::new("one", &[&layer(1, 2000)]);
    let (status, _, _) = refusal(image.push(&app, "acme/app", "v1").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let quota = set_quota(&app, "acme", Value::Null).await;
    assert_eq!(quota["bytes"], Value::Null);
    assert_eq!(
        image.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );

    // Bad bodies change nothing: the field is required, a number of bytes, and fits.
    for bad in [
        json!({}),
        json!({"bytes": -1}),
        json!({"bytes": 1.5}),
        json!({"bytes": "10 GiB"}),
        json!({"bytes": u64::MAX}),
        json!({"bytes": 1, "namespace": "other"}),
    ] {
        let r = app
            .request(Method::PUT, "/api/v1/admin/namespaces/acme/quota")
            .json(&bad)
            .send()
            .await
            .expect("PUT");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let v: Value = r.json().await.expect("json error");
        assert!(v["error"]["message"].is_string(), "{bad}");
    }
    assert_eq!(
        app.json("/api/v1/admin/namespaces/acme/quota").await["bytes"],
        Value::Null
    );

    let audit = berth_accounts::audit::recent(&app.state.accounts.db, 10)
        .await
        .expect("audit log");
    let changes: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|e| e.action == "quota.update")
        .map(|e| (e.actor.as_str(), e.target.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            (ADMIN, "acme", "removed, was 10 bytes"),
            (ADMIN, "acme", "10 bytes (10 B), was none"),
        ]
    );
}

#[tokio::test]
async fn a_deleted_organization_takes_its_quota_with_it() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    set_quota(&app, "acme", json!(1000)).await;
    let r = app.delete("/api/v1/orgs/acme?confirm=true").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM namespace_quotas")
        .fetch_one(&app.state.pool)
        .await
        .expect("count quotas");
    assert_eq!(rows, 0);
    // Whoever takes the name next starts without it.
    create_org(&app, "acme").await;
    assert_eq!(
        app.json("/api/v1/admin/namespaces/acme/quota").await["bytes"],
        Value::Null
    );
    let image = Image::new("one", &[&layer(1, 2000)]);
    assert_eq!(
        image.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn only_site_administrators_read_and_set_quotas() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let path = "/api/v1/admin/namespaces/alice/quota";
    for (auth, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(alice.as_str()), StatusCode::FORBIDDEN),
    ] {
        let r = call(&app, Method::GET, path, auth, None).await;
        assert_eq!(r.status(), expected, "GET as {auth:?}");
        let r = call(&app, Method::PUT, path, auth, Some(json!({"bytes": 1}))).await;
        assert_eq!(r.status(), expected, "PUT as {auth:?}");
    }
    // Nor can alice's organization page change it, though its owner sees it.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "alices"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let org = app
        .anonymous
        .get(app.url("/api/v1/orgs/alices"))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("GET org")
        .json::<Value>()
        .await
        .expect("org json");
    assert_eq!(org["storage_bytes"], json!(0));
    assert_eq!(org["quota_bytes"], Value::Null);
    let outsider = app
        .anonymous
        .get(app.url("/api/v1/orgs/alices"))
        .send()
        .await;
    let outsider: Value = outsider.expect("GET").json().await.expect("json");
    assert!(outsider.get("storage_bytes").is_none(), "{outsider}");

    // A namespace nobody has is unknown.
    let r = app.get("/api/v1/admin/namespaces/nobody/quota").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .request(Method::PUT, "/api/v1/admin/namespaces/nobody/quota")
        .json(&json!({"bytes": 1}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The administrator may.
    assert_eq!(set_quota(&app, "alice", json!(5)).await["bytes"], json!(5));
}

#[tokio::test]
async fn the_configured_default_quota_applies_to_namespaces_without_their_own() {
    let app = TestApp::start_with(|c| c.registry.default_quota_bytes = Some(3000)).await;
    create_org(&app, "acme").await;
    let quota = app.json("/api/v1/admin/namespaces/acme/quota").await;
    assert_eq!(quota["bytes"], Value::Null);
    assert_eq!(quota["default_bytes"], json!(3000));
    assert_eq!(
        app.json("/api/v1/orgs/acme").await["quota_bytes"],
        json!(3000)
    );

    let fits = Image::new("fits", &[&layer(1, 2000)]);
    assert_eq!(
        fits.push(&app, "acme/app", "v1").await.status(),
        StatusCode::CREATED
    );
    let more = Image::new("more", &[&layer(2, 2000)]);
    let (status, code, message) = refusal(more.push(&app, "acme/app", "v2").await).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    assert!(
        message.starts_with("quota of 2.9 KiB exceeded"),
        "{message}"
    );

    // The namespace's own quota wins over the default.
    set_quota(&app, "acme", json!(1 << 20)).await;
    assert_eq!(
        app.put_manifest("acme/app", "v2", OCI_MANIFEST, &more.manifest())
            .await
            .status(),
        StatusCode::CREATED
    );
    // Every namespace has it, a user's too.
    let bobby = sign_up_basic(&app, "bobby").await;
    let big = layer(3, 4000);
    assert_eq!(
        push_blob_as(&app, &bobby, "bobby/app", &big).await.status(),
        StatusCode::CREATED
    );
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    push_blob_as(&app, &bobby, "bobby/app", config).await;
    let manifest = image_manifest(
        (&sha256(config), config.len()),
        &[(&sha256(&big), big.len())],
        "",
    );
    let r = app
        .anonymous
        .put(app.url("/v2/bobby/app/manifests/v1"))
        .header("Authorization", &bobby)
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .expect("PUT manifest");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn concurrent_pushes_cannot_pass_the_quota_together() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    let images: Vec<Image> = (0..8u8)
        .map(|i| Image::new(&format!("i{i}"), &[&layer(10 + i, 1000)]))
        .collect();
    for (i, image) in images.iter().enumerate() {
        image.upload(&app, &format!("acme/r{i}")).await;
    }
    // Room for one image and a half.
    let limit = images[0].size() * 3 / 2;
    set_quota(&app, "acme", json!(limit)).await;
    let pushes = images.iter().enumerate().map(|(i, image)| {
        let app = &app;
        async move {
            app.put_manifest(&format!("acme/r{i}"), "v1", OCI_MANIFEST, &image.manifest())
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(pushes).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN));
    assert_eq!(org_storage(&app, "acme").await, images[0].size());
}

#[tokio::test]
async fn usage_matches_a_recount_after_concurrent_pushes_and_deletes() {
    let app = TestApp::start().await;
    create_org(&app, "acme").await;
    // A quota that is never reached, so every push also takes the checking path.
    set_quota(&app, "acme", json!(1i64 << 40)).await;
    let shared: Vec<Vec<u8>> = (0..4u8)
        .map(|i| layer(100 + i, 500 + usize::from(i) * 97))
        .collect();
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let app = &app;
        let shared = &shared;
        tasks.push(async move {
            let mut pushed = Vec::new();
            for round in 0..4u8 {
                let repo = format!("acme/r{}", (t + round) % 3);
                let own = layer(
                    t * 16 + round,
                    300 + usize::from(t) * 11 + usize::from(round),
                );
                let image = Image::new(
                    &format!("t{t}-{round}"),
                    &[&shared[usize::from((t + round) % 4)], &own],
                );
                let r = image.push(app, &repo, &format!("t{t}-{round}")).await;
                assert_eq!(r.status(), StatusCode::CREATED);
                let digest = sha256(&image.manifest());
                // Every other image is deleted again right away.
                if round % 2 == 1 {
                    let r = app.delete(&format!("/v2/{repo}/manifests/{digest}")).await;
                    assert_eq!(r.status(), StatusCode::ACCEPTED);
                }
                pushed.push((repo, digest, image));
            }
            pushed
        });
    }
    let pushed: Vec<(String, String, Image)> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();

    // The recount: the blobs of every manifest still there, each once.
    let mut kept: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_repo: BTreeMap<String, BTreeSet<(String, i64)>> = BTreeMap::new();
    for (repo, digest, image) in &pushed {
        let there = app
            .head(&format!("/v2/{repo}/manifests/{digest}"))
            .await
            .status();
        if there == StatusCode::OK {
            kept.extend(image.blobs());
            per_repo
                .entry(repo.clone())
                .or_default()
                .extend(image.blobs());
        }
    }
    // Sixteen images kept, each with its own config and layer, and the four shared layers.
    assert_eq!(kept.len(), 16 * 2 + 4);
    let recount: i64 = kept.values().sum();
    assert_eq!(org_storage(&app, "acme").await, recount);
    for (repo, blobs) in per_repo {
        let sum: i64 = blobs.iter().map(|(_, s)| s).sum();
        assert_eq!(repo_storage(&app, &repo).await, sum, "{repo}");
    }
    // And the same from the database, without the registry's query.
    let direct: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs WHERE digest IN (
             SELECT mb.digest FROM manifest_blobs mb
             JOIN manifests m ON m.id = mb.manifest_id
             JOIN repositories r ON r.id = m.repository_id
             WHERE r.name LIKE 'acme/%')",
    )
    .fetch_one(&app.state.pool)
    .await
    .expect("recount");
    assert_eq!(direct, recount);
}
