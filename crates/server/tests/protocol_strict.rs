//! The corners of the distribution protocol where a registry is easily almost right:
//! unsatisfiable ranges, cross-repository mounts decided by who may pull the source, external
//! (non-distributable) layers, tags pushed with a manifest, and sparse manifests for mirrors.

mod common;

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
