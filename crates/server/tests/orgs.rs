//! Organizations, teams and robot accounts: the JSON API that manages them, and what they let
//! their members and robots do on the registry.

mod common;

use common::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// An API call with `auth` (an `Authorization` value; empty for none) and an optional JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app.anonymous.request(method, app.url(path));
    if !auth.is_empty() {
        req = req.header("Authorization", auth);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("API call")
}

/// Asserts the status of an API call and, for errors, that the body is the API's JSON error.
async fn expect(r: Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: {body}");
    if !status.is_success() {
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
    }
    body
}

async fn pull_blob_as(app: &TestApp, auth: &str, repo: &str, bytes: &[u8]) -> Response {
    let mut req = app
        .anonymous
        .get(app.url(&format!("/v2/{repo}/blobs/{}", sha256(bytes))));
    if !auth.is_empty() {
        req = req.header("Authorization", auth);
    }
    req.send().await.expect("pull")
}

/// The claims of a token from the token service for `scope`, asked with Basic `auth`.
async fn token_claims(app: &TestApp, auth: &str, scope: &str) -> (String, Value) {
    let r = app
        .anonymous
        .get(app.url(&format!("/auth/token?service={}&scope={scope}", app.host())))
        .header("Authorization", auth)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK, "token for {scope}");
    let v: Value = r.json().await.expect("json");
    let token = v["token"].as_str().expect("token").to_owned();
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

async fn create_org(app: &TestApp, auth: &str, name: &str) {
    let r = call(
        app,
        Method::POST,
        "/api/v1/orgs",
        auth,
        Some(json!({"name": name})),
    )
    .await;
    expect(r, StatusCode::CREATED, "create org").await;
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    berth_accounts::audit::recent(&app.state.accounts.db, 1000)
        .await
        .expect("audit log")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn creating_reading_and_deleting_an_organization() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;

    // Creating: needs a user, a valid name, and a name no account has.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        "",
        Some(json!({"name": "acme"})),
    )
    .await;
    expect(r, StatusCode::UNAUTHORIZED, "anonymous create").await;
    for bad in [
        json!({"name": "Acme!"}),
        json!({"name": "ac"}),
        json!({"name": "admin"}),
    ] {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/orgs",
            &alice,
            Some(bad.clone()),
        )
        .await;
        expect(r, StatusCode::BAD_REQUEST, &format!("bad name {bad}")).await;
    }
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        &alice,
        Some(json!({"name": "acme", "owner": "bobby"})),
    )
    .await;
    expect(r, StatusCode::BAD_REQUEST, "unknown field").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        &alice,
        Some(json!({"name": "acme"})),
    )
    .await;
    let org = expect(r, StatusCode::CREATED, "create").await;
    assert_eq!(org["name"], "acme");
    // Users and organizations share one namespace.
    for taken in ["acme", "bobby"] {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/orgs",
            &bob,
            Some(json!({"name": taken})),
        )
        .await;
        expect(r, StatusCode::CONFLICT, taken).await;
    }
    let r = app
        .anonymous
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "acme", "email": "acme@example.com", "password": "a long password"}))
        .send()
        .await
        .expect("sign up");
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Reading: everyone learns it exists; members see who belongs and the teams.
    for (auth, who) in [("", "anonymous"), (bob.as_str(), "outsider")] {
        let r = call(&app, Method::GET, "/api/v1/orgs/acme", auth, None).await;
        let v = expect(r, StatusCode::OK, who).await;
        assert_eq!(v, json!({"name": "acme"}), "{who}");
    }
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &alice, None).await;
    let v = expect(r, StatusCode::OK, "owner").await;
    assert_eq!(v["members"], json!([{"name": "alice", "role": "owner"}]));
    assert_eq!(v["teams"], json!([]));
    let r = call(&app, Method::GET, "/api/v1/orgs/nothing", &alice, None).await;
    expect(r, StatusCode::NOT_FOUND, "unknown org").await;
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme",
        &basic("alice", "wrong"),
        None,
    )
    .await;
    expect(r, StatusCode::UNAUTHORIZED, "bad credentials").await;

    // Deleting: owners only, and not over repositories without confirm.
    let r = push_blob_as(&app, &alice, "acme/app", b"a layer").await;
    assert_eq!(r.status(), StatusCode::CREATED, "the owner pushes");
    let r = call(&app, Method::DELETE, "/api/v1/orgs/acme", "", None).await;
    expect(r, StatusCode::UNAUTHORIZED, "anonymous delete").await;
    let r = call(&app, Method::DELETE, "/api/v1/orgs/acme", &bob, None).await;
    expect(r, StatusCode::FORBIDDEN, "outsider delete").await;
    let r = call(&app, Method::DELETE, "/api/v1/orgs/nothing", &alice, None).await;
    expect(r, StatusCode::NOT_FOUND, "unknown org delete").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme?confirm=maybe",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::BAD_REQUEST, "bad confirm").await;
    let r = call(&app, Method::DELETE, "/api/v1/orgs/acme", &alice, None).await;
    expect(r, StatusCode::CONFLICT, "repositories left").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme?confirm=true",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "confirmed delete").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &alice, None).await;
    expect(r, StatusCode::NOT_FOUND, "deleted").await;
    assert!(
        berth_accounts::repos::get(&app.state.accounts.db, "acme/app")
            .await
            .expect("settings")
            .is_none()
    );

    // The name is free again; the old owner has no standing in the new organization.
    create_org(&app, &bob, "acme").await;
    let r = push_blob_as(&app, &alice, "acme/app", b"a layer").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "org.create"));
    assert!(actions.iter().any(|a| a == "org.delete"));
}

