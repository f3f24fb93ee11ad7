#![cfg(feature = "e2e")]
//! Scale-out, end to end: blobs on a three-node Garage cluster (S3), several `berth serve`
//! replicas on one PostgreSQL behind nginx with no stickiness, replicas and storage nodes that
//! die mid-work, and pulls redirected to presigned storage URLs. Replicas need PostgreSQL; on
//! SQLite the replica tests say so and pass without running.

use crate::common;

use std::path::Path;
use std::time::Duration;

use berth::config::StorageConfig;
use berth_registry::digest::{Algorithm, Digest};
use berth_registry::storage::{BlobStore, S3Store};
use common::binary::{self, Berth};
use common::docker::{build_context, Docker};
use common::garage::Garage;
use common::nginx::{Balance, Nginx};
use common::skopeo::*;
use common::*;
use futures::StreamExt;
use reqwest::StatusCode;

#[tokio::test]
async fn the_s3_store_passes_the_blob_store_suite() {
    let garage = Garage::new();
    let store = S3Store::open(&garage.settings()).expect("S3 settings");
    store.check().await.expect("the bucket answers");
    berth_registry::storage::suite::run(&store).await;
}

/// Every blob in the store hashes to its name: nothing half-written or lying is there.
async fn assert_store_honest(store: &S3Store) {
    let blobs = store.list_blobs().await.expect("list blobs");
    assert!(!blobs.is_empty(), "the blobs are in the bucket");
    for listed in blobs {
        let digest: Digest = listed.name.parse().expect("digest");
        let mut hasher = berth_registry::digest::Hasher::new(Algorithm::Sha256);
        let mut body = store
            .read(&digest, 0..listed.size)
            .await
            .expect("read blob");
        while let Some(chunk) = body.next().await {
            hasher.update(&chunk.expect("blob bytes"));
        }
        assert_eq!(hasher.finish(), digest, "stored blob {digest} is intact");
    }
}

/// Replicas of one Berth: one PostgreSQL database, one bucket prefix and one shared secrets
/// directory; each has a data directory and a port of its own.
struct Replicas {
    dir: tempfile::TempDir,
    database_url: String,
    garage: Garage,
    settings: berth_registry::storage::S3Settings,
    ports: Vec<u16>,
}

impl Replicas {
    /// `None` on SQLite, where replicas are not a deployment Berth supports.
    async fn new(count: usize) -> Option<Replicas> {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(database_url) = binary::database(dir.path()).await else {
            eprintln!("replicas share a PostgreSQL database; nothing to test on SQLite");
            return None;
        };
        binary::create_admin(dir.path(), Some(&database_url));
        let garage = Garage::new();
        let settings = garage.settings();
        std::fs::write(
            dir.path().join("berth.toml"),
            format!("[storage]\nprefix = \"{}\"\n", settings.prefix),
        )
        .expect("write berth.toml");
        let ports = (0..count).map(|_| binary::free_port()).collect();
        Some(Replicas {
            dir,
            database_url,
            garage,
            settings,
            ports,
        })
    }

