//! The corners of the distribution protocol where a registry is easily almost right:
//! unsatisfiable ranges, cross-repository mounts decided by who may pull the source, external
//! (non-distributable) layers, tags pushed with a manifest, and sparse manifests for mirrors.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn unsatisfiable_ranges_answer_416_and_valid_ones_206() {
    let app = TestApp::start().await;
    let blob: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let digest = app.push_blob("ranges", &blob).await;
    let path = format!("/v2/ranges/blobs/{digest}");
    for method in [Method::GET, Method::HEAD] {
        for spec in [
            "bytes=500-0",
            "bytes=1-0",
            "bytes=1000-",
            "bytes=5000-6000",
            "bytes=99999999999999999999-",
            "bytes=-0",
        ] {
            let r = app
                .request(method.clone(), &path)
                .header("Range", spec)
                .send()
                .await
                .expect("range");
            assert_eq!(
                r.status(),
                StatusCode::RANGE_NOT_SATISFIABLE,
                "{method} {spec}"
            );
            assert_eq!(
                header(&r, "content-range"),
                "bytes */1000",
                "{method} {spec}"
            );
        }
    }
    for (spec, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=500-", 500, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=-10", 990, 999),
    ] {
        let r = app
            .request(Method::GET, &path)
            .header("Range", spec)
            .send()
            .await
            .expect("range");
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{spec}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/1000"),
            "{spec}"
        );
        assert_eq!(
            r.bytes().await.expect("body").as_ref(),
            &blob[first..=last],
            "{spec}"
        );
    }
}

/// A registry token for `scope`, as the Basic credentials `auth`.
async fn token(app: &TestApp, auth: &str, scope: &str) -> String {
    let r = app
        .anonymous
        .get(app.url(&format!("/auth/token?service={}&scope={scope}", app.host())))
        .header("Authorization", auth)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK, "token for {scope}");
    let v: Value = r.json().await.expect("json");
    format!("Bearer {}", v["token"].as_str().expect("token"))
}

/// `POST …/blobs/uploads/?mount=…[&from=…]` as `auth`: the answer's status.
async fn mount(
    app: &TestApp,
    auth: &str,
    target: &str,
    digest: &str,
    from: Option<&str>,
) -> StatusCode {
    let from = from.map(|f| format!("&from={f}")).unwrap_or_default();
    app.anonymous
        .post(app.url(&format!("/v2/{target}/blobs/uploads/?mount={digest}{from}")))
        .header("Authorization", auth)
        .send()
        .await
        .expect("mount")
        .status()
}

