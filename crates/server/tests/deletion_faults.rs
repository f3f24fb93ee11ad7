//! A deletion killed part-way has happened completely or not at all. The real binary is frozen
//! at each of the deletion's fault points (built with the `fault-points` feature: see
//! `berth_hub::faults`) and SIGKILLed there, and killed again at random moments of deletions
//! that run freely; after each restart every store holds all of the repository or
//! organization, or none of it.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::binary::*;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

const ALLOW: (&str, &str) = ("BERTH_WEBHOOKS_ALLOWED_TARGETS", "127.0.0.1/32");

/// Waits until the server's log says it stopped at `point`.
async fn reached(log: &Path, point: &str) {
    let wanted = format!("fault point reached: {point}");
    for _ in 0..400 {
        if std::fs::read_to_string(log).is_ok_and(|l| l.contains(&wanted)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server never reached {point}");
}

async fn send(client: &reqwest::Client, req: reqwest::RequestBuilder) -> StatusCode {
    let _ = client;
    req.send().await.expect("request").status()
}

/// A repository `{ns}/app` with a tag, a star, a comment and a webhook.
async fn fill_repository(client: &reqwest::Client, base: &str, ns: &str) {
    let repo = format!("{ns}/app");
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    push_blob_to(client, base, &repo, config).await;
    let manifest = image_manifest((&sha256(config), config.len()), &[], "");
    let r = client
        .put(format!("{base}/v2/{repo}/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), StatusCode::CREATED);
    let api = format!("{base}/api/v1/repositories/{repo}");
    let star = client.put(format!("{api}/star"));
    assert!(send(client, star).await.is_success());
    let comment = client
        .post(format!("{api}/comments"))
        .json(&json!({"body": "nice"}));
    assert_eq!(send(client, comment).await, StatusCode::CREATED);
    let hook = client
        .post(format!("{api}/webhooks"))
        .json(&json!({"name": "deploy", "url": "http://127.0.0.1:9/", "events": ["push"]}));
    assert_eq!(send(client, hook).await, StatusCode::CREATED);
}

/// Which parts of `{ns}/app` each store still holds.
async fn repository_parts(
    client: &reqwest::Client,
    base: &str,
    ns: &str,
) -> Vec<(&'static str, bool)> {
    let repo = format!("{ns}/app");
    let api = format!("{base}/api/v1/repositories/{repo}");
    let ok = |r: reqwest::Response| r.status() == StatusCode::OK;
    let tag = client
        .head(format!("{base}/v2/{repo}/manifests/v1"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("manifest");
    let settings = client.get(&api).send().await.expect("settings");
    let settings_json: serde_json::Value = if settings.status() == StatusCode::OK {
        settings.json().await.expect("JSON")
    } else {
        serde_json::Value::Null
    };
    let comments: serde_json::Value = client
        .get(format!("{api}/comments"))
        .send()
        .await
        .expect("comments")
        .json()
        .await
        .unwrap_or_default();
    let hooks = client
        .get(format!("{api}/webhooks"))
        .send()
        .await
        .expect("hooks");
    let hooks: serde_json::Value = if hooks.status() == StatusCode::OK {
        hooks.json().await.expect("JSON")
    } else {
        serde_json::Value::Null
    };
    vec![
        ("registry: the tag", ok(tag)),
        ("accounts: the settings", !settings_json.is_null()),
        (
            "hub: the star",
            settings_json["star_count"].as_i64() == Some(1),
        ),
        ("hub: the comment", comments.to_string().contains("nice")),
        (
            "webhooks: the webhook",
            hooks.as_array().is_some_and(|h| h.len() == 1),
        ),
    ]
}

/// An organization `acme` with a team, a robot, a webhook and a repository.
async fn fill_org(client: &reqwest::Client, base: &str) {
    let api = format!("{base}/api/v1/orgs");
    assert_eq!(
        send(client, client.post(&api).json(&json!({"name": "acme"}))).await,
        StatusCode::CREATED
    );
    let team = client
        .post(format!("{api}/acme/teams"))
        .json(&json!({"name": "devs"}));
    assert_eq!(send(client, team).await, StatusCode::CREATED);
    let robot = client
        .post(format!("{api}/acme/robots"))
        .json(&json!({"name": "ci", "permissions": []}));
    assert_eq!(send(client, robot).await, StatusCode::CREATED);
    let hook = client
        .post(format!("{api}/acme/webhooks"))
        .json(&json!({"name": "all", "url": "http://127.0.0.1:9/", "events": ["push"]}));
    assert_eq!(send(client, hook).await, StatusCode::CREATED);
    fill_repository(client, base, "acme").await;
}

async fn org_parts(client: &reqwest::Client, base: &str) -> Vec<(&'static str, bool)> {
    let api = format!("{base}/api/v1/orgs/acme");
    let ok = |r: reqwest::Response| r.status() == StatusCode::OK;
    let teams: serde_json::Value = client
        .get(format!("{api}/teams"))
        .send()
        .await
        .expect("teams")
        .json()
        .await
        .unwrap_or_default();
    let robots: serde_json::Value = client
        .get(format!("{api}/robots"))
        .send()
        .await
        .expect("robots")
        .json()
        .await
        .unwrap_or_default();
    let hooks: serde_json::Value = client
        .get(format!("{api}/webhooks"))
        .send()
        .await
        .expect("hooks")
        .json()
        .await
        .unwrap_or_default();
    let mut parts = vec![
        (
            "accounts: the organization",
            ok(client.get(&api).send().await.expect("org")),
        ),
        ("accounts: the team", teams.to_string().contains("devs")),
        (
            "accounts: the robot",
            robots.to_string().contains("acme+ci"),
        ),
        (
            "webhooks: the organization's webhook",
            hooks.as_array().is_some_and(|h| h.len() == 1),
        ),
    ];
    parts.extend(repository_parts(client, base, "acme").await);
    parts
}

/// Asserts that every part is there, or that none is; returns which.
fn whole(parts: &[(&str, bool)], after: &str) -> bool {
    let present = parts[0].1;
    let torn: Vec<_> = parts.iter().filter(|(_, p)| *p != present).collect();
    assert!(torn.is_empty(), "{after}: half a deletion: {parts:?}");
    present
}

#[derive(Clone, Copy)]
enum Kind {
    Repository,
    Org,
}

impl Kind {
    async fn fill(self, client: &reqwest::Client, base: &str) {
        match self {
            Kind::Repository => fill_repository(client, base, ROOT).await,
            Kind::Org => fill_org(client, base).await,
        }
    }

    async fn parts(self, client: &reqwest::Client, base: &str) -> Vec<(&'static str, bool)> {
        match self {
            Kind::Repository => repository_parts(client, base, ROOT).await,
            Kind::Org => org_parts(client, base).await,
        }
    }

    fn delete(self, client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
        match self {
            Kind::Repository => client.delete(format!("{base}/api/v1/repositories/{ROOT}/app")),
            Kind::Org => client.delete(format!("{base}/api/v1/orgs/acme?confirm=true")),
        }
    }
}

/// Kills the server at `point` (or, without one, after `delay`) during a deletion of `kind`,
/// restarts it, and checks the deletion is whole; then deletes again and checks nothing is
/// left. Returns whether the killed deletion had happened.
async fn kill_during(kind: Kind, point: Option<&str>, delay: Duration) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    let client = authed_client();
    let log = dir.path().join("berth.log");
    let mut env = vec![ALLOW];
    if let Some(point) = point {
        env.push(("BERTH_FAULT_POINT", point));
    }
    let port = free_port();
    let berth = start_with_log(dir.path(), db.as_deref(), port, &env, &log).await;
    let base = berth.base.clone();
    kind.fill(&client, &base).await;
    assert!(whole(&kind.parts(&client, &base).await, "before"));

    let deletion = tokio::spawn(kind.delete(&client, &base).send());
    match point {
        Some(point) => reached(&log, point).await,
        None => tokio::time::sleep(delay).await,
    }
    berth.kill();
    deletion.abort();

    let berth = start_with_env(dir.path(), db.as_deref(), port, &[ALLOW]).await;
    let after = format!("killed at {point:?} / after {delay:?}");
    let happened = !whole(&kind.parts(&client, &base).await, &after);
    if point.is_some() {
        assert!(
            !happened,
            "{after}: a deletion stopped before its commit happened"
        );
    }
    // Whatever was left is deleted cleanly now, and nothing of it remains.
    let status = send(&client, kind.delete(&client, &base)).await;
    let expected = if happened {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::NO_CONTENT
    };
    assert_eq!(status, expected, "{after}: deleting again");
    assert!(!whole(&kind.parts(&client, &base).await, "deleted again"));
    drop(berth);
    happened
}

const REPOSITORY_POINTS: [&str; 3] = [
    "delete-repository:registry",
    "delete-repository:webhooks",
    "delete-repository:commit",
];

const ORG_POINTS: [&str; 3] = [
    "delete-namespace:registry",
    "delete-org:namespace",
    "delete-org:commit",
];

/// A pseudo-random delay of up to 40 ms, different on every run.
fn random_delay() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_micros(u64::from(nanos % 40_000))
}

#[tokio::test]
async fn a_repository_deletion_killed_at_any_point_is_all_or_nothing() {
    for point in REPOSITORY_POINTS {
        kill_during(Kind::Repository, Some(point), Duration::ZERO).await;
    }
    for _ in 0..3 {
        kill_during(Kind::Repository, None, random_delay()).await;
    }
}

#[tokio::test]
async fn an_organization_deletion_killed_at_any_point_is_all_or_nothing() {
    for point in ORG_POINTS {
        kill_during(Kind::Org, Some(point), Duration::ZERO).await;
    }
    for _ in 0..3 {
        kill_during(Kind::Org, None, random_delay()).await;
    }
}
