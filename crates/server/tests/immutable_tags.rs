//! Immutable tags: rules of a repository or a namespace that keep matching tags where they
//! were first pushed, enforced by the registry itself, the API and the pages.

use crate::common;

use common::web::{page, sign_up_web, submit};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The JSON body of a response, after checking its status.
async fn expect(r: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: {body}");
    body
}

/// The registry error's code and message.
async fn registry_error(r: reqwest::Response, status: StatusCode, what: &str) -> (String, String) {
    let body = expect(r, status, what).await;
    let e = &body["errors"][0];
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The digest a tag points at, as the registry serves it.
async fn digest_of(app: &TestApp, repo: &str, tag: &str) -> String {
    let r = app
        .request(Method::HEAD, &format!("/v2/{repo}/manifests/{tag}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("HEAD manifest");
    assert_eq!(r.status(), StatusCode::OK, "{repo}:{tag}");
    header(&r, "docker-content-digest")
}

async fn set_rules(app: &TestApp, path: &str, auth: &str, patterns: Value) -> Value {
    let r = call(
        app,
        Method::PUT,
        path,
        Some(auth),
        Some(json!({ "patterns": patterns })),
    )
    .await;
    expect(r, StatusCode::OK, path).await
}

async fn rule_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM immutable_tag_rules")
        .fetch_one(&app.state.pool)
        .await
        .expect("count rules")
}

#[tokio::test]
async fn a_protected_tag_keeps_its_manifest_and_cannot_be_deleted() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let (first, first_digest) = app.push_image("alice/app", "v1.0", b"one").await;
    app.push_image("alice/app", "latest", b"one").await;

    let v = set_rules(
        &app,
        "/api/v1/repositories/alice/app/immutable-tags",
        &alice,
        json!(["v*"]),
    )
    .await;
    assert_eq!(v, json!({"patterns": ["v*"], "inherited": []}));

    // Another image under v1.0 is refused, saying which rule; the tag stays where it was.
    let (second, second_digest) = app.push_image("alice/app", "other", b"two").await;
    let r = app
        .put_manifest("alice/app", "v1.0", OCI_MANIFEST, &second)
        .await;
    let (code, message) = registry_error(r, StatusCode::FORBIDDEN, "move v1.0").await;
    assert_eq!(code, "DENIED");
    assert!(
        message.contains("tag v1.0 is immutable (rule \"v*\" of repository alice/app)"),
        "{message}"
    );
    assert_eq!(digest_of(&app, "alice/app", "v1.0").await, first_digest);
    // Nor by digest with a `tag` parameter, whatever else it tags.
    let r = app
        .put_manifest(
            "alice/app",
            &format!("{second_digest}?tag=v2.0&tag=v1.0"),
            OCI_MANIFEST,
            &second,
        )
        .await;
    let (code, _) = registry_error(r, StatusCode::FORBIDDEN, "move v1.0 by digest").await;
    assert_eq!(code, "DENIED");
    assert_eq!(digest_of(&app, "alice/app", "v1.0").await, first_digest);
    assert_eq!(
        app.get("/v2/alice/app/manifests/v2.0").await.status(),
        StatusCode::NOT_FOUND,
        "a refused push tags nothing"
    );

    // The same image again (a retried push) is fine; so are new tags and unprotected ones.
    let r = app
        .put_manifest("alice/app", "v1.0", OCI_MANIFEST, &first)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "same digest again");
    for tag in ["v2.0", "latest"] {
        let r = app
            .put_manifest("alice/app", tag, OCI_MANIFEST, &second)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{tag}");
        assert_eq!(digest_of(&app, "alice/app", tag).await, second_digest);
    }
    // v2.0 is protected now that it exists.
    let r = app
        .put_manifest("alice/app", "v2.0", OCI_MANIFEST, &first)
        .await;
    registry_error(r, StatusCode::FORBIDDEN, "move v2.0").await;

    // Deleting the tag, or the manifest it points at, is refused too.
    let r = app.delete("/v2/alice/app/manifests/v1.0").await;
    let (code, message) = registry_error(r, StatusCode::FORBIDDEN, "delete v1.0").await;
    assert_eq!(code, "DENIED");
    assert!(
        message.contains("rule \"v*\" of repository alice/app"),
        "{message}"
    );
    let r = app
        .delete(&format!("/v2/alice/app/manifests/{first_digest}"))
        .await;
    let (code, message) = registry_error(r, StatusCode::FORBIDDEN, "delete by digest").await;
    assert_eq!(code, "DENIED");
    assert!(message.contains("is tagged v1.0"), "{message}");
    assert_eq!(digest_of(&app, "alice/app", "v1.0").await, first_digest);

    // The API's tag deletion says why in its own JSON.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/app/tags/v1.0",
        Some(&alice),
        None,
    )
    .await;
    let v = expect(r, StatusCode::FORBIDDEN, "API delete").await;
    assert_eq!(v["error"]["code"], "denied");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tag v1.0 is immutable (rule \"v*\" of repository alice/app)"),
        "{message}"
    );
    assert_eq!(digest_of(&app, "alice/app", "v1.0").await, first_digest);

    // Tags no rule names come and go as before.
    let r = app.delete("/v2/alice/app/manifests/latest").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // An empty list removes the rules (and is audited, as every change is).
    let v = set_rules(
        &app,
        "/api/v1/repositories/alice/app/immutable-tags",
        &alice,
        json!([]),
    )
    .await;
    assert_eq!(v["patterns"], json!([]));
    let audit = berth_accounts::audit::recent(&app.state.accounts.db, 50)
        .await
        .expect("audit");
    let updates: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "immutable_tags.update" && e.target == "alice/app")
        .collect();
    assert_eq!(updates.len(), 2, "{audit:?}");
    assert!(updates.iter().all(|e| e.actor == "alice"));
    let r = app
        .put_manifest("alice/app", "v1.0", OCI_MANIFEST, &second)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "free to move again");
    let r = app.delete("/v2/alice/app/manifests/v1.0").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "and to delete");
    app.assert_consistent().await;
}