#[tokio::test]
async fn members_and_the_last_owner() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let carol = sign_up_basic(&app, "carol").await;
    create_org(&app, &alice, "acme").await;
    let put = |who: &'static str, role: &'static str, auth: String| {
        let app = &app;
        async move {
            call(
                app,
                Method::PUT,
                &format!("/api/v1/orgs/acme/members/{who}"),
                &auth,
                Some(json!({"role": role})),
            )
            .await
        }
    };

    // The last owner can neither leave, nor be demoted.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/alice",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::CONFLICT, "last owner leaves").await;
    expect(
        put("alice", "member", alice.clone()).await,
        StatusCode::CONFLICT,
        "demote",
    )
    .await;

    // Owners add members and change roles; nobody else may.
    expect(
        put("bobby", "member", String::new()).await,
        StatusCode::UNAUTHORIZED,
        "anon",
    )
    .await;
    expect(
        put("bobby", "member", carol.clone()).await,
        StatusCode::FORBIDDEN,
        "outsider",
    )
    .await;
    expect(
        put("bobby", "boss", alice.clone()).await,
        StatusCode::BAD_REQUEST,
        "bad role",
    )
    .await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/members/bobby",
        &alice,
        Some(json!({"role": "member", "admin": true})),
    )
    .await;
    expect(r, StatusCode::BAD_REQUEST, "unknown field").await;
    expect(
        put("nobody", "member", alice.clone()).await,
        StatusCode::NOT_FOUND,
        "no user",
    )
    .await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/nothing/members/bobby",
        &alice,
        Some(json!({"role": "member"})),
    )
    .await;
    expect(r, StatusCode::NOT_FOUND, "no org").await;
    // Adding someone who does not belong invites them; they belong once they accept.
    let invitation = expect(
        put("bobby", "member", alice.clone()).await,
        StatusCode::ACCEPTED,
        "invite",
    )
    .await;
    assert_eq!(invitation["user"], "bobby");
    assert_eq!(invitation["role"], "member");
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/user/invitations/{}/accept", invitation["id"]),
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "bob accepts").await;
    // A member is no owner: cannot add others or promote themself.
    expect(
        put("carol", "member", bob.clone()).await,
        StatusCode::FORBIDDEN,
        "member adds",
    )
    .await;
    expect(
        put("bobby", "owner", bob.clone()).await,
        StatusCode::FORBIDDEN,
        "self-promote",
    )
    .await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/alice",
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::FORBIDDEN, "member removes an owner").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &bob, None).await;
    let v = expect(r, StatusCode::OK, "member reads").await;
    assert_eq!(
        v["members"],
        json!([{"name": "alice", "role": "owner"}, {"name": "bobby", "role": "member"}])
    );

    // With a second owner, the first may step down or leave.
    expect(
        put("bobby", "owner", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "promote",
    )
    .await;
    expect(
        put("alice", "member", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "step down",
    )
    .await;
    expect(
        put("bobby", "member", bob.clone()).await,
        StatusCode::CONFLICT,
        "now bob is last",
    )
    .await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/bobby",
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::CONFLICT, "the last owner leaves").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/alice",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "a member leaves").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/alice",
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::NOT_FOUND, "not a member any more").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/carol",
        "",
        None,
    )
    .await;
    expect(r, StatusCode::UNAUTHORIZED, "anonymous remove").await;

    // A read-only access token cannot manage the organization.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/user/tokens",
        &bob,
        Some(json!({"name": "ci", "scope": "read"})),
    )
    .await;
    let t = expect(r, StatusCode::CREATED, "token").await;
    let read_only = basic("bobby", t["token"].as_str().expect("token"));
    expect(
        put("carol", "member", read_only).await,
        StatusCode::FORBIDDEN,
        "read token",
    )
    .await;

    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "org.member.set"));
    assert!(actions.iter().any(|a| a == "org.member.remove"));
}

