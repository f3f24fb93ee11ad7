//! Content trust through the APIs, on both backends: signing keys (who may register them, what
//! is refused), cosign signatures pushed as OCI artifacts and checked against those keys, and
//! the signed-only pull policy of a namespace and of a repository. `e2e_signing.rs` does the
//! same with real skopeo and docker.

use crate::common;

use common::signing::{
    add_key, cosign_tag, manifest_status, notation_manifest, set_policy, Key, NotationSigner,
    Signature, SIGNATURE_CONFIG,
};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Signs `digest` of `repo` as cosign does: the payload and config blobs, then the signature
/// artifact under `sha256-<hex>.sig`.
async fn cosign(app: &TestApp, repo: &str, digest: &str, key: &Key) {
    let signature = Signature::new(&app.host(), repo, digest, key);
    let payload_digest = app.push_blob(repo, &signature.payload).await;
    let config_digest = app.push_blob(repo, SIGNATURE_CONFIG).await;
    let manifest = signature.manifest(&payload_digest, &config_digest);
    let r = app
        .put_manifest(repo, &cosign_tag(digest), OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "push signature");
}

/// The repositories `/api/v1/search?signed=true` lists.
async fn signed_search(app: &TestApp) -> Vec<String> {
    let found = app.json("/api/v1/search?signed=true").await;
    found["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|h| h["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn summary(app: &TestApp, repo: &str, tag: &str) -> Value {
    app.json(&format!("/api/v1/repositories/{repo}/tags/{tag}"))
        .await["summary"]
        .clone()
}

#[tokio::test]
async fn signing_keys_are_for_namespace_administrators() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let key = Key::ecdsa();
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    invite_and_accept(
        &app,
        &alice,
        "/api/v1/orgs/acme/members/bobby",
        Some(json!({"role": "member"})),
        &bob,
    )
    .await;
    let body = json!({"name": "release", "public_key": key.public_pem()});

    // Nobody, a member who is not an owner: refused. The owner: created, and listed to anyone.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/signing-keys",
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/signing-keys",
        Some(&bob),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/signing-keys",
        Some(&alice),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.expect("key");
    assert_eq!(created["algorithm"], "ecdsa-p256");
    assert_eq!(created["fingerprint"].as_str().map(str::len), Some(64));
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/signing-keys",
        Some(&bob),
        None,
    )
    .await;
    let listed: Value = r.json().await.expect("keys");
    assert_eq!(listed[0]["name"], "release");

    // The same key again (another name), the same name again: 409. Not a key: 400.
    let again = json!({"name": "other", "public_key": key.public_pem()});
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/signing-keys",
        Some(&alice),
        Some(again),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let same_name = json!({"name": "release", "public_key": Key::ed25519().public_pem()});
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/signing-keys",
        Some(&alice),
        Some(same_name),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for bad in [
        "",
        "hello",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    ] {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/user/signing-keys",
            Some(&bob),
            Some(json!({"name": "k", "public_key": bad})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    // A user's own namespace: Ed25519 is fine too.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/user/signing-keys",
        Some(&bob),
        Some(json!({"name": "laptop", "public_key": Key::ed25519().public_pem()})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let laptop: Value = r.json().await.expect("key");
    assert_eq!(laptop["algorithm"], "ed25519");
    assert_eq!(laptop["namespace"], "bobby");

    // Removing: not someone else's, then one's own.
    let id = created["id"].as_i64().expect("id");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/orgs/acme/signing-keys/{id}"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/orgs/acme/signing-keys/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/orgs/acme/signing-keys/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Policies: owners of the namespace, administrators of the repository.
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/signing-policy",
        Some(&bob),
        Some(json!({"signed_only": true})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::PUT,
        &format!("/api/v1/repositories/{ADMIN}/app/signing-policy"),
        Some(&bob),
        Some(json!({"signed_only": true})),
    )
    .await;
    assert!(
        matches!(r.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        r.status()
    );
}

#[tokio::test]
async fn the_signed_only_policy_serves_only_what_a_trusted_key_signed() {
    let app = TestApp::start().await;
    let repo = format!("{ADMIN}/app");
    let release = Key::ecdsa();
    let stranger = Key::ed25519();
    let (_, signed) = app.push_image(&repo, "signed", b"layer one").await;
    let (_, foreign) = app.push_image(&repo, "foreign", b"layer two").await;
    let (_, unsigned) = app.push_image(&repo, "unsigned", b"layer three").await;
    cosign(&app, &repo, &signed, &release).await;
    cosign(&app, &repo, &foreign, &stranger).await;

    // Before any key is trusted: signatures found, none verified.
    let s = summary(&app, &repo, "signed").await;
    assert_eq!(s["signed"], false);
    assert_eq!(s["signatures"][0]["verified"], false);
    assert!(
        signed_search(&app).await.is_empty(),
        "no keys, nothing signed"
    );
    add_key(
        &app,
        "/api/v1/user/signing-keys",
        "release",
        &release.public_pem(),
    )
    .await;
    let s = summary(&app, &repo, "signed").await;
    assert_eq!(s["signed"], true, "{s}");
    assert_eq!(signed_search(&app).await, vec![repo.clone()]);
    assert_eq!(s["signatures"][0]["signer"], "release");
    assert_eq!(s["signatures"][0]["signed_at"], 1_764_000_000);
    let s = summary(&app, &repo, "foreign").await;
    assert_eq!(s["signed"], false);
    assert!(s["signatures"][0]["problem"].is_string());
    assert_eq!(
        summary(&app, &repo, "unsigned").await["signatures"],
        json!([])
    );

    // A signature that names another manifest does not count for this one.
    let (_, copied) = app.push_image(&repo, "copied", b"layer four").await;
    let sig_tag = cosign_tag;
    let r = app
        .request(
            Method::GET,
            &format!("/v2/{repo}/manifests/{}", sig_tag(&signed)),
        )
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("signature");
    let body = r.bytes().await.expect("signature body");
    let r = app
        .put_manifest(&repo, &sig_tag(&copied), OCI_MANIFEST, &body)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let s = summary(&app, &repo, "copied").await;
    assert_eq!(s["signed"], false);
    assert!(s["signatures"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .contains("not this manifest"));

    // Policy on the repository: only the signed tag (and the signatures) can be pulled.
    set_policy(
        &app,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        true,
    )
    .await;
    for method in [Method::GET, Method::HEAD] {
        assert_eq!(
            manifest_status(&app, method.clone(), &repo, "signed").await,
            StatusCode::OK
        );
        assert_eq!(
            manifest_status(&app, method.clone(), &repo, &signed).await,
            StatusCode::OK
        );
        for refused in ["foreign", "unsigned", "copied", unsigned.as_str()] {
            assert_eq!(
                manifest_status(&app, method.clone(), &repo, refused).await,
                StatusCode::FORBIDDEN,
                "{method} {refused}"
            );
        }
        assert_eq!(
            manifest_status(&app, method.clone(), &repo, &sig_tag(&signed)).await,
            StatusCode::OK
        );
    }
    let r = app.get(&format!("/v2/{repo}/manifests/unsigned")).await;
    assert_eq!(error_code(r).await, "DENIED");
    // An image pushed under a signature's tag is still an image: refused.
    let (disguised_body, _) = app.push_image(&repo, "disguised", b"layer six").await;
    let disguise = cosign_tag(&sha256(b"anything"));
    let r = app
        .put_manifest(&repo, &disguise, OCI_MANIFEST, &disguised_body)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, &disguise).await,
        StatusCode::FORBIDDEN
    );
    // So is an image that carries a signature payload among its layers.
    let layer = app.push_blob(&repo, b"layer seven").await;
    let payload = app.push_blob(&repo, b"{}").await;
    let config = app.push_blob(&repo, SIGNATURE_CONFIG).await;
    let smuggler = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": SIGNATURE_CONFIG.len()},
        "layers": [
            {"mediaType": OCI_LAYER, "digest": layer, "size": 11},
            {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
             "digest": payload, "size": 2,
             "annotations": {"dev.cosignproject.cosign/signature": "AAAA"}}
        ]
    })
    .to_string();
    let r = app
        .put_manifest(&repo, "smuggler", OCI_MANIFEST, smuggler.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "smuggler").await,
        StatusCode::FORBIDDEN
    );

    // An index that a trusted key signed lets its platforms be pulled by digest.
    let (child_body, child) = app.push_image(&repo, "child", b"layer five").await;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": child_body.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    })
    .to_string();
    let r = app
        .put_manifest(&repo, "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, &child).await,
        StatusCode::FORBIDDEN
    );
    cosign(&app, &repo, &sha256(index.as_bytes()), &release).await;
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "multi").await,
        StatusCode::OK
    );
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, &child).await,
        StatusCode::OK
    );

    // Removing the key breaks the signatures; the policy now refuses everything but signatures.
    let keys = app.json("/api/v1/user/signing-keys").await;
    let id = keys[0]["id"].as_i64().expect("id");
    let r = app.delete(&format!("/api/v1/user/signing-keys/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "signed").await,
        StatusCode::FORBIDDEN
    );

    // Switched off: everything is served again. The namespace-wide switch works the same.
    set_policy(
        &app,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        false,
    )
    .await;
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "unsigned").await,
        StatusCode::OK
    );
    let r = app
        .client
        .put(app.url("/api/v1/user/signing-policy"))
        .json(&json!({"signed_only": true}))
        .send()
        .await
        .expect("policy");
    let policy: Value = r.json().await.expect("policy");
    assert_eq!(policy["effective"], true);
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "unsigned").await,
        StatusCode::FORBIDDEN
    );
    let repo_policy = app
        .json(&format!("/api/v1/repositories/{repo}/signing-policy"))
        .await;
    assert_eq!(repo_policy["signed_only"], false);
    assert_eq!(repo_policy["effective"], true);

    let audit: Vec<String> = berth_accounts::audit::recent(&app.state.accounts.db, 50)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "signing_key.add",
        "signing_key.remove",
        "policy.signed_only.on",
        "policy.signed_only.off",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
    app.assert_consistent().await;
}

