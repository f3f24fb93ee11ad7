//! Manifests, tags, the catalog and the referrers API through the registry API.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn push_and_pull_a_manifest_by_tag_and_digest() {
    let app = TestApp::start().await;
    let (manifest, digest) = app.push_image("img/app", "v1", b"layer one").await;

    for reference in ["v1", digest.as_str()] {
        let path = format!("/v2/img/app/manifests/{reference}");
        let r = app
            .request(Method::GET, &path)
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::OK, "{reference}");
        assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
        assert_eq!(header(&r, "docker-content-digest"), digest);
        assert_eq!(header(&r, "etag"), format!("\"{digest}\""));
        assert_eq!(r.bytes().await.expect("body").as_ref(), manifest.as_slice());

        let r = app.head(&path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-length"), manifest.len().to_string());
        assert_eq!(header(&r, "docker-content-digest"), digest);
    }

    // Pushing by digest answers with the location and digest of what was stored.
    let r = app
        .put_manifest("img/app", &digest, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(location(&r), format!("/v2/img/app/manifests/{digest}"));
    assert_eq!(header(&r, "docker-content-digest"), digest);
}

#[tokio::test]
async fn missing_manifests_are_404_and_bad_references_are_errors() {
    let app = TestApp::start().await;
    app.push_image("m", "v1", b"x").await;
    for m in [Method::GET, Method::HEAD] {
        let r = app
            .request(m.clone(), "/v2/m/manifests/.INVALID_MANIFEST_NAME")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m}");
    }
    let r = app.get("/v2/m/manifests/nosuchtag").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = app
        .get(&format!("/v2/m/manifests/{}", sha256(b"nothing")))
        .await;
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = app.get("/v2/unknown-repo/manifests/latest").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = app.get("/v2/m/manifests/sha256:totallywrong").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let long_tag = "t".repeat(129);
    let r = app.put_manifest("m", &long_tag, OCI_MANIFEST, b"{}").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
}