#[tokio::test]
async fn a_namespace_rule_covers_every_repository_in_it() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "acme"})),
    )
    .await;
    expect(r, StatusCode::CREATED, "create acme").await;
    let v = set_rules(
        &app,
        "/api/v1/orgs/acme/immutable-tags",
        &alice,
        json!(["release-*", "v?.?"]),
    )
    .await;
    assert_eq!(v, json!({"patterns": ["release-*", "v?.?"]}));
    // Anyone may read them: they show on every repository of acme.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/immutable-tags",
        None,
        None,
    )
    .await;
    assert_eq!(
        expect(r, StatusCode::OK, "read").await,
        json!({"patterns": ["release-*", "v?.?"]})
    );

    let mut other = Vec::new();
    for repo in ["acme/one", "acme/two"] {
        let (_, digest) = app.push_image(repo, "release-1", b"one").await;
        // Another image in the repository, to point the tag at.
        other = app.push_image(repo, "x", b"other").await.0;
        let r = app
            .put_manifest(repo, "release-1", OCI_MANIFEST, &other)
            .await;
        let (code, message) = registry_error(r, StatusCode::FORBIDDEN, repo).await;
        assert_eq!(code, "DENIED");
        assert!(
            message.contains("tag release-1 is immutable (rule \"release-*\" of namespace acme)"),
            "{message}"
        );
        assert_eq!(digest_of(&app, repo, "release-1").await, digest);
    }
    let v = app
        .json("/api/v1/repositories/acme/one/immutable-tags")
        .await;
    assert_eq!(
        v,
        json!({"patterns": [], "inherited": [
            {"scope": "acme", "pattern": "release-*"},
            {"scope": "acme", "pattern": "v?.?"},
        ]})
    );

    // Another namespace is not covered; a user's own namespace has its rules under /user.
    app.push_image("alice/app", "release-1", b"one").await;
    app.push_image("alice/app", "x", b"other").await;
    let r = app
        .put_manifest("alice/app", "release-1", OCI_MANIFEST, &other)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "alice/ is not acme/");
    let v = set_rules(
        &app,
        "/api/v1/user/immutable-tags",
        &alice,
        json!(["stable"]),
    )
    .await;
    assert_eq!(v, json!({"patterns": ["stable"]}));
    let r = call(
        &app,
        Method::GET,
        "/api/v1/user/immutable-tags",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        expect(r, StatusCode::OK, "mine").await,
        json!({"patterns": ["stable"]})
    );
    app.push_image("alice/app", "stable", b"one").await;
    let r = app
        .put_manifest("alice/app", "stable", OCI_MANIFEST, &other)
        .await;
    let (_, message) = registry_error(r, StatusCode::FORBIDDEN, "alice/app:stable").await;
    assert!(
        message.contains("rule \"stable\" of namespace alice"),
        "{message}"
    );
}

