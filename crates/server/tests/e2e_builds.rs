#![cfg(feature = "e2e")]
//! Automated builds end to end: a git repository served on loopback, push events sent as Gitea
//! and GitHub send them, builds on the private Docker daemon that `scripts/test` starts, and the
//! images pulled and run with the real `docker` CLI.

use std::sync::Arc;
use std::time::Duration;

use berth_webhooks::guard::Allowlist;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common;
use common::docker::Docker;
use common::git::{gitea_push, github_push, GitRepo, GitServer, NO_COMMIT};
use common::receiver::Receiver;
use common::*;

fn docker_host() -> String {
    std::env::var("BERTH_TEST_DOCKER_HOST")
        .expect("BERTH_TEST_DOCKER_HOST names the private Docker daemon (scripts/test sets it)")
}

/// A Berth whose builds run on the private Docker daemon, reading sources and sending
/// webhooks on loopback.
async fn builds_app() -> TestApp {
    TestApp::start_with(|c| {
        c.builds.docker_host = Some(docker_host());
        c.builds.allowed_sources = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
        c.webhooks.allowed_targets = Arc::new(Allowlist::parse("127.0.0.1/32").expect("allowlist"));
        c.webhooks.retry_base = Duration::from_millis(50);
    })
    .await
}

/// The files that make a `FROM scratch` image runnable: `/bin/cat` and the libraries it loads
/// (as `ldd` names them), copied into `dir`; returns the Dockerfile lines that copy them in.
fn runnable(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("ldd")
        .arg("/bin/cat")
        .output()
        .expect("ldd");
    let mut files = vec!["/bin/cat".to_owned()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push(p.to_owned());
        }
    }
    let mut lines = String::new();
    for (i, file) in files.iter().enumerate() {
        let name = format!("rootfs{i}");
        let target = dir.join(&name);
        std::fs::copy(file, &target).expect("copy a runnable file");
        lines.push_str(&format!("COPY {name} {file}\n"));
    }
    lines
}

async fn create_repository(app: &TestApp, name: &str) {
    let r = app
        .client
        .post(app.url("/api/v1/repositories"))
        .json(&json!({"namespace": ADMIN, "name": name}))
        .send()
        .await
        .expect("create repository");
    assert_eq!(r.status(), StatusCode::CREATED, "create {name}");
}

/// Links `repo` to `source` with `body`'s extra fields; returns the source as the API shows it.
async fn link(app: &TestApp, repo: &str, source: &GitRepo, extra: Value) -> Value {
    let mut body = json!({"url": source.url()});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = app
        .client
        .put(app.url(&format!("/api/v1/repositories/{repo}/build-source")))
        .json(&body)
        .send()
        .await
        .expect("link a source");
    let status = r.status();
    let v: Value = r.json().await.expect("source JSON");
    assert_eq!(status, StatusCode::CREATED, "link: {v}");
    v
}

