//! Retention rules end to end: a repository's or a namespace's policy through the API (who may
//! read, change and preview it, what bad input gets), the preview listing exactly the tags each
//! rule lets go, a namespace policy governing the repositories without their own, and `apply`
//! deleting exactly the previewed tags, each announced to webhooks as a delete.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use berth::config::Config;
use berth_registry::lifecycle::retention::{self, Untagged};
use berth_webhooks::guard::Allowlist;
use common::receiver::Receiver;
use common::web::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DAY: i64 = 86_400;

async fn json_of(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// Makes `tag` of `repository` look last pushed `days` ago (an hour less, so that an age limit
/// of `days` keeps it however long the test runs): tests cannot wait for days.
async fn pushed_days_ago(app: &TestApp, repository: &str, tag: &str, days: i64) {
    let hour_less = if days > 0 { 3600 } else { 0 };
    let at = berth_registry::clock::now() - days * DAY + hour_less;
    let done = sqlx::query(
        "UPDATE tags SET updated_at = $1 WHERE name = $2
         AND repository_id = (SELECT id FROM repositories WHERE name = $3)",
    )
    .bind(at)
    .bind(tag)
    .bind(repository)
    .execute(&app.state.pool)
    .await
    .expect("age a tag");
    assert_eq!(done.rows_affected(), 1, "{repository}:{tag}");
}

/// Pushes `repository` with tags `t0` (today) … `t5` (five days ago, one a day), and `latest`
/// and `v1.0` pushed 30 and 60 days ago.
async fn aged_repository(app: &TestApp, repository: &str) {
    for (tag, days) in [
        ("t0", 0),
        ("t1", 1),
        ("t2", 2),
        ("t3", 3),
        ("t4", 4),
        ("t5", 5),
        ("latest", 30),
        ("v1.0", 60),
    ] {
        app.push_image(repository, tag, format!("{repository} {tag}").as_bytes())
            .await;
        pushed_days_ago(app, repository, tag, days).await;
    }
}

fn tags_of(preview: &Value) -> Vec<&str> {
    preview["delete"]
        .as_array()
        .expect("delete list")
        .iter()
        .map(|t| t["tag"].as_str().expect("tag"))
        .collect()
}

async fn preview(app: &TestApp, auth: &str, repository: &str, policy: Value) -> Value {
    let r = call(
        app,
        Method::POST,
        &format!("/api/v1/repositories/{repository}/retention/preview"),
        Some(auth),
        Some(policy),
    )
    .await;
    json_of(r, StatusCode::OK).await
}

async fn create_org(app: &TestApp, owner: &str, name: &str) {
    let r = call(
        app,
        Method::POST,
        "/api/v1/orgs",
        Some(owner),
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_repository_policy_round_trips_and_every_change_is_audited() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    app.push_image("alice/app", "v1", b"layer").await;
    let path = "/api/v1/repositories/alice/app/retention";

    // Nothing yet; anyone who can see the repository may look.
    let r = call(&app, Method::GET, path, None, None).await;
    let body = json_of(r, StatusCode::OK).await;
    assert_eq!(body["scope"], "repository");
    assert_eq!(body["name"], "alice/app");
    assert_eq!(body["policy"], Value::Null);
    assert_eq!(body["effective"], Value::Null);

    // Saved disabled unless switched on: the preview comes first.
    let policy = json!({"keep_most_recent": 10, "keep_patterns": ["latest", "v*"],
                        "delete_older_than_days": 30, "untagged_days": 0});
    let r = call(&app, Method::PUT, path, Some(&alice), Some(policy)).await;
    let body = json_of(r, StatusCode::OK).await;
    let saved = json!({"enabled": false, "keep_most_recent": 10,
                       "keep_patterns": ["latest", "v*"], "delete_older_than_days": 30,
                       "untagged_days": 0});
    assert_eq!(body["policy"], saved);
    assert_eq!(body["updated_by"], "alice");
    assert_eq!(body["effective"]["scope"], "repository");
    assert_eq!(body["effective"]["policy"], saved);
    let r = call(&app, Method::GET, path, None, None).await;
    assert_eq!(json_of(r, StatusCode::OK).await["policy"], saved);

    // Switched on, then every field unset again.
    let on = json!({"enabled": true, "keep_most_recent": 3});
    let r = call(&app, Method::PUT, path, Some(&alice), Some(on)).await;
    let body = json_of(r, StatusCode::OK).await;
    assert_eq!(
        body["policy"],
        json!({"enabled": true, "keep_most_recent": 3, "keep_patterns": [],
               "delete_older_than_days": null, "untagged_days": null})
    );
    assert_eq!(
        retention::untagged_policy(&app.state.pool, "alice/app")
            .await
            .expect("untagged policy"),
        Untagged::GcDefault,
        "null is the collector's default"
    );

    // Removing it leaves the repository ungoverned; twice is a 404.
    let r = call(&app, Method::DELETE, path, Some(&alice), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(&app, Method::DELETE, path, Some(&alice), None).await;
    assert_eq!(
        json_of(r, StatusCode::NOT_FOUND).await["error"]["code"],
        "not_found"
    );
    let r = call(&app, Method::GET, path, None, None).await;
    assert_eq!(json_of(r, StatusCode::OK).await["policy"], Value::Null);

    let entries: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'retention.update' ORDER BY id",
    )
    .fetch_all(&app.state.pool)
    .await
    .expect("audit log");
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries
        .iter()
        .all(|(a, t, _)| a == "alice" && t == "alice/app"));
    assert!(entries[0].2.contains("\"delete_older_than_days\":30"));
    assert_eq!(entries[2].2, "removed");
}

#[tokio::test]
async fn bad_policies_are_refused_with_a_clear_400() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    create_org(&app, &alice, "acme").await;
    app.push_image("alice/app", "v1", b"layer").await;
    let too_many: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
    let cases = [
        (json!({"keep_most_recent": 10001}), "keep_most_recent"),
        (json!({"keep_most_recent": -1}), "keep_most_recent"),
        (
            json!({"delete_older_than_days": 36501}),
            "delete_older_than_days",
        ),
        (json!({"untagged_days": -1}), "untagged_days"),
        (json!({"keep_patterns": too_many}), "at most 50"),
        (json!({"keep_patterns": [""]}), "keep pattern"),
        (json!({"keep_patterns": ["v 1"]}), "keep pattern"),
        (json!({"keep_patterns": ["v[0-9]"]}), "keep pattern"),
        (json!({"keep_patterns": ["x".repeat(129)]}), "keep pattern"),
        (json!({"keep_most_recent": "ten"}), "invalid type"),
        (json!({"keep_forever": true}), "keep_forever"),
    ];
    for path in [
        "/api/v1/repositories/alice/app/retention",
        "/api/v1/repositories/alice/app/retention/preview",
        "/api/v1/orgs/acme/retention",
        "/api/v1/orgs/acme/retention/preview",
    ] {
        let method = if path.ends_with("/preview") {
            Method::POST
        } else {
            Method::PUT
        };
        for (body, says) in &cases {
            let r = call(&app, method.clone(), path, Some(&alice), Some(body.clone())).await;
            let error = json_of(r, StatusCode::BAD_REQUEST).await;
            assert_eq!(error["error"]["code"], "invalid", "{path} {body}");
            let message = error["error"]["message"].as_str().expect("message");
            assert!(message.contains(says), "{path} {body}: {message}");
        }
    }
    // Nothing was saved.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/app/retention",
        None,
        None,
    )
    .await;
    assert_eq!(json_of(r, StatusCode::OK).await["policy"], Value::Null);
}