#[tokio::test]
async fn only_administrators_change_rules_and_bad_patterns_are_refused() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bobby = sign_up_basic(&app, "bobby").await;
    app.push_image("alice/app", "v1", b"one").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/repositories",
        Some(&alice),
        Some(json!({"namespace": "alice", "name": "secret", "visibility": "private"})),
    )
    .await;
    expect(r, StatusCode::CREATED, "private repository").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "acme"})),
    )
    .await;
    expect(r, StatusCode::CREATED, "create acme").await;
    let body = Some(json!({"patterns": ["v*"]}));
    let put = |path: &'static str, auth: Option<&str>| {
        let auth = auth.map(str::to_owned);
        let body = body.clone();
        let app = &app;
        async move {
            call(app, Method::PUT, path, auth.as_deref(), body)
                .await
                .status()
        }
    };

    let public = "/api/v1/repositories/alice/app/immutable-tags";
    let private = "/api/v1/repositories/alice/secret/immutable-tags";
    assert_eq!(put(public, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(put(public, Some(&bobby)).await, StatusCode::FORBIDDEN);
    assert_eq!(put(private, Some(&bobby)).await, StatusCode::NOT_FOUND);
    let r = call(&app, Method::GET, public, Some(&bobby), None).await;
    expect(r, StatusCode::OK, "a public repository's rules").await;
    let r = call(&app, Method::GET, private, Some(&bobby), None).await;
    expect(r, StatusCode::NOT_FOUND, "a private one's, to an outsider").await;
    let r = call(&app, Method::GET, private, None, None).await;
    expect(r, StatusCode::NOT_FOUND, "or to nobody").await;
    assert_eq!(
        put("/api/v1/orgs/acme/immutable-tags", Some(&bobby)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put("/api/v1/orgs/nobody/immutable-tags", Some(&alice)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put("/api/v1/user/immutable-tags", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(rule_rows(&app).await, 0, "nothing refused was stored");
    // Site administrators may change any repository's rules.
    let r = app
        .request(Method::PUT, private)
        .json(&json!({"patterns": ["v*"]}))
        .send()
        .await
        .expect("PUT");
    expect(r, StatusCode::OK, "admin").await;
    assert_eq!(put(private, Some(&alice)).await, StatusCode::OK);

    let many: Vec<String> = (0..51).map(|i| format!("v{i}.*")).collect();
    for (bad, says) in [
        (json!({"patterns": ["v 1"]}), "may only hold"),
        (json!({"patterns": [""]}), "cannot be empty"),
        (json!({"patterns": ["v/*"]}), "may only hold"),
        (json!({"patterns": ["x".repeat(129)]}), "longer than 128"),
        (json!({"patterns": many}), "at most 50"),
        (json!({"patterns": "v*"}), ""),
        (json!({"patterns": ["v*"], "mode": "strict"}), ""),
        (json!({}), ""),
    ] {
        for path in [public, "/api/v1/orgs/acme/immutable-tags"] {
            let r = call(&app, Method::PUT, path, Some(&alice), Some(bad.clone())).await;
            let v = expect(r, StatusCode::BAD_REQUEST, &bad.to_string()).await;
            assert_eq!(v["error"]["code"], "invalid");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }
    let v = app.json(public).await;
    assert_eq!(v["patterns"], json!([]), "refused lists change nothing");
}

#[tokio::test]
async fn deleting_a_repository_or_an_organization_removes_its_rules() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "acme"})),
    )
    .await;
    expect(r, StatusCode::CREATED, "create acme").await;
    app.push_image("alice/app", "v1", b"one").await;
    app.push_image("acme/app", "v1", b"one").await;
    app.push_image("alice/keep", "x", b"other").await;
    for path in [
        "/api/v1/repositories/alice/app/immutable-tags",
        "/api/v1/repositories/alice/keep/immutable-tags",
        "/api/v1/repositories/acme/app/immutable-tags",
        "/api/v1/orgs/acme/immutable-tags",
    ] {
        set_rules(&app, path, &alice, json!(["v*"])).await;
    }
    assert_eq!(rule_rows(&app).await, 4);

    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "deleting a repository stays allowed"
    );
    assert_eq!(rule_rows(&app).await, 3, "its rules went with it");
    // A repository of the same name starts without rules.
    app.push_image("alice/app", "v1", b"one").await;
    let (other, _) = app.push_image("alice/app", "x", b"other").await;
    let r = app
        .put_manifest("alice/app", "v1", OCI_MANIFEST, &other)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme?confirm=true",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "delete acme");
    assert_eq!(rule_rows(&app).await, 1, "acme's and acme/app's went");
    let v = app
        .json("/api/v1/repositories/alice/keep/immutable-tags")
        .await;
    assert_eq!(v["patterns"], json!(["v*"]), "alice/keep's stayed");
}

