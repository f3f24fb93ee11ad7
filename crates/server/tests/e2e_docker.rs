#![cfg(feature = "e2e")]
//! End to end with the real `docker` CLI: images built by the private Docker daemon that
//! `scripts/test` starts are pushed to a Berth on a loopback port and pulled back.

use crate::common;

use common::docker::{build_context, random_text, Docker};
use common::*;
use reqwest::{Method, StatusCode};

/// A two-layer `FROM scratch` image with random contents, built as `tag`; returns its context
/// (which must outlive the build) and image id.
async fn build_two_layer_image(docker: &mut Docker, tag: &str) -> (tempfile::TempDir, String) {
    let ctx = build_context(
        "FROM scratch\nCOPY one.txt /one.txt\nCOPY two.txt /two.txt\n",
        &[("one.txt", &random_text()), ("two.txt", &random_text())],
    );
    let id = docker.build(ctx.path(), tag).await;
    assert_eq!(
        docker.diff_ids(tag).await.len(),
        2,
        "two COPY lines from scratch make two layers"
    );
    (ctx, id)
}

const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json";

/// Fetches an image manifest from the registry API; returns the body as JSON and its digest.
async fn manifest(app: &TestApp, repo: &str, reference: &str) -> (serde_json::Value, String) {
    let r = app
        .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
        .header("Accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect("GET manifest");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "GET {repo} manifest {reference}"
    );
    assert_eq!(
        header(&r, "content-type"),
        DOCKER_MANIFEST,
        "docker pushes schema 2"
    );
    let digest = header(&r, "docker-content-digest");
    let body = r.bytes().await.expect("manifest body");
    assert_eq!(
        digest,
        sha256(&body),
        "Docker-Content-Digest is the body's digest"
    );
    (
        serde_json::from_slice(&body).expect("manifest is JSON"),
        digest,
    )
}