#[tokio::test]
async fn teams_are_managed_by_owners() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let carol = sign_up_basic(&app, "carol").await;
    create_org(&app, &alice, "acme").await;

    let new_team = |auth: String, body: Value| {
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                "/api/v1/orgs/acme/teams",
                &auth,
                Some(body),
            )
            .await
        }
    };
    expect(
        new_team(String::new(), json!({"name": "devs"})).await,
        StatusCode::UNAUTHORIZED,
        "anon",
    )
    .await;
    expect(
        new_team(bob.clone(), json!({"name": "devs"})).await,
        StatusCode::FORBIDDEN,
        "outsider",
    )
    .await;
    expect(
        new_team(alice.clone(), json!({"name": "Dev Team"})).await,
        StatusCode::BAD_REQUEST,
        "bad name",
    )
    .await;
    expect(
        new_team(alice.clone(), json!({"title": "devs"})).await,
        StatusCode::BAD_REQUEST,
        "bad body",
    )
    .await;
    let v = expect(
        new_team(alice.clone(), json!({"name": "devs"})).await,
        StatusCode::CREATED,
        "create",
    )
    .await;
    assert_eq!(
        v,
        json!({"name": "devs", "members": [], "repositories": []})
    );
    expect(
        new_team(alice.clone(), json!({"name": "devs"})).await,
        StatusCode::CONFLICT,
        "again",
    )
    .await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/nothing/teams",
        &alice,
        Some(json!({"name": "devs"})),
    )
    .await;
    expect(r, StatusCode::NOT_FOUND, "no org").await;

    // Team members: adding someone who does not belong to the organization invites them to the
    // team; accepting makes them a member of both.
    let member = |method: Method, team: &'static str, who: &'static str, auth: String| {
        let app = &app;
        async move {
            call(
                app,
                method,
                &format!("/api/v1/orgs/acme/teams/{team}/members/{who}"),
                &auth,
                None,
            )
            .await
        }
    };
    expect(
        member(Method::PUT, "devs", "bobby", String::new()).await,
        StatusCode::UNAUTHORIZED,
        "anon",
    )
    .await;
    expect(
        member(Method::PUT, "devs", "bobby", carol.clone()).await,
        StatusCode::FORBIDDEN,
        "outsider",
    )
    .await;
    expect(
        member(Method::PUT, "nope", "bobby", alice.clone()).await,
        StatusCode::NOT_FOUND,
        "no team",
    )
    .await;
    expect(
        member(Method::PUT, "devs", "nobody", alice.clone()).await,
        StatusCode::NOT_FOUND,
        "no user",
    )
    .await;
    let invitation = expect(
        member(Method::PUT, "devs", "bobby", alice.clone()).await,
        StatusCode::ACCEPTED,
        "invite",
    )
    .await;
    assert_eq!(invitation["team"], "devs");
    let again = expect(
        member(Method::PUT, "devs", "bobby", alice.clone()).await,
        StatusCode::ACCEPTED,
        "again",
    )
    .await;
    assert_eq!(
        again, invitation,
        "asking again answers the same invitation"
    );
    let accept = |id: &Value, auth: &str| {
        let path = format!("/api/v1/user/invitations/{id}/accept");
        let auth = auth.to_owned();
        let app = &app;
        async move { call(app, Method::POST, &path, &auth, None).await }
    };
    expect(
        accept(&invitation["id"], &bob).await,
        StatusCode::NO_CONTENT,
        "bob accepts",
    )
    .await;
    expect(
        member(Method::PUT, "devs", "bobby", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "a member again",
    )
    .await;
    expect(
        member(Method::PUT, "devs", "carol", bob.clone()).await,
        StatusCode::FORBIDDEN,
        "member adds",
    )
    .await;
    let invitation = expect(
        member(Method::PUT, "devs", "carol", alice.clone()).await,
        StatusCode::ACCEPTED,
        "invite carol",
    )
    .await;
    expect(
        accept(&invitation["id"], &carol).await,
        StatusCode::NO_CONTENT,
        "carol accepts",
    )
    .await;
    expect(
        member(Method::DELETE, "devs", "carol", bob.clone()).await,
        StatusCode::FORBIDDEN,
        "member removes",
    )
    .await;
    expect(
        member(Method::DELETE, "devs", "carol", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "remove",
    )
    .await;
    expect(
        member(Method::DELETE, "devs", "carol", alice.clone()).await,
        StatusCode::NOT_FOUND,
        "twice",
    )
    .await;
    // A member of the organization is put in a team at once.
    expect(
        member(Method::PUT, "devs", "carol", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "carol back",
    )
    .await;
    expect(
        member(Method::DELETE, "devs", "carol", alice.clone()).await,
        StatusCode::NO_CONTENT,
        "carol out again",
    )
    .await;

    // Grants: only on repositories of the organization, only read, write or admin.
    let grant = |repo: &'static str, body: Option<Value>, auth: String| {
        let app = &app;
        let method = if body.is_some() {
            Method::PUT
        } else {
            Method::DELETE
        };
        async move {
            call(
                app,
                method,
                &format!("/api/v1/orgs/acme/teams/devs/repositories/{repo}"),
                &auth,
                body,
            )
            .await
        }
    };
    let write = || Some(json!({"permission": "write"}));
    expect(
        grant("app", write(), String::new()).await,
        StatusCode::UNAUTHORIZED,
        "anon",
    )
    .await;
    expect(
        grant("app", write(), bob.clone()).await,
        StatusCode::FORBIDDEN,
        "member",
    )
    .await;
    expect(
        grant("app", Some(json!({"permission": "owner"})), alice.clone()).await,
        StatusCode::BAD_REQUEST,
        "bad permission",
    )
    .await;
    expect(
        grant("App", write(), alice.clone()).await,
        StatusCode::BAD_REQUEST,
        "bad repository",
    )
    .await;
    expect(
        grant("-app", write(), alice.clone()).await,
        StatusCode::BAD_REQUEST,
        "bad start",
    )
    .await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/teams/nope/repositories/app",
        &alice,
        write(),
    )
    .await;
    expect(r, StatusCode::NOT_FOUND, "no team").await;
    expect(
        grant("app", write(), alice.clone()).await,
        StatusCode::NO_CONTENT,
        "grant",
    )
    .await;
    expect(
        grant(
            "tools/cli",
            Some(json!({"permission": "read"})),
            alice.clone(),
        )
        .await,
        StatusCode::NO_CONTENT,
        "nested",
    )
    .await;
    expect(
        grant("tools/cli", None, bob.clone()).await,
        StatusCode::FORBIDDEN,
        "member revokes",
    )
    .await;
    expect(
        grant("tools/cli", None, alice.clone()).await,
        StatusCode::NO_CONTENT,
        "revoke",
    )
    .await;
    expect(
        grant("tools/cli", None, alice.clone()).await,
        StatusCode::NOT_FOUND,
        "twice",
    )
    .await;

    // Members read the teams; outsiders cannot.
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", &bob, None).await;
    let v = expect(r, StatusCode::OK, "member lists").await;
    assert_eq!(
        v,
        json!([{"name": "devs", "members": ["bobby"],
                "repositories": [{"repository": "acme/app", "permission": "write"}]}])
    );
    // Carol stays a member of the organization after leaving the team; David never joined.
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", &carol, None).await;
    expect(r, StatusCode::OK, "member in no team lists").await;
    let david = sign_up_basic(&app, "david").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", &david, None).await;
    expect(r, StatusCode::FORBIDDEN, "outsider lists").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", "", None).await;
    expect(r, StatusCode::UNAUTHORIZED, "anonymous lists").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/nothing/teams", &bob, None).await;
    expect(r, StatusCode::NOT_FOUND, "no org").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &bob, None).await;
    let v = expect(r, StatusCode::OK, "member reads the org").await;
    assert_eq!(v["teams"][0]["name"], "devs");

    let actions = audit_actions(&app).await;
    for a in [
        "team.create",
        "team.member.add",
        "team.member.remove",
        "team.permission.set",
        "team.permission.remove",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in the audit log");
    }
}