#[tokio::test]
async fn the_pages_show_and_change_rules_and_refuse_deleting_a_protected_tag() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "create acme");
    let (_, first) = app.push_image("acme/app", "v1.0", b"one").await;

    // The organization's card.
    let (status, html) = page(&alice, &app, "/o/acme/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"immutable\""), "{html}");
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/immutable-tags",
        &[("patterns", "release-*\r\n\r\n  v*  \r\n")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/o/acme/settings?done=immutable#immutable");
    let (_, html) = page(&alice, &app, "/o/acme/settings?done=immutable").await;
    assert!(html.contains("Immutable tag rules saved."), "{html}");
    assert!(html.contains(">release-*\nv*</textarea>"), "{html}");
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/immutable-tags",
        &[("patterns", "v 1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("page");
    assert!(html.contains("may only hold letters"), "{html}");

    // The repository's card shows what the namespace adds, read-only, and sets its own.
    let (status, html) = page(&alice, &app, "/r/acme/app/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"immutable\""), "{html}");
    assert!(html.contains("<code>release-*</code>"), "{html}");
    let r = submit(
        &alice,
        &app,
        "/r/acme/app/settings",
        "/r/acme/app/settings/immutable-tags",
        &[("patterns", "stable\nlts-?")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let v = app
        .json("/api/v1/repositories/acme/app/immutable-tags")
        .await;
    assert_eq!(v["patterns"], json!(["stable", "lts-?"]));
    let (_, html) = page(&alice, &app, "/r/acme/app/settings?saved=immutable").await;
    assert!(html.contains("Immutable tag rules saved."), "{html}");
    let r = submit(
        &alice,
        &app,
        "/r/acme/app/settings",
        "/r/acme/app/settings/immutable-tags",
        &[("patterns", &"x".repeat(129))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("page");
    assert!(html.contains("longer than 128"), "{html}");

    // Deleting the tag from its page is refused with the rule, not a failure of Berth's.
    let (_, html) = page(&alice, &app, "/r/acme/app/tags/v1.0").await;
    assert!(html.contains("immutable"), "{html}");
    let r = submit(
        &alice,
        &app,
        "/r/acme/app/tags/v1.0",
        "/r/acme/app/tags/v1.0/delete",
        &[("confirm_name", "v1.0")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.expect("page");
    assert!(
        html.contains("Tag v1.0 is immutable (rule &quot;v*&quot; of namespace acme)")
            || html.contains("Tag v1.0 is immutable (rule &#34;v*&#34; of namespace acme)")
            || html.contains("Tag v1.0 is immutable (rule \"v*\" of namespace acme)"),
        "{html}"
    );
    assert_eq!(digest_of(&app, "acme/app", "v1.0").await, first);
}
