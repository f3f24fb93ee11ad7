//! Accounts and the token service on the registry API: who may see, pull, push and delete what.

use crate::common;

use common::matrix::{self, api, check, get, pull, push, push_bytes, run, Actors};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A token from the token service for `scope`, as `name` (or anonymously).
async fn token(app: &TestApp, creds: Option<(&str, &str)>, scope: &str) -> (String, Value) {
    let mut req = app
        .anonymous
        .get(app.url(&format!("/auth/token?service={}&scope={scope}", app.host())));
    if let Some((n, s)) = creds {
        req = req.header("Authorization", basic(n, s));
    }
    let r = req.send().await.expect("token");
    assert_eq!(r.status(), StatusCode::OK, "token for {scope}");
    let v: Value = r.json().await.expect("json");
    let token = v["token"].as_str().expect("token").to_owned();
    assert_eq!(v["access_token"], v["token"]);
    assert!(v["expires_in"].as_i64().expect("expires_in") > 0);
    assert!(v["issued_at"].as_str().expect("issued_at").ends_with('Z'));
    // The claims, read without verifying (the registry verifies).
    let payload = token.split('.').nth(1).expect("jwt payload");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims json");
    (token, claims)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn anonymous_callers_are_challenged_with_the_token_realm() {
    let app = TestApp::start().await;
    let r = app
        .anonymous
        .get(app.url("/v2/"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "www-authenticate"),
        format!(
            "Bearer realm=\"{}/auth/token\",service=\"{}\"",
            app.base,
            app.host()
        )
    );
    assert_eq!(error_code(r).await, "UNAUTHORIZED");
    let r = push_blob_as(&app, "", "alice/app", b"x").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").ends_with(",scope=\"repository:alice/app:pull,push\""));
    let r = app
        .anonymous
        .get(app.url("/v2/_catalog"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").contains("scope=\"registry:catalog:*\""));
}

#[tokio::test]
async fn own_namespace_push_and_other_namespace_denied() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;
    let mut actors = Actors::new()
        .with("alice", &basic("alice", &alice))
        .with("bobby", &basic("bobby", &bob))
        .with("admin", &basic(ADMIN, &app.admin_token));
    let layer = b"alice's layer";
    let pull_push = "repository:alice/app:pull,push";

    // Basic works for simple clients; a token from the token service works for docker.
    run(
        &app,
        &actors,
        vec![
            check("alice", push_bytes("alice/app", layer), 201),
            check("alice", matrix::token(&app, pull_push), 200)
                .json("/sub", json!("alice"))
                .json("/aud", json!(app.host()))
                .json(
                    "/access",
                    json!([{"type":"repository","name":"alice/app","actions":["pull","push"]}]),
                ),
        ],
    )
    .await;
    let (t, _) = token(&app, Some(("alice", &alice)), pull_push).await;
    actors.add("alice, by token", &bearer(&t));
    // Bob asks for push on Alice's repository: he gets pull only (it is public).
    let (t, _) = token(&app, Some(("bobby", &bob)), pull_push).await;
    actors.add("bobby, by token", &bearer(&t));

    run(
        &app,
        &actors,
        vec![
            check(
                "alice, by token",
                push_bytes("alice/app", b"another layer"),
                201,
            ),
            check("bobby", matrix::token(&app, pull_push), 200)
                .json("/access/0/actions", json!(["pull"])),
            // Pushing with that token, or with his password, is refused.
            check("bobby, by token", push("alice/app"), 401)
                .header("www-authenticate", "error=\"insufficient_scope\""),
            check("bobby", push("alice/app"), 403).code("DENIED"),
            // Nor can he create repositories in her namespace.
            check("bobby", push("alice/new"), 404),
            // Only administrators push to names outside any account's namespace.
            check("bobby", push("toplevel"), 404),
            check("admin", push_bytes("toplevel", b"x"), 201),
            // Anyone may pull the public repository, anonymously too.
            check("anonymous", pull("alice/app", layer), 200),
            check("bobby", pull("alice/app", layer), 200),
            check("bobby, by token", pull("alice/app", layer), 200),
        ],
    )
    .await;
}

