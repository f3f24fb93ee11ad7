//! The trust server with metadata made here, on both backends: a collection's keys decide
//! what counts as signed. A role that lists a key without that key signing, or a delegation
//! file left from before its parent changed the delegation's keys, signs nothing under the
//! signed-only policy. `e2e_trust.rs` drives the same server with docker and notary.

use crate::common;

use common::signing::{add_key, manifest_status, set_policy};
use common::tuf::{multipart, server_key, signed, target, TufKey};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

const EXPIRES: &str = "2099-01-01T00:00:00Z";

struct Collection<'a> {
    app: &'a TestApp,
    gun: String,
    root_key: TufKey,
    timestamp: (String, Value),
    snapshot: (String, Value),
}

impl<'a> Collection<'a> {
    async fn new(app: &'a TestApp, repo: &str) -> Collection<'a> {
        let gun = format!("{}/{repo}", app.host());
        let timestamp = server_key(
            &app.json(&format!("/v2/{gun}/_trust/tuf/timestamp.key"))
                .await,
        );
        let snapshot = server_key(
            &app.json(&format!("/v2/{gun}/_trust/tuf/snapshot.key"))
                .await,
        );
        Collection {
            app,
            root_key: TufKey::root(&gun),
            gun,
            timestamp,
            snapshot,
        }
    }

    /// A root naming `targets` (keys, threshold) and Berth's keys.
    fn root(&self, version: i64, targets: &[&TufKey], threshold: usize) -> Vec<u8> {
        let mut keys = Map::new();
        keys.insert(self.root_key.id.clone(), self.root_key.public.clone());
        for k in targets {
            keys.insert(k.id.clone(), k.public.clone());
        }
        for (id, key) in [&self.timestamp, &self.snapshot] {
            keys.insert(id.clone(), key.clone());
        }
        let ids = |ks: &[&TufKey]| ks.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
        let body = json!({
            "_type": "Root",
            "version": version,
            "expires": EXPIRES,
            "consistent_snapshot": false,
            "keys": keys,
            "roles": {
                "root": {"keyids": [self.root_key.id], "threshold": 1},
                "targets": {"keyids": ids(targets), "threshold": threshold},
                "snapshot": {"keyids": [self.snapshot.0], "threshold": 1},
                "timestamp": {"keyids": [self.timestamp.0], "threshold": 1},
            },
        });
        signed(body, &[&self.root_key])
    }

    async fn post(&self, files: &[(&str, &[u8])]) -> (StatusCode, String) {
        let (content_type, body) = multipart(files);
        let r = self
            .app
            .request(Method::POST, &format!("/v2/{}/_trust/tuf/", self.gun))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST trust update");
        let status = r.status();
        (status, r.text().await.unwrap_or_default())
    }
}

fn targets_file(version: i64, entries: Value, delegations: Value, by: &[&TufKey]) -> Vec<u8> {
    signed(
        json!({
            "_type": "Targets",
            "version": version,
            "expires": EXPIRES,
            "targets": entries,
            "delegations": delegations,
        }),
        by,
    )
}

#[tokio::test]
async fn only_keys_that_signed_count_for_the_signed_only_policy() {
    let app = TestApp::start().await;
    let repo = format!("{ADMIN}/tuf");
    let (manifest, digest) = app.push_image(&repo, "latest", b"tuf layer").await;
    let (release_manifest, release_digest) = app.push_image(&repo, "v1", b"tuf layer two").await;
    let trusted = TufKey::plain();
    add_key(&app, "/api/v1/user/signing-keys", "trusted", &trusted.pem).await;
    set_policy(
        &app,
        &format!("/api/v1/repositories/{repo}/signing-policy"),
        true,
    )
    .await;
    let collection = Collection::new(&app, &repo).await;

    // The root names the trusted key and a key of the publisher's, one of which must sign:
    // the publisher signs alone. The update is valid, the tag is signed, but not by a key the
    // namespace trusts.
    let publisher = TufKey::plain();
    let root = collection.root(1, &[&publisher, &trusted], 1);
    let releaser = TufKey::plain();
    let delegate = |key: &TufKey| {
        json!({
            "keys": {key.id.clone(): key.public.clone()},
            "roles": [{"name": "targets/releases", "keyids": [key.id], "threshold": 1, "paths": [""]}],
        })
    };
    let targets = targets_file(
        1,
        json!({"latest": target(&digest, manifest.len())}),
        delegate(&releaser),
        &[&publisher],
    );
    let releases = targets_file(
        1,
        json!({"v1": target(&release_digest, release_manifest.len())}),
        Value::Null,
        &[&releaser],
    );
    let (status, body) = collection
        .post(&[
            ("root", &root),
            ("targets", &targets),
            ("targets/releases", &releases),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tag = app
        .json(&format!("/api/v1/repositories/{repo}/tags/latest"))
        .await;
    assert_eq!(tag["summary"]["signatures"][0]["format"], "notary", "{tag}");
    assert_eq!(tag["summary"]["signatures"][0]["verified"], true);
    for reference in ["latest", "v1"] {
        assert_eq!(
            manifest_status(&app, Method::GET, &repo, reference).await,
            StatusCode::FORBIDDEN,
            "{reference}"
        );
    }

    // Re-delegating targets/releases to the trusted key does not make the file the old key
    // signed count as the trusted key's: it no longer counts at all.
    let targets = targets_file(
        2,
        json!({"latest": target(&digest, manifest.len())}),
        delegate(&trusted),
        &[&publisher],
    );
    let (status, body) = collection.post(&[("targets", &targets)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "v1").await,
        StatusCode::FORBIDDEN
    );
    let v1 = app
        .json(&format!("/api/v1/repositories/{repo}/tags/v1"))
        .await;
    assert_eq!(v1["summary"]["signatures"], json!([]), "{v1}");

    // What the trusted key itself signs counts.
    let releases = targets_file(
        2,
        json!({"v1": target(&release_digest, release_manifest.len())}),
        Value::Null,
        &[&trusted],
    );
    let (status, body) = collection.post(&[("targets/releases", &releases)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        manifest_status(&app, Method::GET, &repo, "v1").await,
        StatusCode::OK
    );
}

/// A repository has exactly one trust collection, under Berth's own GUN. A GUN naming another
/// host (`evil:1/acmeco/app`) is no collection of Berth's: reading or publishing under it
/// answers 404, so nobody with push rights can set up a second, rogue collection that would
/// make a tag show as signed.
#[tokio::test]
async fn only_berths_own_gun_names_a_collection() {
    let app = TestApp::start().await;
    app.push_image("admin1/app", "v1", b"layer").await;
    for gun in ["evil:1/admin1/app", "other.example.com/admin1/app"] {
        for path in ["timestamp.key", "root.json", ""] {
            let r = app.get(&format!("/v2/{gun}/_trust/tuf/{path}")).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{gun} {path}");
        }
        let rogue = Collection {
            app: &app,
            gun: gun.to_owned(),
            root_key: TufKey::root(gun),
            timestamp: ("t".into(), json!({})),
            snapshot: ("s".into(), json!({})),
        };
        let root = rogue.root(1, &[], 1);
        let (status, body) = rogue.post(&[("root", &root)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{gun}: {body}");
    }
    // The collection under Berth's own GUN answers.
    let own = format!("{}/admin1/app", app.host());
    let r = app
        .get(&format!("/v2/{own}/_trust/tuf/timestamp.key"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}