    /// Starts replica `i`, telling it clients reach Berth at `public`.
    async fn start(&self, i: usize, public: &str) -> Berth {
        let mut env: Vec<(String, String)> = self.garage.serve_env();
        env.push(("BERTH_PUBLIC_URL".into(), public.to_owned()));
        let data = self.dir.path().join(format!("replica{i}"));
        env.push(("BERTH_DATA_DIR".into(), data.display().to_string()));
        let secrets = self.dir.path().join("secrets");
        env.push(("BERTH_SECRETS_DIR".into(), secrets.display().to_string()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        binary::start_with_log(
            self.dir.path(),
            Some(&self.database_url),
            self.ports[i],
            &env,
            &self.dir.path().join(format!("replica{i}.log")),
        )
        .await
    }

    fn store(&self) -> S3Store {
        S3Store::open(&self.settings).expect("S3 settings")
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An image of `layers` files of random bytes, `FROM scratch`; returns its tag's image id.
async fn build_image(docker: &mut Docker, tag: &str, layers: &[usize]) -> String {
    let mut dockerfile = String::from("FROM scratch\n");
    for (i, _) in layers.iter().enumerate() {
        dockerfile.push_str(&format!("COPY layer{i} /layer{i}\n"));
    }
    let ctx = build_context(&dockerfile, &[]);
    for (i, size) in layers.iter().enumerate() {
        std::fs::write(ctx.path().join(format!("layer{i}")), random_bytes(*size))
            .expect("write layer file");
    }
    docker.build(ctx.path(), tag).await
}

async fn get_status(client: &reqwest::Client, url: &str) -> StatusCode {
    client.get(url).send().await.expect("request").status()
}

#[tokio::test]
async fn two_replicas_behind_nginx_serve_as_one_registry() {
    let Some(replicas) = Replicas::new(2).await else {
        return;
    };
    let nginx = Nginx::start(replicas.path(), &replicas.ports, Balance::RoundRobin);
    let _a = replicas.start(0, &nginx.base()).await;
    let _b = replicas.start(1, &nginx.base()).await;
    let direct: Vec<String> = replicas
        .ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = binary::authed_client();

    // A chunked upload whose requests alternate between the replicas: started on A, a chunk on
    // B, a chunk on A, finished (with a last chunk) on B.
    let blob = random_bytes(13 << 20);
    let (one, rest) = blob.split_at(6 << 20);
    let (two, three) = rest.split_at(5 << 20);
    let r = client
        .post(format!("{}/v2/root1/chunked/blobs/uploads/", direct[0]))
        .send()
        .await
        .expect("start upload");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let path = location(&r);
    let mut offset = 0;
    for (i, chunk) in [one, two].into_iter().enumerate() {
        let replica = &direct[(i + 1) % 2];
        let r = client
            .patch(format!("{replica}{path}"))
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                format!("{offset}-{}", offset + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .expect("patch");
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "chunk {i} on replica {}",
            (i + 1) % 2
        );
        offset += chunk.len();
        assert_eq!(header(&r, "Range"), format!("0-{}", offset - 1));
    }
    let digest = sha256(&blob);
    let r = client
        .put(format!("{}{}", direct[1], with_digest(&path, &digest)))
        .header("Content-Type", "application/octet-stream")
        .header(
            "Content-Range",
            format!("{offset}-{}", offset + three.len() - 1),
        )
        .body(three.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::CREATED, "the upload completes on B");
    for base in &direct {
        let got = client
            .get(format!("{base}/v2/root1/chunked/blobs/{digest}"))
            .send()
            .await
            .expect("pull");
        assert_eq!(got.status(), StatusCode::OK);
        let bytes = got.bytes().await.expect("body");
        assert!(sha256(&bytes) == digest, "{base} serves the blob whole");
    }

    // docker push through nginx, then pull it back through nginx.
    let mut docker = Docker::new();
    let login = docker
        .login_stdin(&nginx.host(), binary::ROOT, binary::ROOT_PASSWORD)
        .await;
    assert!(login.status.success(), "{}", login.stderr_text());
    let tag = format!("{}/root1/app:1", nginx.host());
    let id = build_image(&mut docker, &tag, &[3 << 20, 2 << 20, 1 << 20]).await;
    docker.ok(&["push", &tag]).await;
    let log = nginx.access_log();
    for port in &replicas.ports {
        assert!(
            log.lines()
                .any(|l| l.starts_with(&format!("127.0.0.1:{port} ")) && l.contains("/blobs/")),
            "replica on {port} took part in the push:\n{log}"
        );
    }
    // Every layer is served by each replica.
    let manifest: serde_json::Value = client
        .get(format!("{}/v2/root1/app/manifests/1", direct[0]))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("manifest JSON");
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 3);
    for layer in layers {
        let d = layer["digest"].as_str().expect("digest");
        for base in &direct {
            let status = get_status(&client, &format!("{base}/v2/root1/app/blobs/{d}")).await;
            assert_eq!(status, StatusCode::OK, "{base} serves layer {d}");
        }
    }
    docker.ok(&["rmi", &tag]).await;
    docker.ok(&["pull", &tag]).await;
    assert_eq!(
        docker.image_id(&tag).await,
        id,
        "the pulled image is the pushed one"
    );

    // skopeo copies a two-platform index through nginx; each replica serves it.
    let skopeo = Skopeo::new();
    let mut layout = Layout::new();
    let amd64 = layout.add_image("amd64", &[300 * 1024]);
    let arm64 = layout.add_image("arm64", &[200 * 1024 + 7]);
    let index = layout.add_index(&[("amd64", &amd64), ("arm64", &arm64)]);
    layout.set_ref("v1", OCI_INDEX, &index);
    skopeo
        .ok(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{}:{}", binary::ROOT, binary::ROOT_PASSWORD),
            &format!("oci:{}:v1", path_str(layout.path())),
            &format!("docker://{}/root1/multi:v1", nginx.host()),
        ])
        .await;
    for base in &direct {
        let served = client
            .get(format!("{base}/v2/root1/multi/manifests/v1"))
            .header("Accept", OCI_INDEX)
            .send()
            .await
            .expect("index")
            .bytes()
            .await
            .expect("index body");
        assert!(served == index.bytes, "{base} serves the index as written");
        for image in [&amd64, &arm64] {
            let status = get_status(
                &client,
                &format!("{base}/v2/root1/multi/manifests/{}", image.manifest.digest),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    assert_store_honest(&replicas.store()).await;
}

/// Waits until some upload session is being written to (claimed in its row).
async fn wait_for_a_write(database_url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url)
        .await
        .expect("database");
    for _ in 0..2000 {
        let writing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE lease_owner IS NOT NULL")
                .fetch_one(&pool)
                .await
                .expect("count uploads");
        if writing > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no upload was ever written to");
}

#[tokio::test]
async fn a_replica_killed_mid_push_loses_nothing_and_the_retry_completes() {
    let Some(replicas) = Replicas::new(2).await else {
        return;
    };
    // Everything goes to A until A fails: the push is under way on A when A dies.
    let nginx = Nginx::start(replicas.path(), &replicas.ports, Balance::Failover);
    let a = replicas.start(0, &nginx.base()).await;
    let _b = replicas.start(1, &nginx.base()).await;
    let mut docker = Docker::new();
    let login = docker
        .login_stdin(&nginx.host(), binary::ROOT, binary::ROOT_PASSWORD)
        .await;
    assert!(login.status.success(), "{}", login.stderr_text());
    let tag = format!("{}/root1/big:1", nginx.host());
    let id = build_image(&mut docker, &tag, &[256 << 20]).await;

    let push = docker.command(&["push", &tag]);
    let pushing = tokio::spawn(run_command(push));
    wait_for_a_write(&replicas.database_url).await;
    a.kill();
    let out = pushing.await.expect("push task");
    assert!(
        out.status.success(),
        "the push completes on the other replica:\n{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    assert!(
        nginx
            .access_log()
            .lines()
            .any(|l| l.starts_with(&format!("127.0.0.1:{} ", replicas.ports[1]))),
        "the retry went to the other replica"
    );
    docker.ok(&["rmi", &tag]).await;
    docker.ok(&["pull", &tag]).await;
    assert_eq!(docker.image_id(&tag).await, id);
    // What A was writing when it died is not a blob, and never will be.
    assert_store_honest(&replicas.store()).await;
}

async fn s3_app(redirect: bool) -> (TestApp, Garage) {
    let garage = Garage::new();
    let settings = garage.settings();
    let app = TestApp::start_with(move |c| {
        c.storage = StorageConfig::S3(settings);
        c.registry.redirect_pulls = redirect;
    })
    .await;
    (app, garage)
}

#[tokio::test]
async fn pushes_and_pulls_go_on_while_a_storage_node_is_down() {
    let (app, garage) = s3_app(false).await;
    let (before, _) = app
        .push_image("ops/steady", "before", &random_bytes(1 << 20))
        .await;
    garage.stop_node(3);
    let outcome = async {
        let layer = random_bytes(9 << 20);
        let (manifest, _) = app.push_image("ops/steady", "during", &layer).await;
        for (tag, bytes) in [("before", &before), ("during", &manifest)] {
            let r = app.get(&format!("/v2/ops/steady/manifests/{tag}")).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r.bytes().await.expect("body") == **bytes);
        }
        let r = app
            .get(&format!("/v2/ops/steady/blobs/{}", sha256(&layer)))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(sha256(&r.bytes().await.expect("layer")) == sha256(&layer));
    }
    .await;
    garage.start_node(3);
    let () = outcome;
    let layer = random_bytes(2 << 20);
    app.push_image("ops/steady", "after", &layer).await;
    let r = app
        .get(&format!("/v2/ops/steady/blobs/{}", sha256(&layer)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn pulls_are_redirected_to_presigned_storage_urls() {
    let (app, _garage) = s3_app(true).await;
    let layer = random_bytes(3 << 20);
    let digest = sha256(&layer);
    app.push_image("admin1/secret", "1", &layer).await;
    let r = app
        .request(reqwest::Method::PATCH, "/api/v1/repositories/admin1/secret")
        .json(&serde_json::json!({"visibility": "private"}))
        .send()
        .await
        .expect("make private");
    assert!(r.status().is_success(), "{}", r.status());
    let blob = format!("/v2/admin1/secret/blobs/{digest}");

    // curl -I as the owner: a 307 to the store, signed, for 20 minutes.
    let out = run_command_ok({
        let mut c = tokio::process::Command::new("curl");
        c.args(["-sS", "-I", "-u", &format!("{ADMIN}:{}", app.admin_token)])
            .arg(app.url(&blob))
            .args(["-X", "GET"]);
        c
    })
    .await
    .stdout_text();
    assert!(out.starts_with("HTTP/1.1 307"), "{out}");
    let url = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .expect("a Location")
        .trim()
        .to_owned();
    assert!(
        url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=1200"),
        "{url}"
    );
    // curl follows it to the bytes; HEAD is answered by Berth itself.
    let out = run_command_ok({
        let mut c = tokio::process::Command::new("curl");
        c.args(["-sS", "-L", "-u", &format!("{ADMIN}:{}", app.admin_token)])
            .arg(app.url(&blob));
        c
    })
    .await;
    assert!(
        sha256(&out.stdout) == digest,
        "following the redirect gives the blob"
    );
    let head = app.head(&blob).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "Content-Length"), layer.len().to_string());

    // Someone without access gets no URL.
    let r = app
        .anonymous
        .get(app.url(&blob))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("Location").is_none());

    // docker pulls through the redirect.
    let mut docker = Docker::new();
    docker.login(&app).await;
    let tag = format!("{}/admin1/redirected:1", app.host());
    let id = build_image(&mut docker, &tag, &[2 << 20, 1 << 20]).await;
    docker.ok(&["push", &tag]).await;
    docker.ok(&["rmi", &tag]).await;
    docker.ok(&["pull", &tag]).await;
    assert_eq!(docker.image_id(&tag).await, id);
}