#[tokio::test]
async fn only_administrators_change_or_preview_and_outsiders_learn_nothing() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bobby = sign_up_basic(&app, "bobby").await;
    let carol = sign_up_basic(&app, "carol").await;
    app.push_image("alice/app", "v1", b"layer").await;
    app.push_image("alice/vault", "v1", b"secret").await;
    let r = call(
        &app,
        Method::PATCH,
        "/api/v1/repositories/alice/vault",
        Some(&alice),
        Some(json!({"visibility": "private"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let policy = json!({"keep_most_recent": 1});

    let public = "/api/v1/repositories/alice/app/retention";
    let r = call(&app, Method::GET, public, Some(&bobby), None).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a public repository's policy is public"
    );
    for (method, path) in [
        (Method::PUT, public.to_owned()),
        (Method::POST, format!("{public}/preview")),
        (Method::DELETE, public.to_owned()),
    ] {
        let r = call(&app, method.clone(), &path, None, Some(policy.clone())).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let r = call(
            &app,
            method.clone(),
            &path,
            Some(&bobby),
            Some(policy.clone()),
        )
        .await;
        let body = json_of(r, StatusCode::FORBIDDEN).await;
        assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
    }
    let private = "/api/v1/repositories/alice/vault/retention";
    for (method, path) in [
        (Method::GET, private.to_owned()),
        (Method::PUT, private.to_owned()),
        (Method::POST, format!("{private}/preview")),
        (Method::DELETE, private.to_owned()),
    ] {
        let r = call(
            &app,
            method.clone(),
            &path,
            Some(&bobby),
            Some(policy.clone()),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let r = call(&app, Method::GET, private, None, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::PUT,
        private,
        Some(&alice),
        Some(policy.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // An organization: its members read the policy, its owners change it.
    create_org(&app, &alice, "acme").await;
    invite_and_accept(
        &app,
        &alice,
        "/api/v1/orgs/acme/members/bobby",
        Some(json!({"role": "member"})),
        &bobby,
    )
    .await;
    let org = "/api/v1/orgs/acme/retention";
    let r = call(&app, Method::GET, org, Some(&bobby), None).await;
    assert_eq!(json_of(r, StatusCode::OK).await["policy"], Value::Null);
    let r = call(&app, Method::GET, org, Some(&carol), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = call(&app, Method::GET, org, None, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for (method, path) in [
        (Method::PUT, org.to_owned()),
        (Method::POST, format!("{org}/preview")),
        (Method::DELETE, org.to_owned()),
    ] {
        for who in [&bobby, &carol] {
            let r = call(&app, method.clone(), &path, Some(who), Some(policy.clone())).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    let r = call(&app, Method::PUT, org, Some(&alice), Some(policy.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(
        &app,
        Method::GET,
        "/api/v1/orgs/nosuchorg/retention",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A site administrator administers every namespace.
    let r = app
        .request(Method::PUT, org)
        .json(&json!({"keep_most_recent": 2}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(json_of(r, StatusCode::OK).await["updated_by"], ADMIN);
}

#[tokio::test]
async fn the_preview_lists_exactly_the_tags_each_rule_lets_go() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    aged_repository(&app, "alice/app").await;

    // Keep the three most recent.
    let p = preview(&app, &alice, "alice/app", json!({"keep_most_recent": 3})).await;
    assert_eq!(tags_of(&p), ["t3", "t4", "t5", "latest", "v1.0"]);
    assert_eq!(p["keep"], 3);
    let first = &p["delete"][0];
    let t3 = app.json("/api/v1/repositories/alice/app/tags/t3").await;
    assert_eq!(first["digest"], t3["summary"]["digest"], "{t3}");
    assert!(
        first["pushed_at"].as_i64().expect("pushed_at") < berth_registry::clock::now() - 2 * DAY
    );

    // Patterns always keep.
    let p = preview(
        &app,
        &alice,
        "alice/app",
        json!({"keep_most_recent": 3, "keep_patterns": ["latest", "v*"]}),
    )
    .await;
    assert_eq!(tags_of(&p), ["t3", "t4", "t5"]);
    assert_eq!(p["keep"], 5);

    // Only tags older than four days.
    let p = preview(
        &app,
        &alice,
        "alice/app",
        json!({"delete_older_than_days": 4}),
    )
    .await;
    assert_eq!(tags_of(&p), ["t5", "latest", "v1.0"]);

    // All three together: most recent, young enough, or by name.
    let p = preview(
        &app,
        &alice,
        "alice/app",
        json!({"keep_most_recent": 1, "delete_older_than_days": 2, "keep_patterns": ["t?"]}),
    )
    .await;
    assert_eq!(tags_of(&p), ["latest", "v1.0"]);

    // Neither a count nor an age: nothing goes, patterns or not.
    for policy in [
        json!({}),
        json!({"keep_patterns": ["nothing*"], "enabled": true}),
    ] {
        let p = preview(&app, &alice, "alice/app", policy).await;
        assert_eq!(tags_of(&p), Vec::<&str>::new());
        assert_eq!(p["keep"], 8);
    }

    // A preview changes nothing.
    let tags = app.json("/v2/alice/app/tags/list").await;
    assert_eq!(tags["tags"].as_array().map(Vec::len), Some(8));
}

#[tokio::test]
async fn a_namespace_policy_governs_each_repository_without_its_own() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    create_org(&app, &alice, "acme").await;
    aged_repository(&app, "acme/api").await;
    aged_repository(&app, "acme/web").await;
    aged_repository(&app, "acmecorp/api").await;
    let policy = json!({"enabled": true, "keep_most_recent": 6, "untagged_days": 14});

    // acme/web opts out with a disabled policy of its own.
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/repositories/acme/web/retention",
        Some(&alice),
        Some(json!({"enabled": false, "keep_most_recent": 0})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/retention/preview",
        Some(&alice),
        Some(policy.clone()),
    )
    .await;
    let p = json_of(r, StatusCode::OK).await;
    assert_eq!(p["delete_count"], 2);
    let repositories = p["repositories"].as_array().expect("repositories");
    assert_eq!(repositories.len(), 1, "{p}");
    assert_eq!(repositories[0]["repository"], "acme/api");
    assert_eq!(tags_of(&repositories[0]), ["latest", "v1.0"]);

    let r = call(
        &app,
        Method::PUT,
        "/api/v1/orgs/acme/retention",
        Some(&alice),
        Some(policy),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let view = app.json("/api/v1/repositories/acme/api/retention").await;
    assert_eq!(view["policy"], Value::Null);
    assert_eq!(view["effective"]["scope"], "namespace");
    assert_eq!(view["effective"]["name"], "acme");
    let view = app.json("/api/v1/repositories/acme/web/retention").await;
    assert_eq!(view["effective"]["scope"], "repository");

    let planned = retention::dry_run(&app.state.registry, berth_registry::clock::now())
        .await
        .expect("dry run");
    let planned: Vec<(&str, &str)> = planned
        .iter()
        .map(|d| (d.repository.as_str(), d.tag.as_str()))
        .collect();
    assert_eq!(planned, [("acme/api", "latest"), ("acme/api", "v1.0")]);

    let pool = &app.state.pool;
    let untagged = |name: &'static str| async move {
        retention::untagged_policy(pool, name)
            .await
            .expect("untagged policy")
    };
    assert_eq!(
        untagged("acme/api").await,
        Untagged::After(Duration::from_secs(14 * DAY as u64))
    );
    assert_eq!(untagged("acme/web").await, Untagged::GcDefault, "disabled");
    assert_eq!(untagged("acmecorp/api").await, Untagged::GcDefault);

    // Deleting the organization takes its policies with it.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/orgs/acme?confirm=true",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM retention_policies")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

fn quick(c: &mut Config) {
    c.webhooks.allowed_targets = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
    c.webhooks.retry_base = Duration::from_millis(50);
}

#[tokio::test]
async fn apply_deletes_exactly_the_previewed_tags_and_announces_each_delete() {
    let app = TestApp::start_with(quick).await;
    let alice = sign_up_basic(&app, "alice").await;
    aged_repository(&app, "alice/app").await;
    aged_repository(&app, "alice/other").await;
    let receiver = Receiver::start().await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/repositories/alice/app/webhooks",
        Some(&alice),
        Some(json!({"name": "deletes", "url": receiver.url("/"), "events": ["delete"]})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let path = "/api/v1/repositories/alice/app/retention";
    let policy = json!({"keep_most_recent": 2, "keep_patterns": ["latest"],
                        "delete_older_than_days": 1});

    // Saved disabled: a run deletes nothing.
    let r = call(&app, Method::PUT, path, Some(&alice), Some(policy.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let now = berth_registry::clock::now();
    let deleted = retention::apply(&app.state.registry, now)
        .await
        .expect("apply");
    assert!(deleted.is_empty(), "{deleted:?}");

    let expected = preview(&app, &alice, "alice/app", policy.clone()).await;
    assert_eq!(tags_of(&expected), ["t2", "t3", "t4", "t5", "v1.0"]);
    let mut on = policy;
    on["enabled"] = json!(true);
    let r = call(&app, Method::PUT, path, Some(&alice), Some(on)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let deleted = retention::apply(&app.state.registry, berth_registry::clock::now())
        .await
        .expect("apply");
    let got: Vec<Value> = deleted
        .iter()
        .map(|d| {
            assert_eq!(d.repository, "alice/app");
            json!({"tag": d.tag, "digest": d.digest, "pushed_at": d.pushed_at})
        })
        .collect();
    assert_eq!(Value::Array(got), expected["delete"]);
    let left = app.json("/v2/alice/app/tags/list").await;
    assert_eq!(left["tags"], json!(["latest", "t0", "t1"]));
    let other = app.json("/v2/alice/other/tags/list").await;
    assert_eq!(
        other["tags"].as_array().map(Vec::len),
        Some(8),
        "no policy, no deletes"
    );

    // Each deletion reached the repository's webhook as a tag delete by Berth itself.
    let got = receiver.wait_for(5, 20).await;
    let mut announced: Vec<String> = got
        .iter()
        .map(|d| {
            assert_eq!(d.event, "delete");
            let body = d.json();
            assert_eq!(body["delete_data"]["target"], "tag");
            assert_eq!(body["delete_data"]["deleter"], "system");
            body["delete_data"]["tag"].as_str().expect("tag").to_owned()
        })
        .collect();
    announced.sort();
    assert_eq!(announced, ["t2", "t3", "t4", "t5", "v1.0"]);

    // A second run finds nothing left to do; the manifests stay for garbage collection.
    let again = retention::apply(&app.state.registry, berth_registry::clock::now())
        .await
        .expect("apply");
    assert!(again.is_empty(), "{again:?}");
    let digest = expected["delete"][0]["digest"].as_str().expect("digest");
    assert_eq!(
        app.get(&format!("/v2/alice/app/manifests/{digest}"))
            .await
            .status(),
        StatusCode::OK
    );
    app.assert_consistent().await;

    // Deleting the repository takes its policy with it.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM retention_policies")
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[tokio::test]
async fn the_settings_pages_preview_then_save_a_policy_without_javascript() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let auth = basic("alice", "alice password");
    aged_repository(&app, "alice/app").await;
    let settings = "/r/alice/app/settings";
    let (status, html) = page(&alice, &app, settings).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"retention\""), "the card is there");
    assert!(html.contains("formaction=\"/r/alice/app/settings/retention/preview"));

    // Preview: the page again, with the list and what was typed.
    let r = submit(
        &alice,
        &app,
        settings,
        "/r/alice/app/settings/retention/preview",
        &[("keep_most_recent", "2"), ("keep_patterns", "latest v*")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(html.contains("These 4 tags would be deleted"), "{html}");
    for tag in ["t2", "t3", "t4", "t5"] {
        assert!(
            html.contains(&format!("<code>{tag}</code>")),
            "{tag} listed"
        );
    }
    assert!(!html.contains("<code>t1</code>"));
    assert!(html.contains("value=\"2\""), "the count is kept");
    assert!(
        html.contains("value=\"latest v*\""),
        "the patterns are kept"
    );
    let view = app.json("/api/v1/repositories/alice/app/retention").await;
    assert_eq!(view["policy"], Value::Null, "a preview saves nothing");

    // A bad value is refused inside the card, with what was typed.
    let r = submit(
        &alice,
        &app,
        settings,
        "/r/alice/app/settings/retention",
        &[("keep_most_recent", "lots")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    let card = &html[html.find("id=\"retention\"").expect("card")..];
    assert!(card.contains("class=\"form-error\""));
    assert!(card.contains("must be a whole number"));
    assert!(card.contains("value=\"lots\""));

    // Save, switched on.
    let r = submit(
        &alice,
        &app,
        settings,
        "/r/alice/app/settings/retention",
        &[
            ("retention_enabled", "on"),
            ("keep_most_recent", "2"),
            ("keep_patterns", "latest v*"),
            ("untagged_days", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        "/r/alice/app/settings?retention=saved#retention"
    );
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/app/retention",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        json_of(r, StatusCode::OK).await["policy"],
        json!({"enabled": true, "keep_most_recent": 2, "keep_patterns": ["latest", "v*"],
               "delete_older_than_days": null, "untagged_days": null})
    );
    let (_, html) = page(&alice, &app, "/r/alice/app/settings?retention=saved").await;
    assert!(html.contains("Retention policy saved."));
    assert!(
        html.contains("name=\"retention_enabled\" checked"),
        "{html}"
    );

    // The organization's card previews per repository.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&auth),
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    aged_repository(&app, "acme/api").await;
    let org = "/o/acme/settings";
    let r = submit(
        &alice,
        &app,
        org,
        "/o/acme/settings/retention/preview",
        &[("delete_older_than_days", "29")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(html.contains("These 2 tags would be deleted"), "{html}");
    assert!(html.contains("<td>acme/api</td>"));
    let r = submit(
        &alice,
        &app,
        org,
        "/o/acme/settings/retention",
        &[("delete_older_than_days", "29")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let view = app.json("/api/v1/orgs/acme/retention").await;
    assert_eq!(view["policy"]["delete_older_than_days"], 29);
    assert_eq!(view["policy"]["enabled"], false);

    // Someone else's repository settings stay closed.
    let bobby = sign_up_web(&app, "bobby").await;
    let (_, html) = page(&bobby, &app, "/r/alice/app").await;
    let r = post(
        &bobby,
        &app,
        "/r/alice/app/settings/retention",
        &[("csrf", &csrf(&html)), ("keep_most_recent", "0")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