#[tokio::test]
async fn private_repositories_are_invisible_to_outsiders() {
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;
    let (anonymous_token, _) = token(&app, None, "registry:catalog:*").await;
    let actors = Actors::new()
        .with("alice", &basic("alice", &alice))
        .with("bobby", &basic("bobby", &bob))
        .with("admin", &basic(ADMIN, &app.admin_token))
        .with("anonymous, by token", &bearer(&anonymous_token));
    let layer = b"secret layer";
    let catalog =
        |who: &str, names: Value| check(who, get("/v2/_catalog"), 200).json("/repositories", names);

    run(
        &app,
        &actors,
        vec![
            check("alice", push_bytes("alice/secret", layer), 201),
            // Anonymous: challenged, exactly like a repository that does not exist.
            check("anonymous", pull("alice/secret", layer), 401),
            check("anonymous", get("/v2/alice/secret/tags/list"), 401),
            check("anonymous", get("/v2/alice/nothing/tags/list"), 401),
            // Signed in without access: 404 NAME_UNKNOWN, as if it did not exist.
            check("bobby", pull("alice/secret", layer), 404).code("NAME_UNKNOWN"),
            check("bobby", get("/v2/alice/secret/tags/list"), 404).code("NAME_UNKNOWN"),
            check(
                "bobby",
                matrix::token(&app, "repository:alice/secret:pull"),
                200,
            )
            .json("/access/0/actions", json!([])),
            check(
                "anonymous",
                matrix::token(&app, "repository:alice/secret:pull"),
                200,
            )
            .json("/access/0/actions", json!([])),
            // The owner sees it, and so does an administrator.
            check("alice", pull("alice/secret", layer), 200),
            check("admin", pull("alice/secret", layer), 200),
            // The catalog lists only what the caller can see.
            check("bobby", push_bytes("bobby/mine", b"bob's"), 201),
            catalog("bobby", json!(["bobby/mine"])),
            // Pages and their links name only what the caller can see (the page's `last`
            // would otherwise give a private name away).
            check("bobby", get("/v2/_catalog?n=1"), 200)
                .no_header("link")
                .json("/repositories", json!(["bobby/mine"])),
            // An anonymous token does not open the catalog.
            check("anonymous, by token", get("/v2/_catalog"), 401),
            catalog("alice", json!(["alice/secret"])),
            catalog("admin", json!(["alice/secret", "bobby/mine"])),
        ],
    )
    .await;
}