#[tokio::test]
async fn invalid_manifests_are_rejected_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let config = app.push_blob("bad", b"{}").await;
    let layer = app.push_blob("bad", b"layer").await;
    let good = image_manifest((&config, 2), &[(&layer, 5)], "");
    let missing = sha256(b"never pushed");

    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("json", OCI_MANIFEST, b"blablabla".to_vec(), "MANIFEST_INVALID"),
        (
            "mediatype-mismatch",
            DOCKER_MANIFEST,
            good.clone(),
            "MANIFEST_INVALID",
        ),
        (
            "unknown-type",
            "application/x-nonsense",
            br#"{"schemaVersion":2,"mediaType":"application/x-nonsense"}"#.to_vec(),
            "MANIFEST_INVALID",
        ),
        (
            "no-config",
            OCI_MANIFEST,
            format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#)
                .into_bytes(),
            "MANIFEST_INVALID",
        ),
        (
            "schema1",
            OCI_MANIFEST,
            String::from_utf8_lossy(&good)
                .replace("\"schemaVersion\":2", "\"schemaVersion\":1")
                .into_bytes(),
            "MANIFEST_INVALID",
        ),
        (
            "missing-layer",
            OCI_MANIFEST,
            image_manifest((&config, 2), &[(&missing, 5)], ""),
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "missing-config",
            OCI_MANIFEST,
            image_manifest((&missing, 2), &[(&layer, 5)], ""),
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "index-missing-child",
            OCI_INDEX,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{missing}","size":10}}]}}"#
            )
            .into_bytes(),
            "MANIFEST_BLOB_UNKNOWN",
        ),
    ];
    for (tag, media_type, body, code) in cases {
        let r = app.put_manifest("bad", tag, media_type, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{tag}");
        assert_eq!(error_code(r).await, code, "{tag}");
        let r = app.get(&format!("/v2/bad/manifests/{tag}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{tag} was not stored");
    }

    // A body that does not hash to the digest it is pushed under.
    let wrong = sha256(b"some other manifest");
    let r = app.put_manifest("bad", &wrong, OCI_MANIFEST, &good).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    for d in [wrong, sha256(&good)] {
        let r = app.head(&format!("/v2/bad/manifests/{d}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let tags = app.json("/v2/bad/tags/list").await;
    assert_eq!(tags["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn oversized_manifests_are_refused() {
    let app = TestApp::start_with(|c| c.registry.max_manifest_bytes = 1024).await;
    let config = app.push_blob("big", b"{}").await;
    let padding = format!(r#","annotations":{{"pad":"{}"}}"#, "x".repeat(2000));
    let body = image_manifest((&config, 2), &[], &padding);
    let r = app.put_manifest("big", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(r).await, "SIZE_INVALID");
    // Also when the body arrives without a Content-Length (chunked).
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(body.clone())]);
    let r = app
        .client
        .put(app.url("/v2/big/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.get("/v2/big/manifests/v1").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn manifests_without_layers_or_media_type_and_docker_types() {
    let app = TestApp::start().await;
    let config = app.push_blob("kinds", b"{\"os\":\"linux\"}").await;
    // No mediaType field: the Content-Type header says what it is.
    let body = format!(
        r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{config}","size":15,"newUnspecifiedField":null}},"layers":[]}}"#
    );
    let r = app
        .put_manifest("kinds", "emptylayer", OCI_MANIFEST, body.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.get("/v2/kinds/manifests/emptylayer").await;
    assert_eq!(header(&r, "content-type"), OCI_MANIFEST);

    // Docker schema 2 image and manifest list.
    let layer = app.push_blob("kinds", b"docker layer").await;
    let docker = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":15}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":12}},{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{}","size":99,"urls":["https://example.com/layer"]}}]}}"#,
        sha256(b"foreign layers are not in the registry")
    );
    let r = app
        .put_manifest("kinds", "docker", DOCKER_MANIFEST, docker.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let child = sha256(docker.as_bytes());
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{child}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        docker.len()
    );
    let r = app
        .put_manifest("kinds", "multi", DOCKER_LIST, list.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .request(Method::GET, "/v2/kinds/manifests/multi")
        .header("Accept", format!("{DOCKER_MANIFEST}, {DOCKER_LIST}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), DOCKER_LIST);
    assert_eq!(r.text().await.expect("body"), list);

    // A client that only understands single Docker manifests is not handed a list.
    let r = app
        .request(Method::GET, "/v2/kinds/manifests/multi")
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn deleting_tags_and_manifests() {
    let app = TestApp::start().await;
    let (_, digest) = app.push_image("d", "v1", b"layer").await;
    let r = app
        .put_manifest(
            "d",
            "v2",
            OCI_MANIFEST,
            &app.get(&format!("/v2/d/manifests/{digest}"))
                .await
                .bytes()
                .await
                .expect("body"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Deleting a tag leaves the manifest and the other tag.
    let r = app.delete("/v2/d/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.get("/v2/d/manifests/v1").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v2/d/manifests/{digest}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.json("/v2/d/tags/list").await["tags"],
        serde_json::json!(["v2"])
    );

    // Deleting the manifest takes its tags with it; its blobs stay for garbage collection.
    let r = app.delete(&format!("/v2/d/manifests/{digest}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.get(&format!("/v2/d/manifests/{digest}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.json("/v2/d/tags/list").await["tags"],
        serde_json::json!([])
    );
    let r = app.delete(&format!("/v2/d/manifests/{digest}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = app.head(&format!("/v2/d/blobs/{}", sha256(b"layer"))).await;
    assert_eq!(r.status(), StatusCode::OK, "blobs are left for GC");

    let app = TestApp::start_with(|c| c.registry.delete_enabled = false).await;
    app.push_image("keep", "v1", b"layer").await;
    let r = app.delete("/v2/keep/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

#[tokio::test]
async fn tag_list_is_lexical_and_paginated() {
    let app = TestApp::start_with(|c| c.registry.max_page_size = 3).await;
    let (manifest, _) = app.push_image("tags", "b", b"layer").await;
    for tag in ["a", "c", "B", "_z", "a1"] {
        let r = app.put_manifest("tags", tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let all = ["B", "_z", "a", "a1", "b", "c"];

    let r = app.get("/v2/tags/tags/list?n=2").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "link"),
        "</v2/tags/tags/list?n=2&last=_z>; rel=\"next\""
    );
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["name"], "tags");
    assert_eq!(v["tags"], serde_json::json!(all[..2]));

    // Following the links visits every tag once, in order.
    let mut seen = Vec::new();
    let mut next = Some("/v2/tags/tags/list?n=2".to_owned());
    while let Some(path) = next {
        let r = app.get(&path).await;
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().expect("ascii");
            l[1..l.find('>').expect(">")].to_owned()
        });
        let v: serde_json::Value = r.json().await.expect("json");
        for t in v["tags"].as_array().expect("tags") {
            seen.push(t.as_str().expect("str").to_owned());
        }
    }
    assert_eq!(seen, all);

    let v = app.json("/v2/tags/tags/list?n=2&last=a").await;
    assert_eq!(v["tags"], serde_json::json!(["a1", "b"]));
    let r = app.get("/v2/tags/tags/list?n=0").await;
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["tags"],
        serde_json::json!([])
    );
    // `n` is capped by the configured page size, never trusted to size anything.
    let r = app.get("/v2/tags/tags/list?n=99999999999").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("link").is_some());
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["tags"].as_array().expect("tags").len(), 3);
    for bad in ["-1", "x"] {
        let r = app.get(&format!("/v2/tags/tags/list?n={bad}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "n={bad}");
    }
    let r = app.get("/v2/nosuchrepo/tags/list").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
}

#[tokio::test]
async fn catalog_is_lexical_and_paginated() {
    let app = TestApp::start().await;
    for repo in ["zeta", "alpha/one", "alpha", "beta-2", "alpha/two"] {
        app.push_blob(repo, repo.as_bytes()).await;
    }
    let v = app.json("/v2/_catalog").await;
    assert_eq!(
        v["repositories"],
        serde_json::json!(["alpha", "alpha/one", "alpha/two", "beta-2", "zeta"])
    );
    let r = app.get("/v2/_catalog?n=2").await;
    assert_eq!(
        header(&r, "link"),
        "</v2/_catalog?n=2&last=alpha/one>; rel=\"next\""
    );
    let v = app.json("/v2/_catalog?n=2&last=alpha/one").await;
    assert_eq!(
        v["repositories"],
        serde_json::json!(["alpha/two", "beta-2"])
    );
    let v = app.json("/v2/_catalog?last=beta-2").await;
    assert_eq!(v["repositories"], serde_json::json!(["zeta"]));
}

/// The referrers data of the OCI conformance suite: five referrers of one subject (two with
/// artifact types in their config, two with `artifactType`, one index), one referrer of a
/// subject that does not exist.
#[tokio::test]
async fn referrers_list_filter_and_missing_subjects() {
    let app = TestApp::start().await;
    let repo = "refs";
    let (subject_body, subject) = app.push_image(repo, "tagtest0", b"subject layer").await;
    let empty = app.push_blob(repo, b"{}").await;
    assert_eq!(
        empty,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let blob_a = app
        .push_blob(repo, b"NHL Peanut Butter on my NHL bagel")
        .await;
    let blob_b = app
        .push_blob(repo, b"NBA Strawberry Jam on my NBA croissant")
        .await;
    let type_a = "application/vnd.nhl.peanut.butter.bagel";
    let type_b = "application/vnd.nba.strawberry.jam.croissant";
    let empty_desc = format!(
        r#"{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}}"#
    );
    let subject_desc = |d: &str, size: usize| {
        format!(r#""subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size}}}"#)
    };
    let annotation =
        |v: &str| format!(r#""annotations":{{"org.opencontainers.conformance.test":"{v}"}}"#);
    let config_referrer = |t: &str, blob: &str, size: usize, note: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{t}","digest":"{blob}","size":{size}}},"layers":[{empty_desc}],{},{}}}"#,
            subject_desc(&subject, subject_body.len()),
            annotation(note)
        )
    };
    let layer_referrer = |t: &str, blob: &str, size: usize, subj: &str, note: Option<&str>| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{t}","config":{empty_desc},"layers":[{{"mediaType":"{t}","digest":"{blob}","size":{size}}}],{}{}}}"#,
            subject_desc(subj, 100),
            note.map(|n| format!(",{}", annotation(n)))
                .unwrap_or_default()
        )
    };
    let a_config = config_referrer(type_a, &blob_a, 33, "test config a");
    let a_layer = layer_referrer(type_a, &blob_a, 33, &subject, Some("test layer a"));
    let b_config = config_referrer(type_b, &blob_b, 38, "test config b");
    let b_layer = layer_referrer(type_b, &blob_b, 38, &subject, Some("test layer b"));
    let never_pushed = sha256(b"a subject that was never pushed");
    let c_layer = layer_referrer(type_b, &blob_b, 38, &never_pushed, None);

    let push = |body: String, media_type: &'static str| {
        let app = &app;
        async move {
            let digest = sha256(body.as_bytes());
            let r = app
                .put_manifest(repo, &digest, media_type, body.as_bytes())
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            (digest, r)
        }
    };
    let (a_config_d, r) = push(a_config.clone(), OCI_MANIFEST).await;
    assert_eq!(header(&r, "oci-subject"), subject);
    let (a_layer_d, r) = push(a_layer.clone(), OCI_MANIFEST).await;
    assert_eq!(header(&r, "oci-subject"), subject);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","artifactType":"application/vnd.food.stand","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{a_config_d}","size":{}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{a_layer_d}","size":{}}}],{},{}}}"#,
        a_config.len(),
        a_layer.len(),
        subject_desc(&subject, subject_body.len()),
        annotation("test index")
    );
    let (index_d, r) = push(index, OCI_INDEX).await;
    assert_eq!(header(&r, "oci-subject"), subject);
    let (b_config_d, _) = push(b_config, OCI_MANIFEST).await;
    let (b_layer_d, _) = push(b_layer, OCI_MANIFEST).await;
    let (c_layer_d, r) = push(c_layer, OCI_MANIFEST).await;
    assert_eq!(
        header(&r, "oci-subject"),
        never_pushed,
        "a missing subject is accepted"
    );

    let referrers = |query: String| {
        let app = &app;
        async move {
            let r = app.get(&format!("/v2/{repo}/referrers/{query}")).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "content-type"), OCI_INDEX);
            let filtered = r
                .headers()
                .get("oci-filters-applied")
                .map(|v| v.to_str().expect("ascii").to_owned());
            let v: serde_json::Value = r.json().await.expect("json");
            assert_eq!(v["schemaVersion"], 2);
            assert_eq!(v["mediaType"], OCI_INDEX);
            (
                v["manifests"].as_array().expect("manifests").clone(),
                filtered,
            )
        }
    };

    let (all, filtered) = referrers(subject.clone()).await;
    assert!(filtered.is_none());
    let listed: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|m| {
            assert_eq!(m["annotations"].as_object().expect("annotations").len(), 1);
            (
                m["digest"].as_str().expect("digest"),
                m["artifactType"].as_str().expect("artifactType"),
                m["annotations"]["org.opencontainers.conformance.test"]
                    .as_str()
                    .expect("annotation"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (a_config_d.as_str(), type_a, "test config a"),
            (a_layer_d.as_str(), type_a, "test layer a"),
            (index_d.as_str(), "application/vnd.food.stand", "test index"),
            (b_config_d.as_str(), type_b, "test config b"),
            (b_layer_d.as_str(), type_b, "test layer b"),
        ]
    );
    assert_eq!(all[2]["mediaType"], OCI_INDEX);

    let (only_a, filtered) = referrers(format!("{subject}?artifactType={type_a}")).await;
    assert_eq!(filtered.as_deref(), Some("artifactType"));
    let digests: Vec<&str> = only_a
        .iter()
        .map(|m| m["digest"].as_str().expect("digest"))
        .collect();
    assert_eq!(digests, vec![a_config_d.as_str(), a_layer_d.as_str()]);

    let (missing, _) = referrers(never_pushed.clone()).await;
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["digest"], c_layer_d.as_str());

    let (none, _) = referrers(sha256(b"hello world")).await;
    assert!(none.is_empty());

    // Deleting a referrer removes it from the list.
    assert_eq!(
        app.delete(&format!("/v2/{repo}/manifests/{b_layer_d}"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let (after, _) = referrers(subject.clone()).await;
    assert_eq!(after.len(), 4);

    let r = app.get(&format!("/v2/{repo}/referrers/sha256:bad")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}
