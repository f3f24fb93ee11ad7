//! Organizations, teams and robot accounts: the JSON API that manages them, and what they let
//! their members and robots do on the registry.

use crate::common;

use common::matrix::{api, check, get, pull, push, push_bytes, run, token, Actors};
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
    let actors = Actors::new()
        .with("owner", &alice)
        .with("outsider", &bob)
        .with("owner, a wrong password", &basic("alice", "wrong"));
    let create = |body: Value| api(Method::POST, "/api/v1/orgs", Some(body));
    let org = |method: Method, path: &str| api(method, path, None);
    run(
        &app,
        &actors,
        vec![
            // Creating: needs a user, a valid name, and a name no account has.
            check("anonymous", create(json!({"name": "acme"})), 401),
            check("owner", create(json!({"name": "Acme!"})), 400),
            check("owner", create(json!({"name": "ac"})), 400),
            check("owner", create(json!({"name": "admin"})), 400),
            check(
                "owner",
                create(json!({"name": "acme", "owner": "bobby"})),
                400,
            ),
            check("owner", create(json!({"name": "acme"})), 201).json("/name", json!("acme")),
            // Users and organizations share one namespace.
            check("outsider", create(json!({"name": "acme"})), 409),
            check("outsider", create(json!({"name": "bobby"})), 409),
            check(
                "anonymous",
                api(
                    Method::POST,
                    "/api/v1/users",
                    Some(json!({"username": "acme", "email": "acme@example.com",
                                "password": "a long password"})),
                ),
                409,
            ),
            // Reading: everyone learns it exists; members see who belongs and the teams.
            check("anonymous", org(Method::GET, "/api/v1/orgs/acme"), 200)
                .json("", json!({"name": "acme"})),
            check("outsider", org(Method::GET, "/api/v1/orgs/acme"), 200)
                .json("", json!({"name": "acme"})),
            check("owner", org(Method::GET, "/api/v1/orgs/acme"), 200)
                .json("/members", json!([{"name": "alice", "role": "owner"}]))
                .json("/teams", json!([])),
            check("owner", org(Method::GET, "/api/v1/orgs/nothing"), 404),
            check(
                "owner, a wrong password",
                org(Method::GET, "/api/v1/orgs/acme"),
                401,
            ),
            // Deleting: owners only, and not over repositories without confirm.
            check("owner", push_bytes("acme/app", b"a layer"), 201),
            check("anonymous", org(Method::DELETE, "/api/v1/orgs/acme"), 401),
            check("outsider", org(Method::DELETE, "/api/v1/orgs/acme"), 403),
            check("owner", org(Method::DELETE, "/api/v1/orgs/nothing"), 404),
            check(
                "owner",
                org(Method::DELETE, "/api/v1/orgs/acme?confirm=maybe"),
                400,
            ),
            check("owner", org(Method::DELETE, "/api/v1/orgs/acme"), 409),
            check(
                "owner",
                org(Method::DELETE, "/api/v1/orgs/acme?confirm=true"),
                204,
            ),
            check("owner", org(Method::GET, "/api/v1/orgs/acme"), 404),
            // The name is free again; the old owner has no standing in the new organization.
            check("outsider", create(json!({"name": "acme"})), 201),
            check("owner", push_bytes("acme/app", b"a layer"), 404),
        ],
    )
    .await;
    assert!(
        berth_accounts::repos::get(&app.state.accounts.db, "acme/app")
            .await
            .expect("settings")
            .is_none()
    );
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
    let mut actors = Actors::new()
        .with("alice", &alice)
        .with("bobby", &bob)
        .with("outsider", &carol);
    actors.add("bobby's read token", &read_only);
    let put = |who: &str, role: &str| {
        api(
            Method::PUT,
            &format!("/api/v1/orgs/acme/members/{who}"),
            Some(json!({"role": role})),
        )
    };
    let remove = |who: &str| {
        api(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/members/{who}"),
            None,
        )
    };

    run(
        &app,
        &actors,
        vec![
            // The last owner can neither leave, nor be demoted.
            check("alice", remove("alice"), 409),
            check("alice", put("alice", "member"), 409),
            // Owners add members and change roles; nobody else may.
            check("anonymous", put("bobby", "member"), 401),
            check("outsider", put("bobby", "member"), 403),
            check("alice", put("bobby", "boss"), 400),
            check(
                "alice",
                api(
                    Method::PUT,
                    "/api/v1/orgs/acme/members/bobby",
                    Some(json!({"role": "member", "admin": true})),
                ),
                400,
            ),
            check("alice", put("nobody", "member"), 404),
            check(
                "alice",
                api(
                    Method::PUT,
                    "/api/v1/orgs/nothing/members/bobby",
                    Some(json!({"role": "member"})),
                ),
                404,
            ),
        ],
    )
    .await;

    // Adding someone who does not belong invites them; they belong once they accept.
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/members/bobby",
        &alice,
        Some(json!({"role": "member"})),
    )
    .await;
    let invitation = expect(r, StatusCode::ACCEPTED, "invite").await;
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

    run(
        &app,
        &actors,
        vec![
            // A member is no owner: cannot add others or promote themself.
            check("bobby", put("carol", "member"), 403),
            check("bobby", put("bobby", "owner"), 403),
            check("bobby", remove("alice"), 403),
            check("bobby", get("/api/v1/orgs/acme"), 200).json(
                "/members",
                json!([{"name": "alice", "role": "owner"}, {"name": "bobby", "role": "member"}]),
            ),
            // With a second owner, the first may step down or leave.
            check("alice", put("bobby", "owner"), 204),
            check("alice", put("alice", "member"), 204),
            check("bobby", put("bobby", "member"), 409),
            check("bobby", remove("bobby"), 409),
            check("alice", remove("alice"), 204),
            check("bobby", remove("alice"), 404),
            check("anonymous", remove("carol"), 401),
            // A read-only access token cannot manage the organization, even its owner's.
            check("bobby's read token", put("carol", "member"), 403),
        ],
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
    let david = sign_up_basic(&app, "david").await;
    create_org(&app, &alice, "acme").await;
    let mut actors = Actors::new()
        .with("owner", &alice)
        .with("bobby", &bob)
        .with("carol", &carol);
    // David never joins.
    actors.add("outsider", &david);
    let new_team = |body: Value| api(Method::POST, "/api/v1/orgs/acme/teams", Some(body));
    let member = |method: Method, team: &str, who: &str| {
        api(
            method,
            &format!("/api/v1/orgs/acme/teams/{team}/members/{who}"),
            None,
        )
    };
    let grant = |repo: &str, permission: Option<&str>| {
        let path = format!("/api/v1/orgs/acme/teams/devs/repositories/{repo}");
        match permission {
            Some(p) => api(Method::PUT, &path, Some(json!({"permission": p}))),
            None => api(Method::DELETE, &path, None),
        }
    };

    run(
        &app,
        &actors,
        vec![
            check("anonymous", new_team(json!({"name": "devs"})), 401),
            check("bobby", new_team(json!({"name": "devs"})), 403),
            check("owner", new_team(json!({"name": "Dev Team"})), 400),
            check("owner", new_team(json!({"title": "devs"})), 400),
            check("owner", new_team(json!({"name": "devs"})), 201).json(
                "",
                json!({"name": "devs", "members": [], "repositories": []}),
            ),
            check("owner", new_team(json!({"name": "devs"})), 409),
            check(
                "owner",
                api(
                    Method::POST,
                    "/api/v1/orgs/nothing/teams",
                    Some(json!({"name": "devs"})),
                ),
                404,
            ),
            // Team members: adding someone who does not belong to the organization invites
            // them to the team; accepting makes them a member of both.
            check("anonymous", member(Method::PUT, "devs", "bobby"), 401),
            check("carol", member(Method::PUT, "devs", "bobby"), 403),
            check("owner", member(Method::PUT, "nope", "bobby"), 404),
            check("owner", member(Method::PUT, "devs", "nobody"), 404),
        ],
    )
    .await;

    let invite = |who: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let r = call(
                app,
                Method::PUT,
                &format!("/api/v1/orgs/acme/teams/devs/members/{who}"),
                &alice,
                None,
            )
            .await;
            expect(r, StatusCode::ACCEPTED, &format!("invite {who}")).await
        }
    };
    let accept = |id: &Value, auth: &str| {
        let path = format!("/api/v1/user/invitations/{id}/accept");
        let auth = auth.to_owned();
        let app = &app;
        async move { call(app, Method::POST, &path, &auth, None).await }
    };
    let invitation = invite("bobby").await;
    assert_eq!(invitation["team"], "devs");
    let again = invite("bobby").await;
    assert_eq!(
        again, invitation,
        "asking again answers the same invitation"
    );
    expect(
        accept(&invitation["id"], &bob).await,
        StatusCode::NO_CONTENT,
        "bob accepts",
    )
    .await;
    run(
        &app,
        &actors,
        vec![
            check("owner", member(Method::PUT, "devs", "bobby"), 204),
            check("bobby", member(Method::PUT, "devs", "carol"), 403),
        ],
    )
    .await;
    let invitation = invite("carol").await;
    expect(
        accept(&invitation["id"], &carol).await,
        StatusCode::NO_CONTENT,
        "carol accepts",
    )
    .await;

    run(
        &app,
        &actors,
        vec![
            check("bobby", member(Method::DELETE, "devs", "carol"), 403),
            check("owner", member(Method::DELETE, "devs", "carol"), 204),
            check("owner", member(Method::DELETE, "devs", "carol"), 404),
            // A member of the organization is put in a team at once.
            check("owner", member(Method::PUT, "devs", "carol"), 204),
            check("owner", member(Method::DELETE, "devs", "carol"), 204),
            // Grants: only on repositories of the organization, only read, write or admin.
            check("anonymous", grant("app", Some("write")), 401),
            check("bobby", grant("app", Some("write")), 403),
            check("owner", grant("app", Some("owner")), 400),
            check("owner", grant("App", Some("write")), 400),
            check("owner", grant("-app", Some("write")), 400),
            check(
                "owner",
                api(
                    Method::PUT,
                    "/api/v1/orgs/acme/teams/nope/repositories/app",
                    Some(json!({"permission": "write"})),
                ),
                404,
            ),
            check("owner", grant("app", Some("write")), 204),
            check("owner", grant("tools/cli", Some("read")), 204),
            check("bobby", grant("tools/cli", None), 403),
            check("owner", grant("tools/cli", None), 204),
            check("owner", grant("tools/cli", None), 404),
            // Members read the teams; outsiders cannot. Carol stays a member of the
            // organization after leaving the team.
            check("bobby", get("/api/v1/orgs/acme/teams"), 200).json(
                "",
                json!([{"name": "devs", "members": ["bobby"],
                        "repositories": [{"repository": "acme/app", "permission": "write"}]}]),
            ),
            check("carol", get("/api/v1/orgs/acme/teams"), 200),
            check("outsider", get("/api/v1/orgs/acme/teams"), 403),
            check("anonymous", get("/api/v1/orgs/acme/teams"), 401),
            check("bobby", get("/api/v1/orgs/nothing/teams"), 404),
            check("bobby", get("/api/v1/orgs/acme"), 200).json("/teams/0/name", json!("devs")),
        ],
    )
    .await;

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
    let mut actors = Actors::new()
        .with("owner", &alice)
        .with("team write", &writer)
        .with("team read", &reader)
        .with("stranger", &stranger);
    actors.add("member in no team", &plain);
    let app_layer = b"app layer";
    let owners_layer = b"owner's layer";
    let everything = "repository:acme/app:pull,push,delete";

    run(
        &app,
        &actors,
        vec![
            // The writer creates the (private) repository; the reader may not push to it.
            check("team write", push_bytes("acme/app", app_layer), 201),
            check("team read", push("acme/app"), 403).code("DENIED"),
            check("member in no team", push("acme/app"), 404).code("NAME_UNKNOWN"),
            check("stranger", push("acme/app"), 404).code("NAME_UNKNOWN"),
            check("anonymous", push("acme/app"), 401).code("UNAUTHORIZED"),
            check("owner", push("acme/app"), 201),
            // Without a grant for it, nobody but an owner creates repositories in the
            // organization.
            check("team write", push("acme/other"), 404),
            check("owner", push_bytes("acme/other", owners_layer), 201),
            // Pulls of the private repository: the teams' members and owners; nobody else
            // sees it.
            check("owner", pull("acme/app", app_layer), 200),
            check("team write", pull("acme/app", app_layer), 200),
            check("team read", pull("acme/app", app_layer), 200),
            check("stranger", pull("acme/app", app_layer), 404).code("NAME_UNKNOWN"),
            check("member in no team", pull("acme/app", app_layer), 404).code("NAME_UNKNOWN"),
            check("anonymous", pull("acme/app", app_layer), 401),
            // No team has a grant on acme/other: invisible to their members too.
            check("team write", pull("acme/other", owners_layer), 404),
            check("team read", pull("acme/other", owners_layer), 404),
            check("owner", pull("acme/other", owners_layer), 200),
            // The token service grants each exactly what their teams allow.
            check("team write", token(&app, everything), 200)
                .json("/sub", json!("bobby"))
                .json(
                    "/access",
                    json!([{"type": "repository", "name": "acme/app", "actions": ["pull", "push"]}]),
                ),
            check("team read", token(&app, everything), 200)
                .json("/access/0/actions", json!(["pull"])),
            check("stranger", token(&app, everything), 200).json("/access/0/actions", json!([])),
            check("member in no team", token(&app, everything), 200)
                .json("/access/0/actions", json!([])),
            check("owner", token(&app, "repository:acme/app:*"), 200)
                .json("/access/0/actions", json!(["pull", "push", "delete"])),
            // The catalog shows each what they may see.
            check("team read", get("/v2/_catalog"), 200)
                .json("/repositories", json!(["acme/app"])),
            check("stranger", get("/v2/_catalog"), 200).json("/repositories", json!([])),
            check("owner", get("/v2/_catalog"), 200)
                .json("/repositories", json!(["acme/app", "acme/other"])),
        ],
    )
    .await;

    // And that token works on the registry, until its holder leaves: leaving the organization
    // takes the team grants with it.
    let (t, _) = token_claims(&app, &writer, "repository:acme/app:pull,push").await;
    actors.add("team write, by token", &format!("Bearer {t}"));
    run(
        &app,
        &actors,
        vec![
            check(
                "team write, by token",
                push_bytes("acme/app", b"via token"),
                201,
            ),
            check(
                "team write",
                api(Method::DELETE, "/api/v1/orgs/acme/members/bobby", None),
                204,
            ),
            check("team write", push_bytes("acme/app", b"after leaving"), 404),
            check("team write", pull("acme/app", app_layer), 404),
        ],
    )
    .await;
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
    let docs_layer = b"docs layer";
    let r = push_blob_as(&app, &alice, "acme/docs", docs_layer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut actors = Actors::new().with("owner", &alice).with("member", &bob);
    let robot = |org: &str, body: Value| {
        api(
            Method::POST,
            &format!("/api/v1/orgs/{org}/robots"),
            Some(body),
        )
    };
    let body = json!({"name": "ci", "permissions": [
        {"repository": "app", "permission": "write"},
        {"repository": "docs", "permission": "read"},
    ]});

    // Only an owner of that very organization (Harbor CVE-2019-16919).
    run(
        &app,
        &actors,
        vec![
            check("anonymous", robot("acme", body.clone()), 401),
            check("member", robot("acme", body.clone()), 403),
            check("owner", robot("nothing", body.clone()), 404),
            check(
                "owner",
                robot(
                    "acme",
                    json!({"name": "ci", "permissions": [{"repository": "app", "permission": "owner"}]}),
                ),
                400,
            ),
            check(
                "owner",
                robot(
                    "acme",
                    json!({"name": "ci", "permissions": [{"repository": "../bobco/app", "permission": "read"}]}),
                ),
                400,
            ),
            check("owner", robot("acme", json!({"name": "CI!", "permissions": []})), 400),
            check(
                "owner",
                robot("acme", json!({"name": "ci", "permissions": [], "admin": true})),
                400,
            ),
        ],
    )
    .await;

    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/robots",
        &alice,
        Some(body.clone()),
    )
    .await;
    let created = expect(r, StatusCode::CREATED, "create").await;
    assert_eq!(created["name"], "acme+ci");
    assert!(created["id"].is_i64());
    assert_eq!(
        created["permissions"],
        json!([{"repository": "acme/app", "permission": "write"},
               {"repository": "acme/docs", "permission": "read"}])
    );
    let secret = created["token"].as_str().expect("token").to_owned();
    assert!(secret.starts_with("berth_robot_"));
    // `docker login -u acme+ci`.
    let ci = basic("acme+ci", &secret);
    actors.add("robot", &ci);
    // The secret only works under the robot's own name.
    actors.add(
        "robot's secret as acme+other",
        &basic("acme+other", &secret),
    );
    actors.add("robot's secret as bobco+ci", &basic("bobco+ci", &secret));
    actors.add("robot's secret as alice", &basic("alice", &secret));
    // The catalog, through a token as docker would ask for it.
    let (catalog_token, _) = token_claims(&app, &ci, "registry:catalog:*").await;
    actors.add("robot, catalog token", &format!("Bearer {catalog_token}"));
    let (t, _) = token_claims(&app, &ci, "repository:acme/app:pull,push").await;
    actors.add("robot, token for acme/app", &format!("Bearer {t}"));

    run(
        &app,
        &actors,
        vec![
            check("owner", robot("acme", body.clone()), 409),
            check("owner", get("/api/v1/orgs/acme/robots"), 200)
                .json("/0/name", json!("acme+ci"))
                // The secret is shown once.
                .absent("/0/token"),
            check("member", get("/api/v1/orgs/acme/robots"), 403),
            // The robot pushes where it may write, and nowhere else.
            check("robot", push_bytes("acme/app", b"built by ci"), 201),
            check("robot", pull("acme/docs", docs_layer), 200),
            check("robot", push("acme/docs"), 403).code("DENIED"),
            check("robot", push("acme/other"), 404).code("NAME_UNKNOWN"),
            check("robot", push("bobco/app"), 404).code("NAME_UNKNOWN"),
            check("robot", push("alice/app"), 404).code("NAME_UNKNOWN"),
            check("robot", push("toplevel"), 404).code("NAME_UNKNOWN"),
            // Never the organization's admin: no delete on its own repository, no API.
            check("robot", token(&app, "repository:acme/app:*"), 200)
                .json("/sub", json!("acme+ci"))
                .json("/access/0/actions", json!(["pull", "push"])),
            check("robot", token(&app, "repository:acme/secret:pull"), 200)
                .json("/access/0/actions", json!([])),
            check("robot", token(&app, "registry:catalog:*"), 200)
                .json("/access/0/actions", json!(["*"])),
            // The catalog lists what the robot can see.
            check("robot, catalog token", get("/v2/_catalog"), 200).holds(
                "only acme/app and acme/docs of acme's repositories",
                |v| {
                    v["repositories"].as_array().is_some_and(|names| {
                        names.iter().all(|n| {
                            n.as_str().is_some_and(|n| {
                                n == "acme/app" || n == "acme/docs" || !n.starts_with("acme/")
                            })
                        })
                    })
                },
            ),
            check("robot", get("/api/v1/orgs/acme/teams"), 401),
            check("robot", robot("acme", body.clone()), 401),
            // Its token works on the registry, and is refused where it has no grant.
            check(
                "robot, token for acme/app",
                push_bytes("acme/app", b"by token"),
                201,
            ),
            check(
                "robot, token for acme/app",
                push_bytes("acme/other", b"by token"),
                404,
            ),
            check("robot's secret as acme+other", push("acme/app"), 401),
            check("robot's secret as bobco+ci", push("acme/app"), 401),
            check("robot's secret as alice", push("acme/app"), 401),
            // Revoked, it works no more.
            check(
                "member",
                api(Method::DELETE, "/api/v1/orgs/acme/robots/ci", None),
                403,
            ),
            check(
                "owner",
                api(Method::DELETE, "/api/v1/orgs/acme/robots/acme+ci", None),
                204,
            ),
            check(
                "owner",
                api(Method::DELETE, "/api/v1/orgs/acme/robots/ci", None),
                404,
            ),
            check("robot", push_bytes("acme/app", b"after revocation"), 401),
        ],
    )
    .await;

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