/// Sends a push event to the source's push-event URL; returns the answer.
async fn send(app: &TestApp, source: &Value, request: (Vec<(String, String)>, Vec<u8>)) -> Value {
    let (headers, body) = request;
    let mut req = app
        .anonymous
        .post(source["push_url"].as_str().expect("push_url"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let r = req.body(body).send().await.expect("push event");
    let status = r.status();
    let v: Value = r.json().await.expect("push event answer");
    assert_eq!(status, StatusCode::OK, "push event: {v}");
    v
}

/// Waits until build `id` of `repo` has finished; returns it.
async fn finished(app: &TestApp, repo: &str, id: i64) -> Value {
    for _ in 0..600 {
        let b = app
            .json(&format!("/api/v1/repositories/{repo}/builds/{id}"))
            .await;
        if ["success", "failed", "cancelled"].contains(&b["status"].as_str().unwrap_or("")) {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("build {id} of {repo} did not finish in 2 minutes");
}

async fn log_of(app: &TestApp, repo: &str, id: i64) -> String {
    app.client
        .get(app.url(&format!("/api/v1/repositories/{repo}/builds/{id}/log")))
        .send()
        .await
        .expect("log")
        .text()
        .await
        .expect("log text")
}

fn only_build(answer: &Value) -> i64 {
    let builds = answer["builds"].as_array().expect("builds queued");
    assert_eq!(builds.len(), 1, "one build queued: {answer}");
    assert_eq!(builds[0]["status"], "queued");
    builds[0]["id"].as_i64().expect("build id")
}

#[tokio::test]
async fn e2e_builds_push_events_build_and_publish_what_the_rules_say() {
    let app = builds_app().await;
    let git = GitServer::start().await;
    let source = git.create("app");
    let lines = runnable(source.work_tree());
    let dockerfile =
        format!("FROM scratch\n{lines}COPY message.txt /message.txt\nCMD [\"/bin/cat\", \"/message.txt\"]\n");
    let first = source.commit(
        &[
            ("Dockerfile", &dockerfile),
            ("message.txt", "built from the first commit\n"),
        ],
        "first",
    );
    let repo = format!("{ADMIN}/app");
    create_repository(&app, "app").await;
    let linked = link(
        &app,
        &repo,
        &source,
        json!({"rules": [
            {"source_type": "branch", "source": "main", "tag": "latest"},
            {"source_type": "tag", "source": "/^v([0-9.]+)$/", "tag": "{\\1}"},
        ]}),
    )
    .await;
    assert_eq!(linked["scheme"], "git");
    let secret = linked["push_secret"].as_str().expect("secret").to_owned();
    let hooks = Receiver::start().await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/repositories/{repo}/webhooks")))
        .json(&json!({"name": "builds", "url": hooks.url("/builds"), "events": ["build"]}))
        .send()
        .await
        .expect("webhook");
    assert_eq!(r.status(), StatusCode::CREATED);

    // A wrong signature queues nothing.
    let (headers, body) = gitea_push(
        "not the secret",
        "refs/heads/main",
        NO_COMMIT,
        &first,
        &source.url(),
    );
    let mut req = app
        .anonymous
        .post(linked["push_url"].as_str().expect("url"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let r = req.body(body).send().await.expect("forged push");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a forged push event is refused"
    );

    // Gitea says main moved: latest is built from that very commit.
    let second = source.commit(
        &[("message.txt", "built from the second commit\n")],
        "second",
    );
    let answer = send(
        &app,
        &linked,
        gitea_push(&secret, "refs/heads/main", &first, &second, &source.url()),
    )
    .await;
    let id = only_build(&answer);
    let build = finished(&app, &repo, id).await;
    let log = log_of(&app, &repo, id).await;
    assert_eq!(build["status"], "success", "build: {build}\nlog:\n{log}");
    assert_eq!(build["commit"], second.as_str());
    assert_eq!(build["trigger"], "push");
    assert_eq!(build["tags"], json!(["latest"]));
    assert!(
        log.contains("Step 1/"),
        "the log shows the build's steps:\n{log}"
    );

    let mut docker = Docker::new();
    docker.login(&app).await;
    let image = format!("{}/{repo}:latest", app.host());
    docker.remember(&image);
    docker.ok(&["pull", &image]).await;
    let ran = docker
        .ok(&["run", "--rm", "--network", "none", &image])
        .await;
    assert_eq!(
        ran.trim(),
        "built from the second commit",
        "the image holds the pushed commit"
    );
    let digests = docker.repo_digests(&image).await;
    assert!(
        digests
            .iter()
            .any(|d| d.ends_with(build["digest"].as_str().unwrap_or("?"))),
        "the build records the digest docker pulls: {digests:?} vs {build}"
    );

    // GitHub says tag v1.2.3 was pushed: the tag rule builds it as 1.2.3.
    let tagged = source.tag("v1.2.3", true);
    let answer = send(
        &app,
        &linked,
        github_push(
            &secret,
            "refs/tags/v1.2.3",
            NO_COMMIT,
            &tagged,
            &source.url(),
        ),
    )
    .await;
    let id = only_build(&answer);
    let build = finished(&app, &repo, id).await;
    assert_eq!(build["status"], "success", "tag build: {build}");
    assert_eq!(build["tags"], json!(["1.2.3"]));
    let tags = app.json(&format!("/v2/{repo}/tags/list")).await;
    assert_eq!(tags["tags"], json!(["1.2.3", "latest"]));

    // The webhook heard both builds queued and succeeded, signed like every delivery.
    let got = hooks.wait_for(4, 30).await;
    let events: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "build_success").count(),
        2,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "build_queued").count(),
        2,
        "{events:?}"
    );
    let success = got
        .iter()
        .map(|r| r.json())
        .find(|v| v["event"] == "build_success")
        .expect("a build_success");
    assert_eq!(success["repository"]["repo_name"], repo.as_str());
    assert!(success["build_data"]["digest"]
        .as_str()
        .unwrap_or("")
        .starts_with("sha256:"));
    hooks.stop().await;
}

#[tokio::test]
async fn e2e_builds_a_failing_dockerfile_shows_its_line_and_fires_build_failure() {
    let app = builds_app().await;
    let git = GitServer::start().await;
    let source = git.create("broken");
    let commit = source.commit(
        &[
            (
                "Dockerfile",
                "FROM scratch\nCOPY present.txt /present.txt\nCOPY missing.txt /missing.txt\n",
            ),
            ("present.txt", "here\n"),
        ],
        "broken",
    );
    let repo = format!("{ADMIN}/broken");
    create_repository(&app, "broken").await;
    let linked = link(&app, &repo, &source, json!({})).await;
    let hooks = Receiver::start().await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/repositories/{repo}/webhooks")))
        .json(&json!({"name": "builds", "url": hooks.url("/b"), "events": ["build"]}))
        .send()
        .await
        .expect("webhook");
    assert_eq!(r.status(), StatusCode::CREATED);
    let secret = linked["push_secret"].as_str().expect("secret");
    let answer = send(
        &app,
        &linked,
        gitea_push(secret, "refs/heads/main", NO_COMMIT, &commit, &source.url()),
    )
    .await;
    let id = only_build(&answer);
    let build = finished(&app, &repo, id).await;
    assert_eq!(build["status"], "failed");
    let error = build["error"].as_str().unwrap_or("");
    assert!(
        error.contains("missing.txt"),
        "the error names what failed: {error}"
    );
    let log = log_of(&app, &repo, id).await;
    assert!(
        log.contains("Step 3/3 : COPY missing.txt /missing.txt"),
        "the log shows the failing line:\n{log}"
    );
    let page = app
        .anonymous
        .get(app.url(&format!("/r/{repo}/builds/{id}")))
        .send()
        .await
        .expect("build page")
        .text()
        .await
        .expect("build page text");
    assert!(
        page.contains("Step 3/3 : COPY missing.txt /missing.txt"),
        "the build page shows the failing line"
    );
    let tags = app
        .client
        .get(app.url(&format!("/v2/{repo}/tags/list")))
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.status(), StatusCode::NOT_FOUND, "nothing was pushed");

    let got = hooks.wait_for(2, 30).await;
    let failure = got
        .iter()
        .map(|r| r.json())
        .find(|v| v["event"] == "build_failure")
        .unwrap_or_else(|| {
            panic!(
                "a build_failure delivery: {:?}",
                got.iter().map(|r| r.json()).collect::<Vec<_>>()
            )
        });
    assert_eq!(failure["build_data"]["status"], "failed");
    assert!(failure["build_data"]["error"]
        .as_str()
        .unwrap_or("")
        .contains("missing.txt"));
    hooks.stop().await;
}

#[tokio::test]
async fn e2e_builds_a_push_of_the_base_image_rebuilds_what_was_built_from_it() {
    let app = builds_app().await;
    let git = GitServer::start().await;
    let mut docker = Docker::new();
    docker.login(&app).await;
    let host = app.host();

    // The base image, pushed with docker: cat and its libraries, and a greeting.
    let base_ctx = tempfile::tempdir().expect("base context");
    let lines = runnable(base_ctx.path());
    std::fs::write(base_ctx.path().join("greeting.txt"), "base one\n").expect("write");
    std::fs::write(
        base_ctx.path().join("Dockerfile"),
        format!("FROM scratch\n{lines}COPY greeting.txt /greeting.txt\n"),
    )
    .expect("write");
    let base = format!("{host}/{ADMIN}/base:latest");
    docker.build(base_ctx.path(), &base).await;
    docker.ok(&["push", &base]).await;

    let source = git.create("derived");
    source.commit(
        &[(
            "Dockerfile",
            &format!("FROM {host}/{ADMIN}/base:latest\nCMD [\"/bin/cat\", \"/greeting.txt\"]\n"),
        )],
        "derived",
    );
    let repo = format!("{ADMIN}/derived");
    create_repository(&app, "derived").await;
    link(&app, &repo, &source, json!({"base_rebuild": true})).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/repositories/{repo}/builds")))
        .json(&json!({"ref": "main"}))
        .send()
        .await
        .expect("build now");
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = only_build(&r.json().await.expect("JSON"));
    let first = finished(&app, &repo, id).await;
    assert_eq!(
        first["status"],
        "success",
        "{first}\n{}",
        log_of(&app, &repo, id).await
    );
    assert_eq!(first["trigger"], "manual");

    // A new base is pushed: the derived image is rebuilt on it.
    std::fs::write(base_ctx.path().join("greeting.txt"), "base two\n").expect("write");
    docker.build(base_ctx.path(), &base).await;
    docker.ok(&["push", &base]).await;
    let mut rebuilt = None;
    for _ in 0..100 {
        let list = app
            .json(&format!("/api/v1/repositories/{repo}/builds"))
            .await;
        if let Some(b) = list["results"]
            .as_array()
            .and_then(|r| r.iter().find(|b| b["trigger"] == "base_image"))
        {
            rebuilt = b["id"].as_i64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rebuilt = rebuilt.expect("a push of the base queues a rebuild");
    let b = finished(&app, &repo, rebuilt).await;
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["triggered_by"], format!("{ADMIN}/base:latest"));
    let image = format!("{host}/{repo}:latest");
    docker.remember(&image);
    docker.ok(&["pull", &image]).await;
    let ran = docker
        .ok(&["run", "--rm", "--network", "none", &image])
        .await;
    assert_eq!(ran.trim(), "base two", "the rebuild is FROM the new base");
}

/// A build whose server is killed (-9) mid-build is failed with the reason when a server runs
/// again, and the build queued behind it runs.
#[tokio::test]
async fn e2e_builds_a_build_killed_with_its_server_fails_and_the_queue_goes_on() {
    use common::binary::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path()).await;
    create_admin(dir.path(), db.as_deref());
    std::fs::write(
        dir.path().join("berth.toml"),
        "[builds]\nallowed_sources = [\"127.0.0.1/32\"]\n",
    )
    .expect("berth.toml");
    let host = docker_host();
    let env = [("BERTH_BUILDS_DOCKER_HOST", host.as_str())];
    let port = free_port();
    let berth = start_with_env(dir.path(), db.as_deref(), port, &env).await;
    let client = authed_client();
    let base = berth.base.clone();

    // A git server that accepts the connection and never says a word: that clone hangs until
    // its server dies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("git://{}/stuck.git", silent.local_addr().expect("addr"));
    let git = GitServer::start().await;
    let next = git.create("next");
    next.commit(
        &[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n"),
            ("a.txt", "a\n"),
        ],
        "next",
    );

    for (name, url) in [
        ("stuck", silent_url.as_str()),
        ("next", next.url().as_str()),
    ] {
        let r = client
            .post(format!("{base}/api/v1/repositories"))
            .json(&json!({"namespace": ROOT, "name": name}))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = client
            .put(format!(
                "{base}/api/v1/repositories/{ROOT}/{name}/build-source"
            ))
            .json(&json!({"url": url}))
            .send()
            .await
            .expect("link");
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    }
    let build_now = |name: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let r = client
                .post(format!("{base}/api/v1/repositories/{ROOT}/{name}/builds"))
                .json(&json!({"ref": "main"}))
                .send()
                .await
                .expect("build now");
            assert_eq!(r.status(), StatusCode::CREATED);
            only_build(&r.json().await.expect("JSON"))
        }
    };
    let status = |name: &'static str, id: i64| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let v: Value = client
                .get(format!(
                    "{base}/api/v1/repositories/{ROOT}/{name}/builds/{id}"
                ))
                .send()
                .await
                .expect("build")
                .json()
                .await
                .expect("JSON");
            v
        }
    };
    let stuck = build_now("stuck").await;
    let mut cloning = false;
    for _ in 0..100 {
        if status("stuck", stuck).await["status"] == "cloning" {
            cloning = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cloning, "the first build is cloning");
    let queued = build_now("next").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status("next", queued).await["status"],
        "queued",
        "one build at a time: the second waits"
    );
    berth.kill();

    let berth = start_with_env(dir.path(), db.as_deref(), port, &env).await;
    let mut last = (Value::Null, Value::Null);
    for _ in 0..300 {
        last = (status("stuck", stuck).await, status("next", queued).await);
        if last.0["status"] == "failed" && last.1["status"] == "success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last.0["status"], "failed", "{}", last.0);
    assert!(
        last.0["error"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted"),
        "the reason is recorded: {}",
        last.0
    );
    assert_eq!(last.1["status"], "success", "the queue went on: {}", last.1);
    drop(silent);
    berth.kill();
}
