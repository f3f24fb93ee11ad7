//! The loopback git server the build tests use (`common::git`): real repositories behind
//! `git daemon`, cloned and fetched by commit id with the `git` CLI as a build would, and the
//! push requests of Gitea and GitHub, signed as they sign them.

use crate::common;

use std::net::TcpStream;

use common::git::{self, run_git, GitServer, NO_COMMIT};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

fn is_commit_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn a_repository_is_cloned_and_an_older_commit_fetched_by_its_id() {
    let server = GitServer::start().await;
    let repo = server.create("acme/app");
    assert_eq!(
        repo.url(),
        format!("git://127.0.0.1:{}/acme/app.git", server.port)
    );
    let first = repo.commit(
        &[
            ("Dockerfile", "FROM scratch\nCOPY hello.txt /\n"),
            ("src/hello.txt", "one\n"),
        ],
        "first",
    );
    let second = repo.commit(&[("src/hello.txt", "two\n")], "second");
    assert!(
        is_commit_id(&first) && is_commit_id(&second),
        "{first} {second}"
    );
    assert_ne!(first, second);
    assert_eq!(repo.tag("v1.0", true), second, "a tag names the commit");
    assert_eq!(repo.tag("latest-light", false), second);

    let out = tempfile::tempdir().expect("tempdir");
    let clone = out.path().join("clone");
    let clone_path = clone.to_str().expect("utf-8 path");
    run_git(out.path(), &["clone", "--quiet", &repo.url(), clone_path]);
    assert_eq!(
        std::fs::read_to_string(clone.join("src/hello.txt")).expect("cloned file"),
        "two\n"
    );
    assert!(clone.join("Dockerfile").is_file());
    assert_eq!(run_git(&clone, &["rev-parse", "HEAD"]), second);
    assert_eq!(
        run_git(&clone, &["symbolic-ref", "--short", "HEAD"]),
        "main"
    );
    assert_eq!(run_git(&clone, &["cat-file", "-t", "v1.0"]), "tag");
    assert_eq!(
        run_git(&clone, &["cat-file", "-t", "latest-light"]),
        "commit"
    );
    assert_eq!(run_git(&clone, &["rev-parse", "v1.0^{commit}"]), second);

    // A build checks out exactly the commit it was told of, not the branch's newest.
    let shallow = out.path().join("shallow");
    std::fs::create_dir(&shallow).expect("mkdir");
    run_git(&shallow, &["init", "--quiet"]);
    run_git(
        &shallow,
        &["fetch", "--quiet", "--depth", "1", &repo.url(), &first],
    );
    assert_eq!(run_git(&shallow, &["rev-parse", "FETCH_HEAD"]), first);
    assert_eq!(
        run_git(&shallow, &["rev-list", "--count", "FETCH_HEAD"]),
        "1",
        "only the one commit came"
    );
    run_git(&shallow, &["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
    assert_eq!(
        std::fs::read_to_string(shallow.join("src/hello.txt")).expect("fetched file"),
        "one\n"
    );
    // Protocol v0 clients may ask for a commit no ref points at only when the server says so.
    let v0 = out.path().join("v0");
    std::fs::create_dir(&v0).expect("mkdir");
    run_git(&v0, &["init", "--quiet"]);
    run_git(
        &v0,
        &[
            "-c",
            "protocol.version=0",
            "fetch",
            "--quiet",
            "--depth",
            "1",
            &repo.url(),
            &first,
        ],
    );
    assert_eq!(run_git(&v0, &["rev-parse", "FETCH_HEAD"]), first);

    // Gone when dropped.
    let port = server.port;
    drop(server);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

fn verifies(secret: &str, body: &[u8], hex_signature: &str) -> bool {
    let Ok(signature) = hex::decode(hex_signature) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
}

const AFTER: &str = "8c3f1e0f5bb52a2cb4b0f6d1a4f7b4f4c0b7e6d1";
const BEFORE: &str = "1b2e6f8a9c0d4e5f60718293a4b5c6d7e8f90a1b";

#[test]
fn a_gitea_push_is_signed_and_shaped_as_gitea_sends_it() {
    let url = "git://127.0.0.1:9418/acme/app.git";
    let (headers, body) = git::gitea_push("hook secret", "refs/heads/main", BEFORE, AFTER, url);
    assert_eq!(header(&headers, "Content-Type"), "application/json");
    for host in ["Gitea", "Gogs", "GitHub"] {
        assert_eq!(header(&headers, &format!("X-{host}-Event")), "push");
    }
    let delivery = header(&headers, "X-Gitea-Delivery");
    assert!(uuid::Uuid::parse_str(delivery).is_ok(), "{delivery}");
    assert_eq!(header(&headers, "X-Gogs-Delivery"), delivery);
    let signature = header(&headers, "X-Gitea-Signature");
    assert!(verifies("hook secret", &body, signature));
    assert!(!verifies("another secret", &body, signature));
    assert_eq!(header(&headers, "X-Gogs-Signature"), signature);
    assert_eq!(
        header(&headers, "X-Hub-Signature-256"),
        format!("sha256={signature}")
    );

    let v: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(v["ref"], "refs/heads/main");
    assert_eq!(v["before"], BEFORE);
    assert_eq!(v["after"], AFTER);
    assert_eq!(v["head_commit"]["id"], AFTER);
    assert_eq!(v["commits"][0]["id"], AFTER);
    assert_eq!(v["total_commits"], 1);
    assert!(v["compare_url"].as_str().is_some_and(|u| u.contains(AFTER)));
    assert_eq!(v["repository"]["clone_url"], url);
    assert_eq!(v["repository"]["full_name"], "acme/app");
    assert_eq!(v["repository"]["name"], "app");
    assert_eq!(v["repository"]["ssh_url"], "git@127.0.0.1:acme/app.git");
    assert_eq!(v["pusher"]["login"], "acme");
    assert_eq!(v["sender"]["username"], "acme");

    let (_, gone) = git::gitea_push("s", "refs/heads/old", AFTER, NO_COMMIT, url);
    let gone: Value = serde_json::from_slice(&gone).expect("JSON body");
    assert_eq!(gone["head_commit"], Value::Null);
    assert_eq!(gone["commits"], serde_json::json!([]));
}

#[test]
fn a_github_push_is_signed_and_shaped_as_github_sends_it() {
    let url = "git://127.0.0.1:9418/app.git";
    let (headers, body) = git::github_push("hub secret", "refs/tags/v1.0", NO_COMMIT, AFTER, url);
    assert_eq!(header(&headers, "Content-Type"), "application/json");
    assert_eq!(header(&headers, "X-GitHub-Event"), "push");
    assert!(uuid::Uuid::parse_str(header(&headers, "X-GitHub-Delivery")).is_ok());
    let signature = header(&headers, "X-Hub-Signature-256");
    let hex_signature = signature.strip_prefix("sha256=").expect("sha256= prefix");
    assert!(verifies("hub secret", &body, hex_signature));
    assert!(!verifies("hub secret", b"{}", hex_signature));

    let v: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(v["ref"], "refs/tags/v1.0");
    assert_eq!(v["after"], AFTER);
    assert_eq!(v["created"], true, "the tag is new");
    assert_eq!(v["deleted"], false);
    assert_eq!(v["head_commit"]["id"], AFTER);
    assert_eq!(v["repository"]["clone_url"], url);
    assert_eq!(v["repository"]["full_name"], "tests/app");
    assert!(v["compare"]
        .as_str()
        .is_some_and(|u| u.ends_with("/compare/v1.0")));
    assert!(v["pusher"]["name"].is_string() && v["sender"]["login"].is_string());

    let (_, gone) = git::github_push("s", "refs/heads/old", BEFORE, NO_COMMIT, url);
    let gone: Value = serde_json::from_slice(&gone).expect("JSON body");
    assert_eq!(gone["deleted"], true);
    assert_eq!(gone["created"], false);
    assert_eq!(gone["head_commit"], Value::Null);
}