/// Adding someone to a team used to make them a member of the organization on the spot. It
/// invites them now: nothing until they accept, nothing if they decline, and owners see and
/// cancel what is pending. The audit log tells the story.
#[tokio::test]
async fn joining_a_team_takes_the_invitees_consent() {
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let carol = sign_up_basic(&app, "carol").await;
    create_org(&app, &alice, "acme").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/teams",
        &alice,
        Some(json!({"name": "devs"})),
    )
    .await;
    expect(r, StatusCode::CREATED, "team").await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/teams/devs/repositories/app",
        &alice,
        Some(json!({"permission": "write"})),
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "grant").await;
    let r = push_blob_as(&app, &alice, "acme/app", b"private layer").await;
    assert_eq!(r.status(), StatusCode::CREATED, "the private repository");
    let add_bob = || {
        call(
            &app,
            Method::PUT,
            "/api/v1/orgs/acme/teams/devs/members/bobby",
            &alice,
            None,
        )
    };
    let answer = |id: &Value, answer: &'static str, auth: &str| {
        let path = format!("/api/v1/user/invitations/{id}/{answer}");
        let auth = auth.to_owned();
        let app = &app;
        async move { call(app, Method::POST, &path, &auth, None).await }
    };
    let pending_of = |auth: &str| {
        let auth = auth.to_owned();
        let app = &app;
        async move {
            let r = call(app, Method::GET, "/api/v1/user/invitations", &auth, None).await;
            expect(r, StatusCode::OK, "my invitations").await
        }
    };
    // Nothing on the team's private repository, and not even the organization's members.
    let shut_out = |why: &'static str| {
        let app = &app;
        let bob = bob.clone();
        async move {
            let r = pull_blob_as(app, &bob, "acme/app", b"private layer").await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{why}: pull");
            let (_, claims) = token_claims(app, &bob, "repository:acme/app:pull,push").await;
            assert_eq!(claims["access"][0]["actions"], json!([]), "{why}: token");
            let r = call(app, Method::GET, "/api/v1/orgs/acme", &bob, None).await;
            let v = expect(r, StatusCode::OK, why).await;
            assert_eq!(v, json!({"name": "acme"}), "{why}: an outsider's view");
            let r = call(app, Method::GET, "/api/v1/orgs/acme/teams", &bob, None).await;
            expect(r, StatusCode::FORBIDDEN, why).await;
        }
    };

    // Alice adds bob to devs: that invites him, and gives him nothing yet.
    let invitation = expect(add_bob().await, StatusCode::ACCEPTED, "invite bob").await;
    assert_eq!(invitation["org"], "acme");
    assert_eq!(invitation["team"], "devs");
    assert_eq!(invitation["user"], "bobby");
    assert_eq!(invitation["role"], "member");
    assert_eq!(invitation["invited_by"], "alice");
    let lifetime = invitation["expires_at"].as_i64().expect("expires_at")
        - invitation["created_at"].as_i64().expect("created_at");
    assert_eq!(lifetime, 7 * 86_400, "an invitation waits a week");
    shut_out("invited").await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &alice, None).await;
    let v = expect(r, StatusCode::OK, "owner reads").await;
    assert_eq!(v["members"], json!([{"name": "alice", "role": "owner"}]));
    assert_eq!(v["teams"][0]["members"], json!([]));

    // Bob sees it; nobody else may answer it.
    assert_eq!(pending_of(&bob).await, json!([invitation.clone()]));
    assert_eq!(pending_of(&carol).await, json!([]));
    let r = call(&app, Method::GET, "/api/v1/user/invitations", "", None).await;
    expect(r, StatusCode::UNAUTHORIZED, "anonymous").await;
    for what in ["accept", "decline"] {
        expect(
            answer(&invitation["id"], what, &carol).await,
            StatusCode::NOT_FOUND,
            "someone else's",
        )
        .await;
        expect(
            answer(&invitation["id"], what, "").await,
            StatusCode::UNAUTHORIZED,
            "anonymous",
        )
        .await;
    }
    expect(
        answer(&json!(987654), "accept", &bob).await,
        StatusCode::NOT_FOUND,
        "no such invitation",
    )
    .await;
    expect(
        answer(&json!("first"), "accept", &bob).await,
        StatusCode::NOT_FOUND,
        "not an id",
    )
    .await;

    // The owners see what is pending; a stranger does not.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/invitations",
        &alice,
        None,
    )
    .await;
    let v = expect(r, StatusCode::OK, "owner lists").await;
    assert_eq!(v, json!([invitation.clone()]));
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/invitations",
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::FORBIDDEN, "the invitee lists the org's").await;

    // Asking again answers the same invitation.
    let again = expect(add_bob().await, StatusCode::ACCEPTED, "again").await;
    assert_eq!(again, invitation);

    // Bob declines: he stays out, and the invitation is spent.
    expect(
        answer(&invitation["id"], "decline", &bob).await,
        StatusCode::NO_CONTENT,
        "decline",
    )
    .await;
    shut_out("declined").await;
    assert_eq!(pending_of(&bob).await, json!([]));
    for what in ["accept", "decline"] {
        expect(
            answer(&invitation["id"], what, &bob).await,
            StatusCode::NOT_FOUND,
            "answered already",
        )
        .await;
    }

    // Invited again, he accepts: now devs' grant is his.
    let second = expect(add_bob().await, StatusCode::ACCEPTED, "invite again").await;
    assert_ne!(second["id"], invitation["id"]);
    expect(
        answer(&second["id"], "accept", &bob).await,
        StatusCode::NO_CONTENT,
        "accept",
    )
    .await;
    let r = pull_blob_as(&app, &bob, "acme/app", b"private layer").await;
    assert_eq!(r.status(), StatusCode::OK, "a member of devs pulls");
    let r = push_blob_as(&app, &bob, "acme/app", b"bob's layer").await;
    assert_eq!(r.status(), StatusCode::CREATED, "and pushes");
    let r = call(&app, Method::GET, "/api/v1/orgs/acme", &bob, None).await;
    let v = expect(r, StatusCode::OK, "member reads").await;
    assert_eq!(
        v["members"],
        json!([{"name": "alice", "role": "owner"}, {"name": "bobby", "role": "member"}])
    );
    assert_eq!(v["teams"][0]["members"], json!(["bobby"]));
    expect(
        answer(&second["id"], "accept", &bob).await,
        StatusCode::NOT_FOUND,
        "accepted already",
    )
    .await;

    // Carol is invited to the organization; another role while that is pending is a conflict.
    let put_carol = |role: &'static str| {
        call(
            &app,
            Method::PUT,
            "/api/v1/orgs/acme/members/carol",
            &alice,
            Some(json!({"role": role})),
        )
    };
    let carols = expect(
        put_carol("member").await,
        StatusCode::ACCEPTED,
        "invite carol",
    )
    .await;
    assert_eq!(carols["team"], Value::Null);
    expect(
        put_carol("owner").await,
        StatusCode::CONFLICT,
        "another role",
    )
    .await;
    assert_eq!(
        expect(put_carol("member").await, StatusCode::ACCEPTED, "same role").await,
        carols
    );

    // An owner cancels it; a member cannot.
    let cancel = |auth: &str| {
        let path = format!("/api/v1/orgs/acme/invitations/{}", carols["id"]);
        let auth = auth.to_owned();
        let app = &app;
        async move { call(app, Method::DELETE, &path, &auth, None).await }
    };
    expect(
        cancel(&bob).await,
        StatusCode::FORBIDDEN,
        "a member cancels",
    )
    .await;
    expect(
        cancel("").await,
        StatusCode::UNAUTHORIZED,
        "anonymous cancels",
    )
    .await;
    expect(cancel(&alice).await, StatusCode::NO_CONTENT, "cancel").await;
    expect(cancel(&alice).await, StatusCode::NOT_FOUND, "twice").await;
    assert_eq!(pending_of(&carol).await, json!([]));
    expect(
        answer(&carols["id"], "accept", &carol).await,
        StatusCode::NOT_FOUND,
        "a cancelled invitation",
    )
    .await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", &carol, None).await;
    expect(r, StatusCode::FORBIDDEN, "carol never joined").await;

    // A lapsed invitation cannot be accepted, and a new one takes its place.
    let carols = expect(
        put_carol("owner").await,
        StatusCode::ACCEPTED,
        "invite again",
    )
    .await;
    sqlx::query("UPDATE org_invitations SET expires_at = $1 WHERE id = $2")
        .bind(berth_accounts::now() - 1)
        .bind(carols["id"].as_i64().expect("id"))
        .execute(&app.state.pool)
        .await
        .expect("let it lapse");
    assert_eq!(pending_of(&carol).await, json!([]));
    expect(
        answer(&carols["id"], "accept", &carol).await,
        StatusCode::NOT_FOUND,
        "lapsed",
    )
    .await;
    let fresh = expect(
        put_carol("member").await,
        StatusCode::ACCEPTED,
        "after lapse",
    )
    .await;
    assert_ne!(fresh["id"], carols["id"]);

    let log = berth_accounts::audit::recent(&app.state.accounts.db, 1000)
        .await
        .expect("audit log");
    for (action, actor, detail) in [
        ("org.invite", "alice", "team devs"),
        ("org.invite.decline", "bobby", "team devs"),
        ("org.invite.accept", "bobby", "team devs"),
        ("org.invite", "alice", "member"),
        ("org.invite.cancel", "alice", "member"),
    ] {
        assert!(
            log.iter()
                .any(|e| e.action == action && e.actor == actor && e.detail == detail),
            "{action} by {actor} ({detail}) in the audit log"
        );
    }
    // Asking again for a pending invitation is no new one.
    let bobs = log
        .iter()
        .filter(|e| e.action == "org.invite" && e.target == "acme:bobby")
        .count();
    assert_eq!(bobs, 2);
}

