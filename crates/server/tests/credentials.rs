//! Credentials under attack and after a change: throttling that slows guessing without locking
//! owners out, password hashing that stays bounded under a flood, and a password change (or reset,
//! or deactivation) that ends what logged in with the old password.

use crate::common;

use common::web::{browser, page, submit};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A client whose requests come from another loopback address (`127.0.0.x`).
fn from_address(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last_octet]))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// Sends 200 requests at once that cost no password check (a sign-in without a body), so that
/// connections, buffers and threads are in place before memory is measured: what grows after
/// is what checking passwords costs.
async fn warm_up(app: &TestApp) {
    let requests = (0..200).map(|_| {
        app.anonymous
            .post(app.url("/api/v1/session"))
            .header("Content-Type", "application/json")
            .body("{")
            .send()
    });
    for r in futures_util::future::join_all(requests).await {
        assert_eq!(r.expect("request").status(), StatusCode::BAD_REQUEST);
    }
}

async fn personal_token(app: &TestApp, auth: &str, name: &str) -> String {
    let r = call(
        app,
        Method::POST,
        "/api/v1/user/tokens",
        Some(auth),
        Some(json!({"name": name, "scope": "read-write"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn someone_elses_failures_never_lock_an_owner_out() {
    let app = TestApp::start().await;
    let password = sign_up(&app, "alice").await;
    let alice = basic("alice", &password);
    let token = personal_token(&app, &alice, "ci").await;
    let attacker = from_address(2);
    let wrong = basic("alice", "not her password");
    for i in 0..10 {
        let r = attacker
            .get(app.url("/v2/"))
            .header("Authorization", &wrong)
            .send()
            .await
            .expect("guess");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // The attacker's address is throttled for alice …
    let r = attacker
        .get(app.url("/v2/"))
        .header("Authorization", &wrong)
        .send()
        .await
        .expect("guess");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "retry-after").parse::<u64>().expect("seconds") >= 1);

    // … alice, from her own address, is not: on the registry, the token service and the API.
    let owner = from_address(1);
    let r = owner
        .get(app.url("/v2/"))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("v2");
    assert_eq!(r.status(), StatusCode::OK);
    let r = owner
        .get(app.url(&format!(
            "/auth/token?service={}&scope=repository:alice/app:pull",
            app.host()
        )))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("token service");
    assert_eq!(r.status(), StatusCode::OK);
    let r = owner
        .get(app.url("/api/v1/user"))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::OK);

    // Her access token works from anywhere, the attacker's address included: a valid
    // high-entropy secret is never refused for someone else's failures.
    for client in [&owner, &attacker] {
        for path in ["/v2/", "/api/v1/user"] {
            let r = client
                .get(app.url(path))
                .header("Authorization", basic("alice", &token))
                .send()
                .await
                .expect("token");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
        }
        let r = client
            .get(app.url("/api/v1/user"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("bearer");
        assert_eq!(r.status(), StatusCode::OK);
    }

    // An address that fails for many accounts is throttled for every account.
    let sprayer = from_address(3);
    let mut throttled = false;
    for i in 0..60 {
        let r = sprayer
            .get(app.url("/v2/"))
            .header("Authorization", basic(&format!("user{i}"), "guess"))
            .send()
            .await
            .expect("spray");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "a spraying address is throttled");
    let r = sprayer
        .get(app.url("/v2/"))
        .header("Authorization", &alice)
        .send()
        .await
        .expect("alice from the sprayer");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_verified() {
    let app = TestApp::start().await;
    sign_up(&app, "alice").await;
    warm_up(&app).await;
    let before = rss();
    let guesses = (0..200).map(|i| {
        let app = &app;
        async move {
            app.anonymous
                .post(app.url("/api/v1/session"))
                .json(&json!({"username": "alice", "password": format!("guess {i}")}))
                .send()
                .await
                .expect("sign in")
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(verified + throttled, 200, "{statuses:?}");
    assert!(verified <= 10, "{verified} guesses were verified");
    let grown = rss().saturating_sub(before);
    assert!(grown < 100 << 20, "RSS grew by {} MiB", grown >> 20);
}

#[tokio::test]
async fn a_flood_of_logins_hashes_a_few_passwords_at_a_time() {
    let app = TestApp::start_with(|c| c.auth.throttle_failures = 10_000).await;
    // The first verification sets the hashing workers up.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/user",
        Some(&basic("nobody1", "x")),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    warm_up(&app).await;
    let before = rss();
    let logins = (0..200).map(|i| {
        let app = &app;
        async move {
            app.anonymous
                .post(app.url("/api/v1/session"))
                .json(&json!({"username": format!("user{i}"), "password": "a wrong password"}))
                .send()
                .await
                .expect("sign in")
        }
    });
    for r in futures_util::future::join_all(logins).await {
        match r.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(header(&r, "retry-after").parse::<u64>().expect("seconds") >= 1);
            }
            other => panic!("unexpected {other}"),
        }
    }
    let grown = rss().saturating_sub(before);
    assert!(grown < 100 << 20, "RSS grew by {} MiB", grown >> 20);
}

/// Signs in through the API; returns the session cookie and its CSRF token.
async fn api_session(app: &TestApp, name: &str, password: &str) -> (String, String) {
    let r = app
        .anonymous
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = header(&r, "set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let v: Value = r.json().await.expect("json");
    (cookie, v["csrf_token"].as_str().expect("csrf").to_owned())
}

async fn session_user(app: &TestApp, cookie: &str) -> StatusCode {
    app.anonymous
        .get(app.url("/api/v1/user"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("me")
        .status()
}

/// A `docker login` refresh token (`offline_token=true`).
async fn refresh_token(app: &TestApp, auth: &str) -> String {
    let r = app
        .anonymous
        .get(app.url(&format!(
            "/auth/token?service={}&scope=repository:alice/app:pull&offline_token=true&client_id=docker",
            app.host()
        )))
        .header("Authorization", auth)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    v["refresh_token"].as_str().expect("refresh").to_owned()
}

async fn refresh_works(app: &TestApp, refresh: &str) -> bool {
    app.anonymous
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("service", &app.host()),
            ("client_id", "docker"),
        ])
        .send()
        .await
        .expect("refresh")
        .status()
        == StatusCode::OK
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_and_docker_logins_but_keeps_tokens() {
    let app = TestApp::start().await;
    let password = sign_up(&app, "alice").await;
    let alice = basic("alice", &password);
    let token = personal_token(&app, &alice, "laptop").await;
    let (here, csrf) = api_session(&app, "alice", &password).await;
    let (elsewhere, _) = api_session(&app, "alice", &password).await;
    let refresh = refresh_token(&app, &alice).await;
    assert!(refresh_works(&app, &refresh).await);

    let r = app
        .anonymous
        .put(app.url("/api/v1/user/password"))
        .header("Cookie", &here)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"current_password": password, "new_password": "a brand new password"}))
        .send()
        .await
        .expect("change");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        session_user(&app, &here).await,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        session_user(&app, &elsewhere).await,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    // The old session cannot mint a token either.
    let r = app
        .anonymous
        .post(app.url("/api/v1/user/tokens"))
        .header("Cookie", &elsewhere)
        .json(&json!({"name": "sneaky", "scope": "read"}))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!refresh_works(&app, &refresh).await, "docker login ended");
    // Personal access tokens stay.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/user",
        Some(&basic("alice", &token)),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // An administrator's reset ends every session, the one that changed the password too.
    let alice = basic("alice", "a brand new password");
    let refresh = refresh_token(&app, &alice).await;
    let r = app
        .request(Method::PUT, "/api/v1/users/alice/password")
        .json(&json!({"new_password": "set by the admin"}))
        .send()
        .await
        .expect("reset");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(session_user(&app, &here).await, StatusCode::UNAUTHORIZED);
    assert!(!refresh_works(&app, &refresh).await);
    // Only administrators reset passwords.
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/users/admin1/password",
        Some(&basic("alice", "set by the admin")),
        Some(json!({"new_password": "taking over"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Deactivation ends sessions and docker logins too, for good: reactivating brings none back.
    let (session, _) = api_session(&app, "alice", "set by the admin").await;
    let refresh = refresh_token(&app, &basic("alice", "set by the admin")).await;
    for active in [false, true] {
        let r = app
            .request(Method::PUT, "/api/v1/users/alice/active")
            .json(&json!({"active": active}))
            .send()
            .await
            .expect("active");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(session_user(&app, &session).await, StatusCode::UNAUTHORIZED);
    assert!(!refresh_works(&app, &refresh).await);
}

#[tokio::test]
async fn the_settings_page_signs_out_everywhere_and_asks_to_review_tokens() {
    let app = TestApp::start().await;
    let client = common::web::sign_up_web(&app, "alice").await;
    let password = "alice password";
    personal_token(&app, &basic("alice", password), "old laptop").await;
    let other = browser();
    let r = submit(
        &other,
        &app,
        "/login",
        "/login",
        &[("username", "alice"), ("password", password)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let refresh = refresh_token(&app, &basic("alice", password)).await;

    // Changing the password on the page keeps this browser signed in and asks for a review.
    let r = submit(
        &client,
        &app,
        "/settings",
        "/settings/password",
        &[
            ("current_password", password),
            ("new_password", "a new password"),
            ("new_password_confirmation", "a new password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(&client, &app, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"review-tokens\""), "review notice");
    let (_, html) = page(&other, &app, "/settings").await;
    assert!(
        !html.contains("Sign out everywhere"),
        "the other browser was signed out"
    );
    assert!(!refresh_works(&app, &refresh).await);

    // "Sign out everywhere" ends this browser's session too.
    let refresh = refresh_token(&app, &basic("alice", "a new password")).await;
    let r = submit(&client, &app, "/settings", "/settings/sessions/end", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let r = client
        .get(app.url("/settings"))
        .send()
        .await
        .expect("settings");
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "signed out: sent to log in"
    );
    assert!(!refresh_works(&app, &refresh).await);
}

#[tokio::test]
async fn guessing_the_current_password_from_a_session_is_throttled() {
    let app = TestApp::start_with(|c| c.auth.throttle_failures = 3).await;
    let password = sign_up(&app, "alice").await;
    let (cookie, csrf) = api_session(&app, "alice", &password).await;
    let change = |current: &'static str| {
        let app = &app;
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        async move {
            app.anonymous
                .put(app.url("/api/v1/user/password"))
                .header("Cookie", cookie)
                .header("X-CSRF-Token", csrf)
                .json(&json!({"current_password": current, "new_password": "taken over now"}))
                .send()
                .await
                .expect("change")
                .status()
        }
    };
    for _ in 0..3 {
        assert_eq!(change("a guess").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(change("another guess").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn token_names_are_unique_per_user() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    personal_token(&app, &alice, "ci").await;
    let again = call(
        &app,
        Method::POST,
        "/api/v1/user/tokens",
        Some(&alice),
        Some(json!({"name": "ci", "scope": "read"})),
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let v: Value = again.json().await.expect("json");
    assert!(v["error"]["message"]
        .as_str()
        .expect("message")
        .contains("\"ci\""));
    // Another user may use the name, and a revoked token frees it.
    personal_token(&app, &bob, "ci").await;
    let tokens: Value = call(&app, Method::GET, "/api/v1/user/tokens", Some(&alice), None)
        .await
        .json()
        .await
        .expect("json");
    let id = tokens[0]["id"].as_i64().expect("id");
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/user/tokens/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    personal_token(&app, &alice, "ci").await;
}