#[tokio::test]
async fn bad_tampered_expired_and_foreign_tokens_are_refused() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let (good, _) = token(
        &app,
        Some(("alice", &alice)),
        "repository:alice/app:pull,push",
    )
    .await;
    assert_eq!(
        push_blob_as(&app, &bearer(&good), "alice/app", b"ok")
            .await
            .status(),
        StatusCode::CREATED
    );

    // Tampered: the payload now claims another repository; the signature no longer matches.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("json");
    claims["access"][0]["name"] = json!("bobby/app");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(serde_json::to_vec(&claims).expect("json")),
        parts[2]
    );
    // Expired: a real signature over claims that ended a minute ago.
    let mut old = berth_accounts::jwt::Claims {
        iss: app.state.accounts.config.issuer.clone(),
        sub: "alice".into(),
        aud: app.state.accounts.config.service.clone(),
        exp: berth_accounts::now() - 120,
        nbf: berth_accounts::now() - 600,
        iat: berth_accounts::now() - 600,
        jti: "expired".into(),
        access: vec![berth_accounts::jwt::Access {
            kind: "repository".into(),
            name: "alice/app".into(),
            actions: vec!["pull".into(), "push".into()],
        }],
    };
    let expired = app.state.accounts.keys.sign(&old).expect("sign");
    // Another service's token, signed by the same key.
    old.exp = berth_accounts::now() + 300;
    old.aud = "some.other.registry".into();
    let foreign = app.state.accounts.keys.sign(&old).expect("sign");
    // `alg: none`.
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    for (what, t) in [
        ("tampered", forged.as_str()),
        ("expired", expired.as_str()),
        ("other audience", foreign.as_str()),
        ("alg none", none.as_str()),
        ("garbage", "not.a.jwt"),
    ] {
        let r = push_blob_as(&app, &bearer(t), "alice/app", b"again").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            header(&r, "www-authenticate").contains("error=\"invalid_token\""),
            "{what}"
        );
    }

    // Wrong password, unknown user: one answer for both.
    for (n, p) in [("alice", "wrong password"), ("nobody1", "whatever pw")] {
        let r = app
            .anonymous
            .get(app.url("/auth/token?scope=repository:alice/app:pull"))
            .header("Authorization", basic(n, p))
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["message"], "incorrect username or password");
    }
    // A token for another service is not issued.
    let r = app
        .anonymous
        .get(app.url("/auth/token?service=elsewhere&scope=repository:alice/app:pull"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn personal_access_tokens_scope_and_revocation() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;
    let create = |scope: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let r = app
                .anonymous
                .post(app.url("/api/v1/user/tokens"))
                .header("Authorization", basic("alice", &alice))
                .json(&json!({"name": format!("ci {scope}"), "scope": scope}))
                .send()
                .await
                .expect("create token");
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.expect("json")
        }
    };
    let read = create("read").await;
    let write = create("read-write").await;
    let read_secret = read["token"].as_str().expect("secret").to_owned();
    let write_secret = write["token"].as_str().expect("secret").to_owned();
    assert!(read_secret.starts_with("berth_pat_"));

    // Listed without secrets, with last-used times.
    let r = app
        .anonymous
        .get(app.url("/api/v1/user/tokens"))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("list");
    let listed: Value = r.json().await.expect("json");
    assert_eq!(listed.as_array().expect("list").len(), 2);
    assert!(
        !listed.to_string().contains("berth_pat_"),
        "secrets are shown once only"
    );

    let actors = Actors::new()
        .with("alice", &basic("alice", &alice))
        .with("bobby", &basic("bobby", &bob))
        .with("alice's read token", &basic("alice", &read_secret))
        .with("alice's read-write token", &basic("alice", &write_secret))
        // A token is only good with its owner's name.
        .with(
            "alice's read-write token, as admin1",
            &basic("admin1", &write_secret),
        );
    let tokens = |method: Method, body: Option<Value>| api(method, "/api/v1/user/tokens", body);
    let revoke = |id: &Value| api(Method::DELETE, &format!("/api/v1/user/tokens/{id}"), None);

    run(
        &app,
        &actors,
        vec![
            // A read token pulls but cannot push, even in its owner's namespace.
            check(
                "alice's read-write token",
                push_bytes("alice/app", b"by token"),
                201,
            ),
            check("alice's read token", push("alice/app"), 403),
            check("alice's read token", pull("alice/app", b"by token"), 200),
            // No scope escalation through the token service.
            check(
                "alice's read token",
                matrix::token(&app, "repository:alice/app:pull,push,delete"),
                200,
            )
            .json("/access/0/actions", json!(["pull"])),
            check("alice's read-write token, as admin1", get("/v2/"), 401),
            // A token cannot mint tokens (it could outlive its own expiry or revocation that
            // way), nor get a refresh token from the token service.
            check(
                "alice's read-write token",
                tokens(
                    Method::POST,
                    Some(json!({"name": "child", "scope": "read"})),
                ),
                403,
            ),
            check(
                "alice's read-write token",
                get("/auth/token?scope=repository:alice/app:pull&offline_token=true&client_id=x"),
                200,
            )
            .absent("/refresh_token"),
            // A read token cannot revoke its siblings.
            check("alice's read token", revoke(&write["id"]), 403),
            // Revoked: refused at once.
            check("alice", revoke(&write["id"]), 204),
            check("alice's read-write token", push("alice/app"), 401),
            // Nobody else can revoke Alice's tokens.
            check("bobby", revoke(&read["id"]), 404),
            // Bad input and missing auth.
            check(
                "alice",
                tokens(Method::POST, Some(json!({"name": "x", "scope": "admin"}))),
                400,
            ),
            check(
                "anonymous",
                tokens(Method::POST, Some(json!({"name": "x", "scope": "read"}))),
                401,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn sign_up_cannot_choose_privileges_or_reserved_names() {
    let app = TestApp::start().await;
    let r = app
        .anonymous
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "mallory", "email": "m@example.com", "password": "long enough pw", "is_admin": true}))
        .send()
        .await
        .expect("sign up");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    for (name, email, password) in [
        ("admin", "a@example.com", "long enough pw"),
        ("library", "l@example.com", "long enough pw"),
        ("Caps1", "c@example.com", "long enough pw"),
        ("abc", "c@example.com", "long enough pw"),
        ("valid1", "not-an-email", "long enough pw"),
        ("valid2", "v@example.com", "short"),
    ] {
        let r = app
            .anonymous
            .post(app.url("/api/v1/users"))
            .json(&json!({"username": name, "email": email, "password": password}))
            .send()
            .await
            .expect("sign up");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
    }
    sign_up(&app, "alice").await;
    let r = app
        .anonymous
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "alice", "email": "other@example.com", "password": "long enough pw"}))
        .send()
        .await
        .expect("sign up");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = app
        .anonymous
        .get(app.url("/api/v1/user"))
        .header("Authorization", basic("alice", "alice password"))
        .send()
        .await
        .expect("me");
    let me: Value = r.json().await.expect("json");
    assert_eq!(me["name"], "alice");
    assert_eq!(me["is_admin"], false);
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn login_throttling_engages_and_lifts() {
    let app = TestApp::start_with(|c| {
        c.auth.throttle_failures = 3;
        c.auth.throttle_window = std::time::Duration::from_secs(2);
    })
    .await;
    let alice = sign_up(&app, "alice").await;
    let attempt = |password: String| {
        let app = &app;
        async move {
            app.anonymous
                .get(app.url("/v2/"))
                .header("Authorization", basic("alice", &password))
                .send()
                .await
                .expect("GET")
        }
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("wrong".into()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password is refused while throttled.
    let r = attempt(alice.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "retry-after").parse::<u64>().expect("seconds") >= 1);
    assert_eq!(error_code(r).await, "TOOMANYREQUESTS");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(attempt(alice).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn offline_tokens_refresh_and_can_be_revoked() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let r = app
        .anonymous
        .get(app.url(&format!(
            "/auth/token?service={}&scope=repository:alice/app:pull&offline_token=true&client_id=docker",
            app.host()
        )))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    let refresh = v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();

    // The OAuth2 form: refresh_token grant, then password grant.
    let form = |pairs: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            app.anonymous
                .post(app.url("/auth/token"))
                .form(&pairs)
                .send()
                .await
                .expect("POST token")
        }
    };
    let r = form(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("service", app.host()),
        ("scope", "repository:alice/app:pull,push".into()),
        ("client_id", "docker".into()),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    let t = v["access_token"].as_str().expect("access_token");
    assert_eq!(
        push_blob_as(&app, &bearer(t), "alice/app", b"via refresh")
            .await
            .status(),
        StatusCode::CREATED
    );
    let r = form(vec![
        ("grant_type", "password".into()),
        ("username", "alice".into()),
        ("password", alice.clone()),
        ("scope", "repository:alice/app:pull".into()),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = form(vec![("grant_type", "client_credentials".into())]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The refresh token is listed with Alice's tokens; revoking it ends it.
    let r = app
        .anonymous
        .get(app.url("/api/v1/user/tokens"))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("list");
    let listed: Value = r.json().await.expect("json");
    let login = listed
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == "login from docker")
        .expect("the refresh token is listed");
    let r = app
        .anonymous
        .delete(app.url(&format!("/api/v1/user/tokens/{}", login["id"])))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = form(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let log = berth_accounts::audit::recent(&app.state.accounts.db, 100)
        .await
        .expect("audit");
    assert!(log
        .iter()
        .any(|e| e.action == "login" && e.actor == "alice"));
    assert!(log
        .iter()
        .any(|e| e.action == "token.revoke" && e.actor == "alice"));
}

#[tokio::test]
async fn administrators_deactivate_users() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;
    let actors = Actors::new()
        .with("alice", &basic("alice", &alice))
        .with("bobby", &basic("bobby", &bob))
        .with("admin", &basic(ADMIN, &app.admin_token));
    let set = |name: &str, body: Value| {
        api(
            Method::PUT,
            &format!("/api/v1/users/{name}/active"),
            Some(body),
        )
    };
    let pull_token = "/auth/token?scope=repository:alice/app:pull";
    run(
        &app,
        &actors,
        vec![
            check("bobby", set("alice", json!({"active": false})), 403),
            check("anonymous", set("alice", json!({"active": false})), 401),
            check("admin", set("alice", json!({"active": "no"})), 400),
            check("admin", set("nobody1", json!({"active": false})), 404),
            check("admin", set("alice", json!({"active": false})), 204),
            // Alice can no longer log in anywhere.
            check("alice", get("/v2/"), 401),
            check("alice", get(pull_token), 401),
            check("admin", set("alice", json!({"active": true})), 204),
            check("alice", get("/v2/"), 200),
            check("alice", get(pull_token), 200),
        ],
    )
    .await;
}

/// Who may pull is kept in memory between requests (an anonymous pull reads no database): a
/// repository made private, public again, or deleted must hold for the very next request.
#[tokio::test]
async fn a_visibility_change_holds_for_the_very_next_anonymous_pull() {
    let app = TestApp::start().await;
    app.push_image("library/shown", "v1", b"shown layer").await;
    let manifest = || async {
        app.anonymous
            .get(app.url("/v2/library/shown/manifests/v1"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .expect("anonymous GET")
            .status()
    };
    let app = &app;
    let visibility = |v: &'static str| async move {
        let r = app
            .request(Method::PATCH, "/api/v1/repositories/library/shown")
            .json(&json!({ "visibility": v }))
            .send()
            .await
            .expect("PATCH visibility");
        assert_eq!(r.status(), StatusCode::OK, "make {v}");
    };
    // Twice: the second answer comes from what the first kept.
    assert_eq!(manifest().await, StatusCode::OK);
    assert_eq!(manifest().await, StatusCode::OK);
    visibility("private").await;
    assert_eq!(manifest().await, StatusCode::UNAUTHORIZED);
    assert_eq!(manifest().await, StatusCode::UNAUTHORIZED);
    visibility("public").await;
    assert_eq!(manifest().await, StatusCode::OK);
    let r = app
        .request(Method::DELETE, "/api/v1/repositories/library/shown")
        .send()
        .await
        .expect("DELETE");
    assert!(r.status().is_success(), "delete: {}", r.status());
    // Gone: challenged, exactly like a repository that never existed.
    assert_eq!(manifest().await, StatusCode::UNAUTHORIZED);
}