#[tokio::test]
async fn mounts_are_decided_by_who_may_pull_the_source() {
    // Repositories a push creates are private: what Alice mounts stays hers.
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let r = push_blob_as(&app, &alice, "alice/vault", b"a private layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let secret = sha256(b"a private layer");
    let r = push_blob_as(&app, &alice, "alice/shared", b"a public layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let public = sha256(b"a public layer");
    let r = call(
        &app,
        Method::PATCH,
        "/api/v1/repositories/alice/shared",
        Some(&alice),
        Some(json!({"visibility": "public"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Alice's token names only the target, as docker asks for it; she may pull the source.
    let t = token(&app, &alice, "repository:alice/copy:pull,push").await;
    assert_eq!(
        mount(&app, &t, "alice/copy", &secret, Some("alice/vault")).await,
        StatusCode::CREATED
    );
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/alice/copy/blobs/{secret}")))
        .header("Authorization", &t)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"a private layer");
    // Without `from`: from any repository holding the blob that she may pull.
    let t = token(&app, &alice, "repository:alice/copy2:pull,push").await;
    assert_eq!(
        mount(&app, &t, "alice/copy2", &secret, None).await,
        StatusCode::CREATED
    );
    assert_eq!(
        mount(&app, &alice, "alice/copy3", &secret, None).await,
        StatusCode::CREATED,
        "with Basic credentials too"
    );

    // Bob may pull the public repository, with or without naming it.
    let t = token(&app, &bob, "repository:bobby/mine:pull,push").await;
    assert_eq!(
        mount(&app, &t, "bobby/mine", &public, Some("alice/shared")).await,
        StatusCode::CREATED
    );
    let t = token(&app, &bob, "repository:bobby/mine2:pull,push").await;
    assert_eq!(
        mount(&app, &t, "bobby/mine2", &public, None).await,
        StatusCode::CREATED
    );

    // But never the private blob: not from its repository, not from where Alice mounted it,
    // not without `from`, neither with a token nor with his password. He uploads instead.
    for auth in [
        token(&app, &bob, "repository:bobby/theft:pull,push").await,
        bob.clone(),
    ] {
        for from in [Some("alice/vault"), Some("alice/copy"), None] {
            assert_eq!(
                mount(&app, &auth, "bobby/theft", &secret, from).await,
                StatusCode::ACCEPTED,
                "{from:?}"
            );
        }
    }
    let r = app.head(&format!("/v2/bobby/theft/blobs/{secret}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.assert_consistent().await;
}

const NON_DISTRIBUTABLE: [&str; 5] = [
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// An image manifest with the given layer descriptors (JSON objects) and a config.
fn manifest_with_layers(config: &str, config_size: usize, layers: &[String]) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{config}","size":{config_size}}},"layers":[{}]}}"#,
        layers.join(",")
    )
}

fn layer(media_type: &str, digest: &str, size: usize, extra: &str) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}{extra}}}"#)
}

#[tokio::test]
async fn external_layers_are_accepted_without_their_blobs_and_served_back_byte_for_byte() {
    let app = TestApp::start().await;
    let config = app.push_blob("windows/base", b"{\"os\":\"windows\"}").await;
    let pushed = app.push_blob("windows/base", b"an ordinary layer").await;
    let ordinary = layer(OCI_LAYER, &pushed, 17, "");
    for (i, media_type) in NON_DISTRIBUTABLE.iter().enumerate() {
        // Never pushed: clients fetch it from its URL.
        let foreign = sha256(format!("foreign layer {i}").as_bytes());
        let external = layer(
            media_type,
            &foreign,
            123_456,
            r#","urls":["https://mcr.example.com/layer"]"#,
        );
        let body = manifest_with_layers(&config, 16, &[external, ordinary.clone()]);
        let tag = format!("ltsc{i}");
        let r = app
            .put_manifest("windows/base", &tag, OCI_MANIFEST, body.as_bytes())
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{media_type}");
        let r = app.get(&format!("/v2/windows/base/manifests/{tag}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{media_type}");
        assert_eq!(r.bytes().await.expect("body").as_ref(), body.as_bytes());
        let r = app.head(&format!("/v2/windows/base/blobs/{foreign}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{media_type}");

        // Every other reference is still required: a missing ordinary layer, and a
        // non-distributable one with nowhere else to fetch it from.
        for missing in [
            layer(OCI_LAYER, &sha256(b"not pushed"), 10, ""),
            layer(media_type, &foreign, 123_456, ""),
            layer(media_type, &foreign, 123_456, r#","urls":[]"#),
        ] {
            let body = manifest_with_layers(&config, 16, &[missing.clone(), ordinary.clone()]);
            let r = app
                .put_manifest("windows/base", "broken", OCI_MANIFEST, body.as_bytes())
                .await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{missing}");
            assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN", "{missing}");
        }
    }

    // Docker's own manifest type with a foreign layer.
    let docker = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":16}},"layers":[{}]}}"#,
        layer(
            "application/vnd.docker.image.rootfs.foreign.diff.tar",
            &sha256(b"docker foreign"),
            99,
            r#","urls":["https://example.com/a","https://example.com/b"]"#
        )
    );
    let r = app
        .put_manifest("windows/base", "docker", DOCKER_MANIFEST, docker.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get("/v2/windows/base/manifests/docker").await;
    assert_eq!(r.text().await.expect("body"), docker);

    // The foreign blobs are not missing as far as the registry's own bookkeeping goes.
    app.assert_consistent().await;
}

/// The values of every `OCI-Tag` header, and how many such headers there were.
fn oci_tags(r: &reqwest::Response) -> (Vec<String>, usize) {
    let lines: Vec<&str> = r
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().expect("ascii header"))
        .collect();
    let tags = lines
        .iter()
        .flat_map(|l| l.split(','))
        .map(|t| t.trim().to_owned())
        .collect();
    (tags, lines.len())
}

#[tokio::test]
async fn tags_pushed_with_a_manifest_are_each_answered_with_oci_tag() {
    let app = TestApp::start().await;
    let (manifest, digest) = app.push_image("tagged/app", "first", b"layer").await;
    let path = |query: &str| format!("/v2/tagged/app/manifests/{digest}?{query}");
    let put = |query: String| {
        app.client
            .put(app.url(&path(&query)))
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
    };

    let wanted: Vec<String> = (0..12).map(|i| format!("v1.{i}")).collect();
    let query: Vec<String> = wanted.iter().map(|t| format!("tag={t}")).collect();
    let r = put(query.join("&")).await.expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let (answered, lines) = oci_tags(&r);
    assert_eq!(answered, wanted);
    assert_eq!(lines, wanted.len(), "one OCI-Tag header per tag");
    let list = app.json("/v2/tagged/app/tags/list").await;
    let mut listed: Vec<String> = serde_json::from_value(list["tags"].clone()).expect("tags");
    listed.retain(|t| t != "first");
    let mut sorted = wanted.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    for tag in &wanted {
        let r = app.get(&format!("/v2/tagged/app/manifests/{tag}")).await;
        assert_eq!(header(&r, "docker-content-digest"), digest, "{tag}");
    }

    // A repeated tag is applied, and answered, once.
    let r = put("tag=again&tag=again".into()).await.expect("PUT");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(oci_tags(&r), (vec!["again".to_owned()], 1));

    // Too many: 414 with the spec's error body, and nothing is tagged.
    let too_many: Vec<String> = (0..101).map(|i| format!("tag=many{i}")).collect();
    let r = put(too_many.join("&")).await.expect("PUT");
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    let body: Value = r.json().await.expect("json error");
    assert_eq!(body["errors"][0]["code"], "MANIFEST_INVALID");
    assert!(body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("100")));
    let r = app.get("/v2/tagged/app/manifests/many0").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // An invalid tag refuses the whole push.
    let r = put("tag=good&tag=-bad".into()).await.expect("PUT");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = app.get("/v2/tagged/app/manifests/good").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The limit is configurable.
    let app = TestApp::start_with(|c| c.registry.max_tags_per_push = 2).await;
    let (manifest, digest) = app.push_image("tagged/app", "first", b"layer").await;
    let r = app
        .client
        .put(app.url(&format!(
            "/v2/tagged/app/manifests/{digest}?tag=a&tag=b&tag=c"
        )))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn sparse_manifests_accept_what_a_mirror_left_out() {
    let strict = TestApp::start().await;
    let app = TestApp::start_with(|c| c.registry.sparse_manifests = true).await;
    let repo = "admin1/mirror";
    let config_bytes = br#"{"architecture":"arm64","os":"linux"}"#;
    let absent_layer = sha256(b"a layer the mirror did not copy");
    let absent_child = sha256(b"a platform the mirror did not copy");
    let mut image = String::new();
    for a in [&strict, &app] {
        let config = a.push_blob(repo, config_bytes).await;
        image = manifest_with_layers(
            &config,
            config_bytes.len(),
            &[layer(OCI_LAYER, &absent_layer, 31, "")],
        );
    }
    let image_digest = sha256(image.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{image_digest}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{absent_child}","size":500,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        image.len()
    );

    // A registry that is not a mirror refuses both.
    let r = strict
        .put_manifest(repo, "arm64", OCI_MANIFEST, image.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    let r = app
        .put_manifest(repo, "arm64", OCI_MANIFEST, image.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .put_manifest(repo, "latest", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get(&format!("/v2/{repo}/manifests/latest")).await;
    assert_eq!(r.text().await.expect("body"), index);
    let r = app.head(&format!("/v2/{repo}/blobs/{absent_layer}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("/v2/{repo}/manifests/{absent_child}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The config is still required: without it nothing says what the image is.
    let no_config = manifest_with_layers(&sha256(b"no such config"), 2, &[]);
    let r = app
        .put_manifest(repo, "broken", OCI_MANIFEST, no_config.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    // The pages show what is there.
    for page in [
        format!("/r/{repo}/tags"),
        format!("/r/{repo}/tags/latest"),
        format!("/r/{repo}/tags/arm64"),
    ] {
        let r = app
            .anonymous
            .get(app.url(&page))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), StatusCode::OK, "{page}");
    }
    // Absent layers and children are no inconsistency.
    app.assert_consistent().await;

    // Once the mirror copies the layer, pushing the manifest again links it, so that it is
    // kept for the manifest like any other layer.
    let linked = |app: &TestApp| {
        let pool = app.state.pool.clone();
        let digest = absent_layer.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM manifest_blobs WHERE digest = $1")
                .bind(digest)
                .fetch_one(&pool)
                .await
                .expect("count links")
        }
    };
    assert_eq!(linked(&app).await, 0);
    app.push_blob(repo, b"a layer the mirror did not copy")
        .await;
    let r = app
        .put_manifest(repo, "arm64", OCI_MANIFEST, image.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(linked(&app).await, 1);
    app.assert_consistent().await;
}