#[tokio::test]
async fn keys_and_policies_are_managed_in_the_settings_pages() {
    use common::web::*;
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let alice_auth = basic("alice", "alice password");
    let bob = sign_up_web(&app, "bobby").await;
    let key = Key::ecdsa();
    let r = push_blob_as(&app, &alice_auth, "alice/app", b"warm up").await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let (status, html) = page(&alice, &app, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/settings/signing"));
    let (status, html) = page(&alice, &app, "/settings/signing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No keys yet"));

    // A refused key keeps what was typed (escaped) and says why.
    let r = submit(
        &alice,
        &app,
        "/settings/signing",
        "/settings/signing/keys",
        &[("name", "release"), ("public_key", "<script>x</script>")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("page");
    assert!(html.contains("PEM"), "the refusal says why");
    assert!(!html.contains("<script>x</script>"));

    let pem = key.public_pem();
    let r = submit(
        &alice,
        &app,
        "/settings/signing",
        "/settings/signing/keys",
        &[("name", "release"), ("public_key", &pem)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, "/settings/signing").await;
    assert!(html.contains("release") && html.contains("ecdsa-p256"));
    let keys = call(
        &app,
        Method::GET,
        "/api/v1/user/signing-keys",
        Some(&alice_auth),
        None,
    )
    .await
    .json::<Value>()
    .await
    .expect("keys");
    let id = keys[0]["id"].as_i64().expect("id").to_string();

    // A form without the session's CSRF token changes nothing.
    let r = post(
        &alice,
        &app,
        "/settings/signing/policy",
        &[("csrf", "forged"), ("signed_only", "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = submit(
        &alice,
        &app,
        "/settings/signing",
        "/settings/signing/policy",
        &[("signed_only", "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let policy = call(
        &app,
        Method::GET,
        "/api/v1/user/signing-policy",
        Some(&alice_auth),
        None,
    )
    .await
    .json::<Value>()
    .await
    .expect("policy");
    assert_eq!(policy["signed_only"], true);

    // The repository's own switch, on its settings page; the namespace's shows there too.
    let (status, html) = page(&alice, &app, "/r/alice/app/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"signing\"") && html.contains("already requires signatures"));
    let r = submit(
        &alice,
        &app,
        "/r/alice/app/settings",
        "/r/alice/app/settings/signed-only",
        &[("signed_only", "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let repo_policy = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/app/signing-policy",
        Some(&alice_auth),
        None,
    )
    .await
    .json::<Value>()
    .await
    .expect("policy");
    assert_eq!(repo_policy["signed_only"], true);

    // Someone else cannot post to alice's repository settings; the key is removed by its owner.
    let r = submit(
        &bob,
        &app,
        "/settings/signing",
        "/r/alice/app/settings/signed-only",
        &[],
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = submit(
        &alice,
        &app,
        "/settings/signing",
        "/settings/signing/keys/remove",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, "/settings/signing").await;
    assert!(html.contains("No keys yet"));
    // An organization's page is for its owners.
    let (status, _) = page(&bob, &app, "/o/nobody/settings/signing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Signs the manifest `digest` of `repo` as `notation sign` does: the envelope and config
/// blobs, then the signature artifact with the manifest as its subject (no tag).
async fn notation_sign(
    app: &TestApp,
    repo: &str,
    manifest: &[u8],
    signer: &NotationSigner,
    extra: Value,
) {
    let digest = sha256(manifest);
    let envelope = signer.envelope(&digest, OCI_MANIFEST, manifest.len(), extra);
    let envelope_digest = app.push_blob(repo, &envelope).await;
    let config_digest = app.push_blob(repo, SIGNATURE_CONFIG).await;
    let artifact = notation_manifest(
        (&digest, OCI_MANIFEST, manifest.len()),
        (&envelope_digest, envelope.len()),
        &config_digest,
    );
    let r = app
        .put_manifest(repo, &sha256(&artifact), OCI_MANIFEST, &artifact)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "push notation signature");
}

#[tokio::test]
async fn notation_signatures_are_verified_and_count_under_the_policy() {
    let app = TestApp::start().await;
    let repo = format!("{ADMIN}/notated");
    let (signed, _) = app.push_image(&repo, "signed", b"notation one").await;
    let (foreign, _) = app.push_image(&repo, "foreign", b"notation two").await;
    app.push_image(&repo, "unsigned", b"notation three").await;
    let release = NotationSigner::new("release");
    let stranger = NotationSigner::new("stranger");
    notation_sign(&app, &repo, &signed, &release, json!({})).await;
    notation_sign(&app, &repo, &foreign, &stranger, json!({})).await;
    let (expired, _) = app.push_image(&repo, "expired", b"notation four").await;
    let expiry = json!({
        "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"],
        "io.cncf.notary.expiry": "2020-01-01T00:00:00Z",
    });
    notation_sign(&app, &repo, &expired, &release, expiry).await;
    let (unknown, _) = app.push_image(&repo, "unknown", b"notation five").await;
    let critical = json!({"crit": ["io.cncf.notary.signingScheme", "com.example.must"]});
    notation_sign(&app, &repo, &unknown, &release, critical).await;

    add_key(
        &app,
        "/api/v1/user/signing-keys",
        "notation-release",
        &release.public_pem,
    )
    .await;
    let s = summary(&app, &repo, "signed").await;
    assert_eq!(s["signed"], true, "{s}");
    let signature = &s["signatures"][0];
    assert_eq!(signature["format"], "notation");
    assert_eq!(signature["signer"], "notation-release");
    assert_eq!(signature["signed_at"], 1_796_040_000);
    assert_eq!(signed_search(&app).await, vec![repo.clone()]);
    let s = summary(&app, &repo, "foreign").await;
    assert_eq!(s["signed"], false);
    assert_eq!(
        s["signatures"][0]["problem"],
        "no key the namespace trusts made this signature"
    );
    let s = summary(&app, &repo, "expired").await;
    assert_eq!(s["signed"], false, "{s}");
    assert!(s["signatures"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .starts_with("the signature expired"));
    let s = summary(&app, &repo, "unknown").await;
    assert_eq!(s["signed"], false, "{s}");
    assert!(s["signatures"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .contains("com.example.must"));

    // The policy serves what a trusted key signed, and the signature artifacts themselves.
    set_policy(
        &app,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        true,
    )
    .await;
    for (reference, status) in [
        ("signed", StatusCode::OK),
        ("foreign", StatusCode::FORBIDDEN),
        ("expired", StatusCode::FORBIDDEN),
        ("unsigned", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            manifest_status(&app, Method::GET, &repo, reference).await,
            status,
            "{reference}"
        );
    }
    let referrers = app
        .json(&format!("/v2/{repo}/referrers/{}", sha256(&signed)))
        .await;
    let artifact = referrers["manifests"][0]["digest"]
        .as_str()
        .expect("the signature is a referrer");
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, artifact).await,
        StatusCode::OK
    );
}
