//! Accounts and the token service on the registry API: who may see, pull, push and delete what.

mod common;

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

    // Basic works for simple clients; a token from the token service works for docker.
    let r = push_blob_as(&app, &basic("alice", &alice), "alice/app", b"alice's layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (t, claims) = token(
        &app,
        Some(("alice", &alice)),
        "repository:alice/app:pull,push",
    )
    .await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], app.host());
    assert_eq!(
        claims["access"],
        json!([{"type":"repository","name":"alice/app","actions":["pull","push"]}])
    );
    let r = push_blob_as(&app, &bearer(&t), "alice/app", b"another layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Bob asks for push on Alice's repository: he gets pull only (it is public), and pushing
    // with that token, or with his password, is refused.
    let (t, claims) = token(
        &app,
        Some(("bobby", &bob)),
        "repository:alice/app:pull,push",
    )
    .await;
    assert_eq!(claims["access"][0]["actions"], json!(["pull"]));
    let r = push_blob_as(&app, &bearer(&t), "alice/app", b"bob's layer").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").contains("error=\"insufficient_scope\""));
    let r = push_blob_as(&app, &basic("bobby", &bob), "alice/app", b"bob's layer").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "DENIED");
    // Nor can he create repositories in her namespace.
    let r = push_blob_as(&app, &basic("bobby", &bob), "alice/new", b"bob's layer").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Only administrators push to names outside any account's namespace.
    let r = push_blob_as(&app, &basic("bobby", &bob), "toplevel", b"x").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .request(
            Method::POST,
            &format!("/v2/toplevel/blobs/uploads/?digest={}", sha256(b"x")),
        )
        .body("x")
        .send()
        .await
        .expect("admin push");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Anyone may pull the public repository, anonymously too.
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/alice/app/blobs/{}", sha256(b"alice's layer"))))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn private_repositories_are_invisible_to_outsiders() {
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bobby").await;
    let alice_auth = basic("alice", &alice);
    let r = push_blob_as(&app, &alice_auth, "alice/secret", b"secret layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let blob = format!("/v2/alice/secret/blobs/{}", sha256(b"secret layer"));

    // Anonymous: challenged, exactly like a repository that does not exist.
    for path in [
        blob.as_str(),
        "/v2/alice/secret/tags/list",
        "/v2/alice/nothing/tags/list",
    ] {
        let r = app.anonymous.get(app.url(path)).send().await.expect("GET");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Signed in without access: 404 NAME_UNKNOWN, as if it did not exist.
    let r = app
        .anonymous
        .get(app.url(&blob))
        .header("Authorization", basic("bobby", &bob))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let (_, claims) = token(&app, Some(("bobby", &bob)), "repository:alice/secret:pull").await;
    assert_eq!(claims["access"][0]["actions"], json!([]));
    let (_, claims) = token(&app, None, "repository:alice/secret:pull").await;
    assert_eq!(claims["access"][0]["actions"], json!([]));
    // The owner sees it.
    let r = app
        .anonymous
        .get(app.url(&blob))
        .header("Authorization", alice_auth.clone())
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);

    // The catalog lists only what the caller can see.
    let r = push_blob_as(&app, &basic("bobby", &bob), "bobby/mine", b"bob's").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let list = |auth: String| {
        let app = &app;
        async move {
            let r = app
                .anonymous
                .get(app.url("/v2/_catalog"))
                .header("Authorization", auth)
                .send()
                .await
                .expect("catalog");
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.expect("json")["repositories"].clone()
        }
    };
    assert_eq!(list(basic("bobby", &bob)).await, json!(["bobby/mine"]));
    // Pages and their links name only what the caller can see (the page's `last` would
    // otherwise give a private name away).
    let r = app
        .anonymous
        .get(app.url("/v2/_catalog?n=1"))
        .header("Authorization", basic("bobby", &bob))
        .send()
        .await
        .expect("catalog");
    assert!(
        r.headers().get("link").is_none(),
        "{:?}",
        r.headers().get("link")
    );
    assert_eq!(
        r.json::<Value>().await.expect("json")["repositories"],
        json!(["bobby/mine"])
    );
    // An anonymous token does not open the catalog.
    let (anon, _) = token(&app, None, "registry:catalog:*").await;
    let r = app
        .anonymous
        .get(app.url("/v2/_catalog"))
        .header("Authorization", bearer(&anon))
        .send()
        .await
        .expect("catalog");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(list(alice_auth).await, json!(["alice/secret"]));
    assert_eq!(
        list(basic(ADMIN, &app.admin_token)).await,
        json!(["alice/secret", "bobby/mine"])
    );
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

    // A read token pulls but cannot push, even in its owner's namespace.
    let r = push_blob_as(
        &app,
        &basic("alice", &write_secret),
        "alice/app",
        b"by token",
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = push_blob_as(
        &app,
        &basic("alice", &read_secret),
        "alice/app",
        b"by read token",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, claims) = token(
        &app,
        Some(("alice", &read_secret)),
        "repository:alice/app:pull,push,delete",
    )
    .await;
    assert_eq!(
        claims["access"][0]["actions"],
        json!(["pull"]),
        "no scope escalation"
    );
    // A token is only good with its owner's name.
    let r = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("admin1", &write_secret))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A token cannot mint tokens (it could outlive its own expiry or revocation that way),
    // nor get a refresh token from the token service.
    let r = app
        .anonymous
        .post(app.url("/api/v1/user/tokens"))
        .header("Authorization", basic("alice", &write_secret))
        .json(&json!({"name": "child", "scope": "read"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .anonymous
        .get(app.url("/auth/token?scope=repository:alice/app:pull&offline_token=true&client_id=x"))
        .header("Authorization", basic("alice", &write_secret))
        .send()
        .await
        .expect("token");
    let v: Value = r.json().await.expect("json");
    assert!(v.get("refresh_token").is_none());
    // A read token cannot revoke its siblings.
    let r = app
        .anonymous
        .delete(app.url(&format!("/api/v1/user/tokens/{}", write["id"])))
        .header("Authorization", basic("alice", &read_secret))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Revoked: refused at once.
    let id = write["id"].as_i64().expect("id");
    let r = app
        .anonymous
        .delete(app.url(&format!("/api/v1/user/tokens/{id}")))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = push_blob_as(
        &app,
        &basic("alice", &write_secret),
        "alice/app",
        b"after revoke",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nobody else can revoke Alice's tokens.
    let bob = sign_up(&app, "bobby").await;
    let r = app
        .anonymous
        .delete(app.url(&format!("/api/v1/user/tokens/{}", read["id"])))
        .header("Authorization", basic("bobby", &bob))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Bad input and missing auth.
    let r = app
        .anonymous
        .post(app.url("/api/v1/user/tokens"))
        .header("Authorization", basic("alice", &alice))
        .json(&json!({"name": "x", "scope": "admin"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .anonymous
        .post(app.url("/api/v1/user/tokens"))
        .json(&json!({"name": "x", "scope": "read"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
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
    let set = |who: String, name: &'static str, body: Value| {
        let app = &app;
        async move {
            app.anonymous
                .put(app.url(&format!("/api/v1/users/{name}/active")))
                .header("Authorization", who)
                .json(&body)
                .send()
                .await
                .expect("PUT active")
                .status()
        }
    };
    let admin = basic(ADMIN, &app.admin_token);
    assert_eq!(
        set(basic("bobby", &bob), "alice", json!({"active": false})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        set(String::new(), "alice", json!({"active": false})).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        set(admin.clone(), "alice", json!({"active": "no"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set(admin.clone(), "nobody1", json!({"active": false})).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        set(admin.clone(), "alice", json!({"active": false})).await,
        StatusCode::NO_CONTENT
    );
    // Alice can no longer log in anywhere.
    let r = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .anonymous
        .get(app.url("/auth/token?scope=repository:alice/app:pull"))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        set(admin, "alice", json!({"active": true})).await,
        StatusCode::NO_CONTENT
    );
    let r = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("alice", &alice))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
}
