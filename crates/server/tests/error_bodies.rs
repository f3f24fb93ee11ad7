//! What clients read when Berth refuses: the registry's spec errors and the JSON API's errors,
//! status, body and the headers that go with them, provoked through the real app and compared
//! with the snapshots in snapshots/. A change to any of them shows up as a diff to review.
//!
//! The snapshots are shared by the SQLite and the PostgreSQL runs: both must answer alike.

use crate::common;

use common::*;
use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// The headers an error's client acts on, recorded when present.
const HEADERS: &[&str] = &[
    "content-type",
    "docker-distribution-api-version",
    "www-authenticate",
    "retry-after",
    "range",
];

/// One provoked error, as snapshotted (fields in this order).
#[derive(serde::Serialize)]
struct Recorded {
    case: String,
    request: String,
    status: u16,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// The cases recorded so far, in the order they were made.
struct Cases {
    /// The app's `host:port`, which changes from run to run.
    host: String,
    recorded: Vec<Recorded>,
}

impl Cases {
    fn new(app: &TestApp) -> Cases {
        Cases {
            host: app.host(),
            recorded: Vec::new(),
        }
    }

    /// Sends `req` and records what came back under `case`; `request` says what was sent.
    async fn record(&mut self, case: &str, request: &str, req: RequestBuilder) {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let mut headers = BTreeMap::new();
        for name in HEADERS {
            if let Some(v) = r.headers().get(*name) {
                let v = v.to_str().expect("ASCII header");
                headers.insert((*name).to_owned(), v.replace(&self.host, "[host]"));
            }
        }
        let bytes = r.bytes().await.expect("body");
        let text = String::from_utf8_lossy(&bytes).replace(&self.host, "[host]");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        self.recorded.push(Recorded {
            case: case.to_owned(),
            request: request.to_owned(),
            status,
            headers,
            body,
        });
    }
}

/// Snapshots `cases` under `name`, with what changes from run to run redacted.
fn assert_cases(name: &str, cases: Cases) {
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.set_description("one entry per provoked error: what was sent, what came back");
    // How long a throttled client waits depends on when the failures fell.
    settings.add_redaction("[].headers[\"retry-after\"]", "[seconds]");
    settings.bind(|| insta::assert_json_snapshot!(name, cases.recorded));
}

fn with_auth(req: RequestBuilder, auth: &str) -> RequestBuilder {
    req.header("Authorization", auth)
}

/// A token from the token service for `scope`, asked with Basic `auth`.
async fn registry_token(app: &TestApp, auth: &str, scope: &str) -> String {
    let r = app
        .anonymous
        .get(app.url(&format!("/auth/token?service={}&scope={scope}", app.host())))
        .header("Authorization", auth)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK, "token for {scope}");
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn registry_error_bodies() {
    let app = TestApp::start_with(|c| {
        c.registry.max_manifest_bytes = 1024;
        c.auth.throttle_failures = 10_000;
    })
    .await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let layer = b"alice's layer";
    let r = push_blob_as(&app, &alice, "alice/app", layer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut cases = Cases::new(&app);
    let anon = &app.anonymous;

    // Who may do what.
    cases
        .record(
            "UNAUTHORIZED: the version check, anonymously",
            "GET /v2/ (anonymous)",
            anon.get(app.url("/v2/")),
        )
        .await;
    cases
        .record(
            "UNAUTHORIZED: a push, anonymously",
            "POST /v2/alice/app/blobs/uploads/ (anonymous)",
            anon.post(app.url("/v2/alice/app/blobs/uploads/")),
        )
        .await;
    cases
        .record(
            "UNAUTHORIZED: the catalog, anonymously",
            "GET /v2/_catalog (anonymous)",
            anon.get(app.url("/v2/_catalog")),
        )
        .await;
    cases
        .record(
            "UNAUTHORIZED: a wrong password",
            "GET /v2/ (alice, a wrong password)",
            with_auth(anon.get(app.url("/v2/")), &basic("alice", "wrong password")),
        )
        .await;
    cases
        .record(
            "UNAUTHORIZED: a bearer token that is no token",
            "POST /v2/alice/app/blobs/uploads/ (Bearer not.a.jwt)",
            with_auth(
                anon.post(app.url("/v2/alice/app/blobs/uploads/")),
                "Bearer not.a.jwt",
            ),
        )
        .await;
    let pull_only = registry_token(&app, &bob, "repository:alice/app:pull,push").await;
    cases
        .record(
            "UNAUTHORIZED: a token without push",
            "POST /v2/alice/app/blobs/uploads/ (bobby's token, pull only)",
            with_auth(
                anon.post(app.url("/v2/alice/app/blobs/uploads/")),
                &format!("Bearer {pull_only}"),
            ),
        )
        .await;
    cases
        .record(
            "DENIED: a push to someone else's repository",
            "POST /v2/alice/app/blobs/uploads/ (bobby)",
            with_auth(anon.post(app.url("/v2/alice/app/blobs/uploads/")), &bob),
        )
        .await;
    cases
        .record(
            "NAME_UNKNOWN: a new repository in someone else's namespace",
            "POST /v2/alice/new/blobs/uploads/ (bobby)",
            with_auth(anon.post(app.url("/v2/alice/new/blobs/uploads/")), &bob),
        )
        .await;

    // Names, digests and references.
    cases
        .record(
            "NAME_INVALID: a repository name out of the grammar",
            "POST /v2/Upper/blobs/uploads/",
            app.request(Method::POST, "/v2/Upper/blobs/uploads/"),
        )
        .await;
    let missing = format!("sha256:{}", "0".repeat(64));
    cases
        .record(
            "BLOB_UNKNOWN: a blob the repository does not have",
            "GET /v2/alice/app/blobs/sha256:000…",
            app.request(Method::GET, &format!("/v2/alice/app/blobs/{missing}")),
        )
        .await;
    cases
        .record(
            "DIGEST_INVALID: a digest that does not parse",
            "GET /v2/alice/app/blobs/sha256:xyz",
            app.request(Method::GET, "/v2/alice/app/blobs/sha256:xyz"),
        )
        .await;
    cases
        .record(
            "DIGEST_INVALID: a blob that does not hash to its digest",
            "POST /v2/alice/app/blobs/uploads/?digest=sha256:<another blob's>",
            app.request(
                Method::POST,
                &format!(
                    "/v2/alice/app/blobs/uploads/?digest={}",
                    sha256(b"something else")
                ),
            )
            .body(&b"these bytes"[..]),
        )
        .await;
    cases
        .record(
            "MANIFEST_UNKNOWN: a tag that does not exist",
            "GET /v2/alice/app/manifests/nope",
            app.request(Method::GET, "/v2/alice/app/manifests/nope"),
        )
        .await;
    cases
        .record(
            "MANIFEST_INVALID: a manifest that is not JSON",
            "PUT /v2/alice/app/manifests/v1 (not JSON)",
            app.request(Method::PUT, "/v2/alice/app/manifests/v1")
                .header("Content-Type", OCI_MANIFEST)
                .body("not json"),
        )
        .await;
    let dangling = image_manifest((&missing, 2), &[(&missing, 5)], "");
    cases
        .record(
            "MANIFEST_BLOB_UNKNOWN: a manifest whose blobs were never pushed",
            "PUT /v2/alice/app/manifests/v1 (config and layer missing)",
            app.request(Method::PUT, "/v2/alice/app/manifests/v1")
                .header("Content-Type", OCI_MANIFEST)
                .body(dangling),
        )
        .await;
    let padding = format!(r#","annotations":{{"pad":"{}"}}"#, "x".repeat(2000));
    let oversized = image_manifest((&sha256(layer), layer.len()), &[], &padding);
    cases
        .record(
            "SIZE_INVALID: a manifest over the size limit",
            "PUT /v2/alice/app/manifests/v1 (over 1024 bytes)",
            app.request(Method::PUT, "/v2/alice/app/manifests/v1")
                .header("Content-Type", OCI_MANIFEST)
                .body(oversized),
        )
        .await;

    // Uploads.
    let session = app.start_upload("alice/app").await;
    cases
        .record(
            "BLOB_UPLOAD_INVALID: a Content-Range that lies about the length",
            "PATCH /v2/alice/app/blobs/uploads/{session} (Content-Range: 0-99, 5 bytes)",
            app.request(Method::PATCH, &session)
                .header("Content-Range", "0-99")
                .header("Content-Type", "application/octet-stream")
                .body("abcde"),
        )
        .await;
    cases
        .record(
            "BLOB_UPLOAD_INVALID: a Content-Range that does not parse",
            "PATCH /v2/alice/app/blobs/uploads/{session} (Content-Range: bytes=lots)",
            app.request(Method::PATCH, &session)
                .header("Content-Range", "bytes=lots")
                .header("Content-Type", "application/octet-stream")
                .body("abcde"),
        )
        .await;
    cases
        .record(
            "BLOB_UPLOAD_UNKNOWN: an upload session that does not exist",
            "GET /v2/alice/app/blobs/uploads/not-a-uuid",
            app.request(Method::GET, "/v2/alice/app/blobs/uploads/not-a-uuid"),
        )
        .await;

    // Routes and methods.
    cases
        .record(
            "UNSUPPORTED: a method the route does not take",
            "POST /v2/alice/app/tags/list",
            app.request(Method::POST, "/v2/alice/app/tags/list"),
        )
        .await;
    cases
        .record(
            "a path the registry does not have",
            "GET /v2/alice/app/nothing-here",
            app.request(Method::GET, "/v2/alice/app/nothing-here"),
        )
        .await;

    // Throttling, in an app that gives up after three failures.
    let throttled = TestApp::start_with(|c| c.auth.throttle_failures = 3).await;
    let password = sign_up(&throttled, "alice").await;
    let mut other = Cases::new(&throttled);
    for _ in 0..3 {
        let r = throttled
            .anonymous
            .get(throttled.url("/v2/"))
            .header("Authorization", basic("alice", "wrong password"))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    other
        .record(
            "TOOMANYREQUESTS: the right password after three wrong ones",
            "GET /v2/ (alice, after three wrong passwords)",
            with_auth(
                throttled.anonymous.get(throttled.url("/v2/")),
                &basic("alice", &password),
            ),
        )
        .await;
    cases.recorded.append(&mut other.recorded);

    assert_cases("registry_errors", cases);
}

#[tokio::test]
async fn api_error_bodies() {
    let app = TestApp::start_with(|c| c.auth.throttle_failures = 10_000).await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/user/tokens",
        Some(&bob),
        Some(json!({"name": "ci", "scope": "read"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    let read_token = basic("bobby", v["token"].as_str().expect("token"));
    let mut cases = Cases::new(&app);
    let anon = &app.anonymous;
    let api = |method: Method, path: &str, auth: &str| {
        let req = anon.request(method, app.url(path));
        if auth.is_empty() {
            req
        } else {
            req.header("Authorization", auth)
        }
    };

    // 400: input that does not parse or is not allowed.
    cases
        .record(
            "invalid: a name out of the grammar",
            "POST /api/v1/orgs {\"name\": \"Acme!\"} (alice)",
            api(Method::POST, "/api/v1/orgs", &alice).json(&json!({"name": "Acme!"})),
        )
        .await;
    cases
        .record(
            "invalid: a field the operation does not take",
            "POST /api/v1/orgs {\"name\": \"acme2\", \"owner\": \"bobby\"} (alice)",
            api(Method::POST, "/api/v1/orgs", &alice)
                .json(&json!({"name": "acme2", "owner": "bobby"})),
        )
        .await;
    cases
        .record(
            "invalid: a body that is not JSON",
            "POST /api/v1/orgs (alice, not JSON)",
            api(Method::POST, "/api/v1/orgs", &alice)
                .header("Content-Type", "application/json")
                .body("{not json"),
        )
        .await;
    cases
        .record(
            "invalid: a query parameter that does not parse",
            "DELETE /api/v1/orgs/acme?confirm=maybe (alice)",
            api(Method::DELETE, "/api/v1/orgs/acme?confirm=maybe", &alice),
        )
        .await;

    // 401: nobody, or not who they say.
    cases
        .record(
            "unauthorized: no credentials",
            "GET /api/v1/user (anonymous)",
            api(Method::GET, "/api/v1/user", ""),
        )
        .await;
    cases
        .record(
            "unauthorized: a wrong password",
            "GET /api/v1/user (alice, a wrong password)",
            api(
                Method::GET,
                "/api/v1/user",
                &basic("alice", "wrong password"),
            ),
        )
        .await;

    // 403: known, but not allowed.
    cases
        .record(
            "insufficient_scope: a read token that administers",
            "POST /api/v1/orgs {\"name\": \"bobco\"} (bobby's read token)",
            api(Method::POST, "/api/v1/orgs", &read_token).json(&json!({"name": "bobco"})),
        )
        .await;
    cases
        .record(
            "forbidden: an outsider deletes an organization",
            "DELETE /api/v1/orgs/acme (bobby)",
            api(Method::DELETE, "/api/v1/orgs/acme", &bob),
        )
        .await;

    // 404 and 409.
    cases
        .record(
            "not_found: an organization that does not exist",
            "GET /api/v1/orgs/nothing (alice)",
            api(Method::GET, "/api/v1/orgs/nothing", &alice),
        )
        .await;
    cases
        .record(
            "not_found: an id that is no number",
            "POST /api/v1/user/invitations/first/accept (bobby)",
            api(Method::POST, "/api/v1/user/invitations/first/accept", &bob),
        )
        .await;
    cases
        .record(
            "conflict: a name that is taken",
            "POST /api/v1/orgs {\"name\": \"acme\"} (bobby)",
            api(Method::POST, "/api/v1/orgs", &bob).json(&json!({"name": "acme"})),
        )
        .await;

    // The token service speaks the same JSON.
    cases
        .record(
            "token service: a wrong password",
            "GET /auth/token?scope=repository:alice/app:pull (alice, a wrong password)",
            api(
                Method::GET,
                "/auth/token?scope=repository:alice/app:pull",
                &basic("alice", "wrong password"),
            ),
        )
        .await;
    cases
        .record(
            "token service: another service",
            "GET /auth/token?service=elsewhere&scope=repository:alice/app:pull",
            api(
                Method::GET,
                "/auth/token?service=elsewhere&scope=repository:alice/app:pull",
                "",
            ),
        )
        .await;

    // 429, in an app that gives up after three failures.
    let throttled = TestApp::start_with(|c| c.auth.throttle_failures = 3).await;
    let password = sign_up(&throttled, "alice").await;
    let mut other = Cases::new(&throttled);
    let sign_in = |password: &str| {
        throttled
            .anonymous
            .post(throttled.url("/api/v1/session"))
            .json(&json!({"username": "alice", "password": password}))
    };
    for _ in 0..3 {
        let r = sign_in("wrong password").send().await.expect("sign in");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    other
        .record(
            "too_many_requests: the right password after three wrong ones",
            "POST /api/v1/session (alice, after three wrong passwords)",
            sign_in(&password),
        )
        .await;
    cases.recorded.append(&mut other.recorded);

    assert_cases("api_errors", cases);
}
