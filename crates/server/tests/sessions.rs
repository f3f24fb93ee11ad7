//! Web sessions on the JSON API: an HttpOnly cookie, and a CSRF token on every state change.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_in_use_the_cookie_with_csrf_and_sign_out() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let sign_in = |username: &'static str, password: String| {
        let app = &app;
        async move {
            app.anonymous
                .post(app.url("/api/v1/session"))
                .json(&json!({"username": username, "password": password}))
                .send()
                .await
                .expect("sign in")
        }
    };
    assert_eq!(
        sign_in("alice", "wrong password".into()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = sign_in("alice", alice.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let set_cookie = header(&r, "set-cookie");
    assert!(
        set_cookie.starts_with("berth_session=berth_session_"),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "no Secure over plain HTTP");
    let cookie = set_cookie.split(';').next().expect("cookie").to_owned();
    let v: Value = r.json().await.expect("json");
    let csrf = v["csrf_token"].as_str().expect("csrf").to_owned();
    assert_eq!(v["user"]["name"], "alice");

    let with_cookie = |method: reqwest::Method, path: &str, csrf: Option<&str>| {
        let mut req = app
            .anonymous
            .request(method, app.url(path))
            .header("Cookie", cookie.clone());
        if let Some(c) = csrf {
            req = req.header("X-CSRF-Token", c);
        }
        req
    };
    let r = with_cookie(reqwest::Method::GET, "/api/v1/user", None)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), StatusCode::OK);
    let r = with_cookie(reqwest::Method::GET, "/api/v1/session", None)
        .send()
        .await
        .expect("session");
    assert_eq!(
        r.json::<Value>().await.expect("json")["csrf_token"],
        csrf.as_str()
    );

    // State changes need the CSRF token: without it, or with a wrong one, they are refused.
    let body = json!({"name": "from the web", "scope": "read"});
    for bad in [None, Some("not the token")] {
        let r = with_cookie(reqwest::Method::POST, "/api/v1/user/tokens", bad)
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad:?}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "csrf");
    }
    let r = with_cookie(reqwest::Method::POST, "/api/v1/user/tokens", Some(&csrf))
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Sessions are for passwords: a token cannot open one.
    let token = r.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        sign_in("alice", token).await.status(),
        StatusCode::BAD_REQUEST
    );

    // Signing out ends the session.
    let r = with_cookie(reqwest::Method::DELETE, "/api/v1/session", None)
        .send()
        .await
        .expect("out");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "sign-out needs the CSRF token too"
    );
    let r = with_cookie(reqwest::Method::DELETE, "/api/v1/session", Some(&csrf))
        .send()
        .await
        .expect("out");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    let r = with_cookie(reqwest::Method::GET, "/api/v1/user", None)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deactivated_user_loses_their_sessions() {
    let app = TestApp::start().await;
    let alice = sign_up(&app, "alice").await;
    let r = app
        .anonymous
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "alice", "password": alice}))
        .send()
        .await
        .expect("sign in");
    let cookie = header(&r, "set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let r = app
        .request(reqwest::Method::PUT, "/api/v1/users/alice/active")
        .json(&json!({"active": false}))
        .send()
        .await
        .expect("deactivate");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .anonymous
        .get(app.url("/api/v1/user"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