#[tokio::test]
async fn teams_decide_who_pushes_and_pulls_in_the_organization() {
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up_basic(&app, "alice").await;
    let writer = sign_up_basic(&app, "bobby").await;
    let reader = sign_up_basic(&app, "carol").await;
    let stranger = sign_up_basic(&app, "david").await;
    let plain = sign_up_basic(&app, "erin").await;
    create_org(&app, &alice, "acme").await;
    for (team, who, permission) in [("writers", "bobby", "write"), ("readers", "carol", "read")] {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/orgs/acme/teams",
            &alice,
            Some(json!({"name": team})),
        )
        .await;
        expect(r, StatusCode::CREATED, team).await;
        let auth = if who == "bobby" { &writer } else { &reader };
        invite_and_accept(
            &app,
            &alice,
            &format!("/api/v1/orgs/acme/teams/{team}/members/{who}"),
            None,
            auth,
        )
        .await;
        // Granted before the repository exists.
        let r = call(
            &app,
            Method::PUT,
            &format!("/api/v1/orgs/acme/teams/{team}/repositories/app"),
            &alice,
            Some(json!({"permission": permission})),
        )
        .await;
        expect(r, StatusCode::NO_CONTENT, permission).await;
    }
    // A member in no team.
    invite_and_accept(
        &app,
        &alice,
        "/api/v1/orgs/acme/members/erin",
        Some(json!({"role": "member"})),
        &plain,
    )
    .await;

    // The writer creates the (private) repository; the reader may not push to it.
    let r = push_blob_as(&app, &writer, "acme/app", b"app layer").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "team write pushes a new repository"
    );
    let r = push_blob_as(&app, &reader, "acme/app", b"reader's layer").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "DENIED");
    // Without a grant for it, nobody but an owner creates repositories in the organization.
    let r = push_blob_as(&app, &writer, "acme/other", b"x").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = push_blob_as(&app, &alice, "acme/other", b"owner's layer").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "owners push anywhere in the org"
    );

    // Pulls of the private repository: the teams' members and owners; nobody else sees it.
    for auth in [&alice, &writer, &reader] {
        let r = pull_blob_as(&app, auth, "acme/app", b"app layer").await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    for auth in [&stranger, &plain] {
        let r = pull_blob_as(&app, auth, "acme/app", b"app layer").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    }
    let r = pull_blob_as(&app, "", "acme/app", b"app layer").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The writer has no grant on acme/other: invisible to them too.
    let r = pull_blob_as(&app, &writer, "acme/other", b"owner's layer").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The token service grants each exactly what their teams allow.
    let scope = "repository:acme/app:pull,push,delete";
    let (_, claims) = token_claims(&app, &writer, scope).await;
    assert_eq!(claims["sub"], "bobby");
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "acme/app", "actions": ["pull", "push"]}])
    );
    let (_, claims) = token_claims(&app, &reader, scope).await;
    assert_eq!(claims["access"][0]["actions"], json!(["pull"]));
    let (_, claims) = token_claims(&app, &stranger, scope).await;
    assert_eq!(claims["access"][0]["actions"], json!([]));
    let (_, claims) = token_claims(&app, &alice, "repository:acme/app:*").await;
    assert_eq!(
        claims["access"][0]["actions"],
        json!(["pull", "push", "delete"])
    );
    // And that token works on the registry.
    let (t, _) = token_claims(&app, &writer, "repository:acme/app:pull,push").await;
    let r = push_blob_as(&app, &format!("Bearer {t}"), "acme/app", b"via token").await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // The catalog shows each what they may see.
    let catalog = |auth: String| {
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
    assert_eq!(catalog(reader.clone()).await, json!(["acme/app"]));
    assert_eq!(catalog(stranger.clone()).await, json!([]));
    assert_eq!(
        catalog(alice.clone()).await,
        json!(["acme/app", "acme/other"])
    );

    // Leaving the organization takes the team grants with it.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/members/bobby",
        &writer,
        None,
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "writer leaves").await;
    let r = push_blob_as(&app, &writer, "acme/app", b"after leaving").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn robots_push_only_where_they_were_allowed() {
    let app = TestApp::start_with(|c| c.auth.default_private = true).await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    create_org(&app, &alice, "acme").await;
    create_org(&app, &bob, "bobco").await;
    invite_and_accept(
        &app,
        &alice,
        "/api/v1/orgs/acme/members/bobby",
        Some(json!({"role": "member"})),
        &bob,
    )
    .await;
    let r = push_blob_as(&app, &alice, "acme/docs", b"docs layer").await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let robot = |org: &'static str, auth: String, body: Value| {
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                &format!("/api/v1/orgs/{org}/robots"),
                &auth,
                Some(body),
            )
            .await
        }
    };
    let body = json!({"name": "ci", "permissions": [
        {"repository": "app", "permission": "write"},
        {"repository": "docs", "permission": "read"},
    ]});
    // Only an owner of that very organization (Harbor CVE-2019-16919).
    expect(
        robot("acme", String::new(), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "anon",
    )
    .await;
    expect(
        robot("acme", bob.clone(), body.clone()).await,
        StatusCode::FORBIDDEN,
        "a member",
    )
    .await;
    expect(
        robot("nothing", alice.clone(), body.clone()).await,
        StatusCode::NOT_FOUND,
        "no org",
    )
    .await;
    let bad = json!({"name": "ci", "permissions": [{"repository": "app", "permission": "owner"}]});
    expect(
        robot("acme", alice.clone(), bad).await,
        StatusCode::BAD_REQUEST,
        "bad permission",
    )
    .await;
    let bad = json!({"name": "ci", "permissions": [{"repository": "../bobco/app", "permission": "read"}]});
    expect(
        robot("acme", alice.clone(), bad).await,
        StatusCode::BAD_REQUEST,
        "bad repository",
    )
    .await;
    let bad = json!({"name": "CI!", "permissions": []});
    expect(
        robot("acme", alice.clone(), bad).await,
        StatusCode::BAD_REQUEST,
        "bad name",
    )
    .await;
    let bad = json!({"name": "ci", "permissions": [], "admin": true});
    expect(
        robot("acme", alice.clone(), bad).await,
        StatusCode::BAD_REQUEST,
        "unknown field",
    )
    .await;
    let created = expect(
        robot("acme", alice.clone(), body.clone()).await,
        StatusCode::CREATED,
        "create",
    )
    .await;
    assert_eq!(created["name"], "acme+ci");
    assert!(created["id"].is_i64());
    assert_eq!(
        created["permissions"],
        json!([{"repository": "acme/app", "permission": "write"},
               {"repository": "acme/docs", "permission": "read"}])
    );
    let secret = created["token"].as_str().expect("token").to_owned();
    assert!(secret.starts_with("berth_robot_"));
    expect(
        robot("acme", alice.clone(), body.clone()).await,
        StatusCode::CONFLICT,
        "twice",
    )
    .await;
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/robots", &alice, None).await;
    let list = expect(r, StatusCode::OK, "list").await;
    assert_eq!(list[0]["name"], "acme+ci");
    assert!(list[0].get("token").is_none(), "the secret is shown once");
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/robots", &bob, None).await;
    expect(r, StatusCode::FORBIDDEN, "member lists robots").await;

    // `docker login -u acme+ci`: pushes where it may write, and nowhere else.
    let ci = basic("acme+ci", &secret);
    let r = push_blob_as(&app, &ci, "acme/app", b"built by ci").await;
    assert_eq!(r.status(), StatusCode::CREATED, "robot pushes with write");
    let r = pull_blob_as(&app, &ci, "acme/docs", b"docs layer").await;
    assert_eq!(r.status(), StatusCode::OK, "robot pulls with read");
    let r = push_blob_as(&app, &ci, "acme/docs", b"x").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "read is not write");
    assert_eq!(error_code(r).await, "DENIED");
    for repo in ["acme/other", "bobco/app", "alice/app", "toplevel"] {
        let r = push_blob_as(&app, &ci, repo, b"x").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{repo}");
        assert_eq!(error_code(r).await, "NAME_UNKNOWN", "{repo}");
    }
    // Never the organization's admin: no delete on its own repository, no API.
    let (_, claims) = token_claims(&app, &ci, "repository:acme/app:*").await;
    assert_eq!(claims["sub"], "acme+ci");
    assert_eq!(claims["access"][0]["actions"], json!(["pull", "push"]));
    let (_, claims) = token_claims(&app, &ci, "repository:acme/secret:pull").await;
    assert_eq!(claims["access"][0]["actions"], json!([]));
    // The catalog, through a token as docker would ask for it, lists what the robot can see.
    let (catalog_token, claims) = token_claims(&app, &ci, "registry:catalog:*").await;
    assert_eq!(claims["access"][0]["actions"], json!(["*"]));
    let r = app
        .anonymous
        .get(app.url("/v2/_catalog"))
        .header("Authorization", format!("Bearer {catalog_token}"))
        .send()
        .await
        .expect("catalog");
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = r.json().await.expect("json");
    for name in listed["repositories"].as_array().expect("repositories") {
        let name = name.as_str().expect("name");
        assert!(
            name == "acme/app" || name == "acme/docs" || !name.starts_with("acme/"),
            "{name}"
        );
    }
    let r = call(&app, Method::GET, "/api/v1/orgs/acme/teams", &ci, None).await;
    expect(r, StatusCode::UNAUTHORIZED, "robots have no API").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/robots",
        &ci,
        Some(body.clone()),
    )
    .await;
    expect(r, StatusCode::UNAUTHORIZED, "robots make no robots").await;
    // Its token works on the registry, and is refused where it has no grant.
    let (t, _) = token_claims(&app, &ci, "repository:acme/app:pull,push").await;
    let r = push_blob_as(&app, &format!("Bearer {t}"), "acme/app", b"by token").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = push_blob_as(&app, &format!("Bearer {t}"), "acme/other", b"by token").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The secret only works under the robot's own name.
    for wrong in [
        basic("acme+other", &secret),
        basic("bobco+ci", &secret),
        basic("alice", &secret),
    ] {
        let r = push_blob_as(&app, &wrong, "acme/app", b"x").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Revoked, it works no more.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/robots/ci",
        &bob,
        None,
    )
    .await;
    expect(r, StatusCode::FORBIDDEN, "member revokes").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/robots/acme+ci",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::NO_CONTENT, "revoke").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme/robots/ci",
        &alice,
        None,
    )
    .await;
    expect(r, StatusCode::NOT_FOUND, "twice").await;
    let r = push_blob_as(&app, &ci, "acme/app", b"after revocation").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "robot.create"));
    assert!(actions.iter().any(|a| a == "robot.revoke"));
}

/// An invitation carries only the authority its sender still has: once the owner who sent it
/// is demoted, accepting it makes nobody an owner.
#[tokio::test]
async fn an_invitation_lapses_with_its_senders_authority() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let dave = sign_up_basic(&app, "dave").await;
    let carol = sign_up_basic(&app, "carol").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        &alice,
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    invite_and_accept(
        &app,
        &alice,
        "/api/v1/orgs/acme/members/dave",
        Some(json!({"role": "owner"})),
        &dave,
    )
    .await;
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/members/carol",
        &alice,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/members/alice",
        &dave,
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/user/invitations/{id}/accept"),
        &carol,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let org: Value = call(&app, Method::GET, "/api/v1/orgs/acme", &dave, None)
        .await
        .json()
        .await
        .expect("json");
    assert!(
        !org.to_string().contains("carol"),
        "carol is no member: {org}"
    );
}