fn layer_digests(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .expect("manifest has layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("layer digest").to_owned())
        .collect()
}

/// The `<tag>: digest: sha256:… size: N` line `docker push` ends with.
fn pushed_digest(push_output: &str, tag: &str) -> (String, u64) {
    let prefix = format!("{tag}: digest: ");
    let line = push_output
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in docker push output:\n{push_output}"));
    let (digest, size) = line
        .split_once(" size: ")
        .unwrap_or_else(|| panic!("unexpected digest line: {line}"));
    (
        digest.to_owned(),
        size.trim().parse().expect("numeric manifest size"),
    )
}

/// The statuses `docker push` printed for one layer (`<first 12 hex digits>: <status>`).
fn layer_statuses(push_output: &str, diff_id: &str) -> Vec<String> {
    let hex = diff_id.trim_start_matches("sha256:");
    let prefix = format!("{}: ", &hex[..12]);
    push_output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_then_pull_restores_the_same_image() {
    let mut docker = Docker::new();
    let app = TestApp::start().await;
    docker.login(&app).await;
    let tag = format!("{}/e2e/app:v1", app.host());
    let (_ctx, id) = build_two_layer_image(&mut docker, &tag).await;
    let diff_ids = docker.diff_ids(&tag).await;

    let push = docker.ok(&["push", &tag]).await;
    pushed_digest(&push, "v1");

    let tags = app.json("/v2/e2e/app/tags/list").await;
    assert_eq!(tags["name"], "e2e/app");
    let tags: Vec<&str> = tags["tags"]
        .as_array()
        .expect("tags list")
        .iter()
        .map(|t| t.as_str().expect("tag string"))
        .collect();
    assert!(tags.contains(&"v1"), "tags after push: {tags:?}");

    let (m, _) = manifest(&app, "e2e/app", "v1").await;
    assert_eq!(
        m["config"]["digest"].as_str(),
        Some(id.as_str()),
        "the manifest's config is the image docker built"
    );
    assert_eq!(layer_digests(&m).len(), 2);

    docker.ok(&["rmi", &tag]).await;
    assert!(
        !docker.has_image(&id).await,
        "the image is gone locally before the pull"
    );

    docker.ok(&["pull", &tag]).await;
    assert_eq!(docker.image_id(&tag).await, id, "pulled image id");
    assert_eq!(docker.diff_ids(&tag).await, diff_ids, "pulled layers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_of_a_derived_image_reuses_the_base_layers() {
    let mut docker = Docker::new();
    let app = TestApp::start().await;
    docker.login(&app).await;
    let base = format!("{}/e2e/base:v1", app.host());
    let (_ctx, _) = build_two_layer_image(&mut docker, &base).await;
    let base_layers = docker.diff_ids(&base).await;
    let push = docker.ok(&["push", &base]).await;
    for layer in &base_layers {
        let statuses = layer_statuses(&push, layer);
        assert!(
            statuses.iter().any(|s| s == "Pushed"),
            "first push uploads {layer}: {statuses:?}\n{push}"
        );
    }

    let derived = format!("{}/e2e/derived:v1", app.host());
    let ctx = build_context(
        &format!("FROM {base}\nCOPY three.txt /three.txt\n"),
        &[("three.txt", &random_text())],
    );
    docker.build(ctx.path(), &derived).await;
    let derived_layers = docker.diff_ids(&derived).await;
    assert_eq!(derived_layers.len(), 3);
    assert_eq!(derived_layers[..2], base_layers[..], "built on the base");

    let push = docker.ok(&["push", &derived]).await;
    for layer in &base_layers {
        let statuses = layer_statuses(&push, layer);
        assert!(
            statuses
                .iter()
                .any(|s| s == "Mounted from e2e/base" || s == "Layer already exists"),
            "shared layer {layer} is mounted, not uploaded again: {statuses:?}\n{push}"
        );
        assert!(
            !statuses
                .iter()
                .any(|s| s == "Pushed" || s.starts_with("Pushing")),
            "shared layer {layer} was uploaded again: {statuses:?}\n{push}"
        );
    }
    let statuses = layer_statuses(&push, &derived_layers[2]);
    assert!(
        statuses.iter().any(|s| s == "Pushed"),
        "the new layer is uploaded: {statuses:?}\n{push}"
    );

    let (base_manifest, _) = manifest(&app, "e2e/base", "v1").await;
    let (derived_manifest, _) = manifest(&app, "e2e/derived", "v1").await;
    let base_blobs = layer_digests(&base_manifest);
    let derived_blobs = layer_digests(&derived_manifest);
    assert_eq!(derived_blobs.len(), 3);
    assert_eq!(
        derived_blobs[..2],
        base_blobs[..],
        "same compressed blobs in both"
    );
    for blob in &derived_blobs {
        let r = app.head(&format!("/v2/e2e/derived/blobs/{blob}")).await;
        assert_eq!(r.status(), StatusCode::OK, "HEAD e2e/derived blob {blob}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pull_by_digest_matches_the_pushed_digest() {
    let mut docker = Docker::new();
    let app = TestApp::start().await;
    docker.login(&app).await;
    let repo = format!("{}/e2e/app", app.host());
    let tag = format!("{repo}:v1");
    let (_ctx, id) = build_two_layer_image(&mut docker, &tag).await;

    let push = docker.ok(&["push", &tag]).await;
    let (digest, size) = pushed_digest(&push, "v1");

    let r = app
        .request(Method::HEAD, "/v2/e2e/app/manifests/v1")
        .header("Accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect("HEAD manifest");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "content-length"), size.to_string());

    let by_digest = format!("{repo}@{digest}");
    assert_eq!(
        docker.repo_digests(&tag).await,
        vec![by_digest.clone()],
        "RepoDigests after push"
    );

    docker.remember(&by_digest);
    docker.ok(&["rmi", &tag]).await;
    assert!(
        !docker.has_image(&id).await,
        "the image is gone locally before the pull"
    );

    docker.ok(&["pull", &by_digest]).await;
    assert_eq!(
        docker.image_id(&by_digest).await,
        id,
        "image pulled by digest"
    );
    assert_eq!(
        docker.repo_digests(&by_digest).await,
        vec![by_digest.clone()],
        "RepoDigests after pull"
    );
    let (_, served) = manifest(&app, "e2e/app", &digest).await;
    assert_eq!(served, digest, "manifest fetched by digest");
}

fn output(o: &CommandOutput) -> String {
    format!("{}{}", o.stdout_text(), o.stderr_text())
}

/// `docker login` with a password and with an access token, pushes into one's own namespace,
/// refusals elsewhere and after logout, and private repositories hidden from outsiders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_login_and_permissions() {
    let mut docker = Docker::new();
    let app = TestApp::start().await;
    let host = app.host();
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;

    // A wrong password is refused by `docker login` itself.
    let o = docker
        .run(&[
            "login",
            "--username",
            "alice",
            "--password",
            "wrong password",
            &host,
        ])
        .await;
    assert!(
        !o.status.success(),
        "login with a wrong password: {}",
        output(&o)
    );

    // Alice logs in with a personal access token and pushes into her namespace.
    let r = app
        .anonymous
        .post(app.url("/api/v1/user/tokens"))
        .header("Authorization", basic("alice", &alice))
        .json(&serde_json::json!({"name": "laptop", "scope": "read-write"}))
        .send()
        .await
        .expect("create token");
    assert_eq!(r.status(), StatusCode::CREATED);
    let token: serde_json::Value = r.json().await.expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    let o = docker
        .run(&["login", "--username", "alice", "--password", &token, &host])
        .await;
    assert!(o.status.success(), "login with a token: {}", output(&o));
    let mine = format!("{host}/alice/app:v1");
    let (_ctx, _id) = build_two_layer_image(&mut docker, &mine).await;
    docker.ok(&["push", &mine]).await;

    // Not into Bob's namespace.
    let theirs = format!("{host}/bobby/app:v1");
    docker.ok(&["tag", &mine, &theirs]).await;
    docker.remember(&theirs);
    let o = docker.run(&["push", &theirs]).await;
    assert!(
        !o.status.success(),
        "push to another namespace: {}",
        output(&o)
    );

    // Logged out, pushes are refused; the public image still pulls anonymously.
    docker.ok(&["logout", &host]).await;
    let again = format!("{host}/alice/app:v2");
    docker.ok(&["tag", &mine, &again]).await;
    docker.remember(&again);
    let o = docker.run(&["push", &again]).await;
    assert!(!o.status.success(), "push after logout: {}", output(&o));
    docker.ok(&["rmi", &mine]).await;
    docker.ok(&["pull", &mine]).await;

    // Private: anonymous and Bob are turned away, Alice (with her password) pulls.
    let r = app
        .anonymous
        .patch(app.url("/api/v1/repositories/alice/app"))
        .header("Authorization", basic("alice", &alice))
        .json(&serde_json::json!({"visibility": "private"}))
        .send()
        .await
        .expect("make private");
    assert_eq!(r.status(), StatusCode::OK);
    docker.ok(&["rmi", &mine]).await;
    let o = docker.run(&["pull", &mine]).await;
    assert!(
        !o.status.success(),
        "anonymous pull of a private image: {}",
        output(&o)
    );
    docker
        .ok(&["login", "--username", "bobby", "--password", &bob, &host])
        .await;
    let o = docker.run(&["pull", &mine]).await;
    assert!(
        !o.status.success(),
        "outsider pull of a private image: {}",
        output(&o)
    );
    let text = output(&o);
    assert!(
        text.contains("not found") || text.contains("does not exist"),
        "the outsider is told nothing exists: {text}"
    );
    docker
        .ok(&["login", "--username", "alice", "--password", &alice, &host])
        .await;
    docker.ok(&["pull", &mine]).await;
}

/// Calls the JSON API as `auth`; the answer must be a success.
async fn api(app: &TestApp, method: Method, path: &str, auth: &str, body: serde_json::Value) {
    let r = app
        .anonymous
        .request(method.clone(), app.url(path))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .expect("API call");
    assert!(r.status().is_success(), "{method} {path}: {}", r.status());
}

/// An organization's teams through the docker CLI: write pushes, read pulls but cannot push,
/// and an outsider cannot even see the private repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_with_organization_teams() {
    let mut docker = Docker::new();
    let app = TestApp::start().await;
    let host = app.host();
    let owner = basic("olive", &sign_up(&app, "olive").await);
    let writer = sign_up(&app, "wanda").await;
    let reader = sign_up(&app, "rhett").await;
    let outsider = sign_up(&app, "otto").await;
    api(
        &app,
        Method::POST,
        "/api/v1/orgs",
        &owner,
        serde_json::json!({"name": "acme"}),
    )
    .await;
    for team in ["devs", "viewers"] {
        api(
            &app,
            Method::POST,
            "/api/v1/orgs/acme/teams",
            &owner,
            serde_json::json!({"name": team}),
        )
        .await;
    }
    invite_and_accept(
        &app,
        &owner,
        "/api/v1/orgs/acme/teams/devs/members/wanda",
        None,
        &basic("wanda", &writer),
    )
    .await;
    invite_and_accept(
        &app,
        &owner,
        "/api/v1/orgs/acme/teams/viewers/members/rhett",
        None,
        &basic("rhett", &reader),
    )
    .await;
    api(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/teams/devs/repositories/app",
        &owner,
        serde_json::json!({"permission": "write"}),
    )
    .await;
    api(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/teams/viewers/repositories/app",
        &owner,
        serde_json::json!({"permission": "read"}),
    )
    .await;

    // The writer pushes a new repository into the organization.
    let image = format!("{host}/acme/app:v1");
    let (_ctx, id) = build_two_layer_image(&mut docker, &image).await;
    docker
        .ok(&["login", "--username", "wanda", "--password", &writer, &host])
        .await;
    docker.ok(&["push", &image]).await;
    api(
        &app,
        Method::PATCH,
        "/api/v1/repositories/acme/app",
        &owner,
        serde_json::json!({"visibility": "private"}),
    )
    .await;

    // The reader pulls it but cannot push.
    docker
        .ok(&["login", "--username", "rhett", "--password", &reader, &host])
        .await;
    docker.ok(&["rmi", &image]).await;
    docker.ok(&["pull", &image]).await;
    assert_eq!(docker.image_id(&image).await, id);
    let again = format!("{host}/acme/app:v2");
    docker.ok(&["tag", &image, &again]).await;
    docker.remember(&again);
    let o = docker.run(&["push", &again]).await;
    assert!(
        !o.status.success(),
        "a read-only member pushed: {}",
        output(&o)
    );

    // An outsider is told the private repository does not exist.
    docker
        .ok(&[
            "login",
            "--username",
            "otto",
            "--password",
            &outsider,
            &host,
        ])
        .await;
    docker.ok(&["rmi", &image]).await;
    let o = docker.run(&["pull", &image]).await;
    assert!(
        !o.status.success(),
        "an outsider pulled a private image: {}",
        output(&o)
    );
}

/// `docker push` tells a webhook: a real receiver on loopback (allowlisted) gets Docker Hub's
/// push payload, signed with the webhook's secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_is_told_to_a_webhook() {
    let mut docker = Docker::new();
    let app = TestApp::start_with(|c| {
        c.webhooks.allowed_targets = std::sync::Arc::new(
            berth_webhooks::guard::Allowlist::parse("127.0.0.1/32").expect("allowlist"),
        );
    })
    .await;
    let receiver = common::receiver::Receiver::start().await;
    let r = app
        .request(Method::POST, "/api/v1/repositories")
        .json(&serde_json::json!({"namespace": ADMIN, "name": "hooked"}))
        .send()
        .await
        .expect("create repository");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .request(Method::POST, "/api/v1/repositories/admin1/hooked/webhooks")
        .json(
            &serde_json::json!({"name": "deploy", "url": receiver.url("/deploy"),
                                  "events": ["push"], "secret": "docker secret"}),
        )
        .send()
        .await
        .expect("create webhook");
    assert_eq!(r.status(), StatusCode::CREATED);

    docker.login(&app).await;
    let tag = format!("{}/{ADMIN}/hooked:release", app.host());
    let (_ctx, _id) = build_two_layer_image(&mut docker, &tag).await;
    let push = docker.ok(&["push", &tag]).await;
    let (digest, _) = pushed_digest(&push, "release");

    let got = receiver.wait_for(1, 30).await;
    assert_eq!(got.len(), 1, "one manifest pushed, one delivery");
    let hook = &got[0];
    assert_eq!(hook.path, "/deploy");
    assert_eq!(hook.event, "push");
    assert!(hook.signed_with("docker secret"), "{:?}", hook.signature);
    let body = hook.json();
    assert_eq!(body["push_data"]["tag"], "release");
    assert_eq!(body["push_data"]["pusher"], ADMIN);
    assert_eq!(body["push_data"]["digest"], digest.as_str());
    assert_eq!(body["repository"]["repo_name"], "admin1/hooked");
    assert_eq!(body["repository"]["namespace"], ADMIN);
    assert_eq!(body["repository"]["name"], "hooked");
    assert_eq!(
        body["repository"]["repo_url"],
        format!("{}/r/admin1/hooked", app.base)
    );
    assert!(body["callback_url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&app.base)));
}
