//! Real git repositories served on loopback for the build tests: `git daemon` over a temp dir,
//! repositories committed to with the `git` CLI, and the push requests Gitea and GitHub send
//! about them (signed as those hosts sign them).
//!
//! Every git command runs with [`git`]: no system or global configuration is read and the
//! author is fixed, so the tests behave the same on any machine.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::binary::free_port;

/// Who commits in the test repositories.
pub const AUTHOR_NAME: &str = "Berth Tests";
pub const AUTHOR_EMAIL: &str = "tests@berth.example";
/// Every commit's author and committer date, so commit ids depend only on content.
const COMMIT_DATE: &str = "2024-01-02T03:04:05Z";

/// `git` with `args` in `dir`, reading no system or global configuration and committing as
/// [`AUTHOR_NAME`].
pub fn git(dir: &Path) -> Command {
    hermetic(Command::new("git"), dir)
}

/// `cmd` in `dir`, with the environment [`git`] gives.
fn hermetic(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
        .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
        .env("GIT_AUTHOR_DATE", COMMIT_DATE)
        .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
        .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
        .env("GIT_COMMITTER_DATE", COMMIT_DATE)
        .stdin(Stdio::null());
    cmd
}

/// Runs `git args` in `dir`; panics with what it printed unless it succeeds; returns its
/// standard output, trimmed.
pub fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = git(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `git daemon` on 127.0.0.1 (a free port), serving the bare repositories under a temp dir;
/// killed (and reaped) when dropped. Clients may fetch any commit by its id
/// (`uploadpack.allowReachableSHA1InWant` and `allowAnySHA1InWant`), as a build that checks out
/// one pushed commit does.
pub struct GitServer {
    pub port: u16,
    child: Child,
    /// The daemon's base path: `<name>.git` bare repositories.
    repos: PathBuf,
    /// Work trees the repositories are committed from.
    work: PathBuf,
    dir: tempfile::TempDir,
}

impl GitServer {
    pub async fn start() -> GitServer {
        let dir = tempfile::tempdir().expect("tempdir for git");
        let repos = dir.path().join("repos");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&repos).expect("git base path");
        std::fs::create_dir_all(&work).expect("git work trees");
        let log = dir.path().join("daemon.log");
        // Another process may take the free port before the daemon binds it: try again then.
        for _ in 0..3 {
            let port = free_port();
            let mut child = daemon(dir.path(), &repos, port, &log);
            if listening(&mut child, port).await {
                return GitServer {
                    port,
                    child,
                    repos,
                    work,
                    dir,
                };
            }
            child.kill().ok();
            child.wait().ok();
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("git daemon did not start listening\n--- its log ---\n{log}");
    }

    /// `git://127.0.0.1:<port>/<name>.git`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }

    /// A new bare repository `<name>.git` (`name` may hold slashes, as `acme/app`), and a work
    /// tree on branch `main` to commit to it from.
    pub fn create(&self, name: &str) -> GitRepo {
        let bare = self.repos.join(format!("{name}.git"));
        let work = self.work.join(name);
        std::fs::create_dir_all(&bare).expect("bare repository directory");
        std::fs::create_dir_all(&work).expect("work tree directory");
        run_git(
            &bare,
            &["init", "--quiet", "--bare", "--initial-branch=main"],
        );
        run_git(&work, &["init", "--quiet", "--initial-branch=main"]);
        let bare_path = bare.to_str().expect("utf-8 path");
        run_git(&work, &["remote", "add", "origin", bare_path]);
        GitRepo {
            work,
            url: self.url(name),
        }
    }

    /// The temp dir everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Whether the daemon accepts connections on `port` within 10 s (false if it exited first).
async fn listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Starts `git daemon` on `port`, its log in `log`.
fn daemon(dir: &Path, repos: &Path, port: u16, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("git daemon log");
    let err = log.try_clone().expect("git daemon log");
    let base = repos.to_str().expect("utf-8 path");
    // `git daemon` would run `git-daemon` as a child of its own, which killing `git` would
    // leave behind: run it directly.
    let program = Path::new(&run_git(dir, &["--exec-path"])).join("git-daemon");
    hermetic(Command::new(program), dir)
        .args([
            "--export-all",
            &format!("--base-path={base}"),
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            "--informative-errors",
            base,
        ])
        // The upload-pack the daemon runs for each fetch inherits this configuration.
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "uploadpack.allowReachableSHA1InWant")
        .env("GIT_CONFIG_VALUE_0", "true")
        .env("GIT_CONFIG_KEY_1", "uploadpack.allowAnySHA1InWant")
        .env("GIT_CONFIG_VALUE_1", "true")
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("start git daemon")
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// One repository of a [`GitServer`] and the work tree its commits are made in.
pub struct GitRepo {
    work: PathBuf,
    url: String,
}

impl GitRepo {
    /// Writes `files` (path, contents; directories made as needed), commits everything on
    /// `main` and pushes it; returns the commit id (40 hex).
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, contents) in files {
            let path = self.work.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("directories of a file");
            }
            std::fs::write(&path, contents).expect("write a file to commit");
        }
        run_git(&self.work, &["add", "--all"]);
        run_git(
            &self.work,
            &["commit", "--quiet", "--allow-empty", "--message", message],
        );
        run_git(&self.work, &["push", "--quiet", "origin", "main"]);
        self.head()
    }

    /// Tags HEAD as `name` (an annotated tag when `annotated`) and pushes the tag; returns the
    /// id of the commit it points to.
    pub fn tag(&self, name: &str, annotated: bool) -> String {
        if annotated {
            let message = format!("release {name}");
            run_git(
                &self.work,
                &["tag", "--annotate", "--message", &message, name],
            );
        } else {
            run_git(&self.work, &["tag", name]);
        }
        let refspec = format!("refs/tags/{name}");
        run_git(&self.work, &["push", "--quiet", "origin", &refspec]);
        run_git(&self.work, &["rev-parse", &format!("{refspec}^{{commit}}")])
    }

    /// The commit id of `main` in the work tree.
    pub fn head(&self) -> String {
        run_git(&self.work, &["rev-parse", "HEAD"])
    }

    /// `git://127.0.0.1:<port>/<name>.git`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The work tree.
    pub fn work_tree(&self) -> &Path {
        &self.work
    }
}

// The push requests of git hosts, for a build trigger to receive.

/// The id git uses for "no commit": `before` of a created ref, `after` of a deleted one.
pub const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// Adds the fields of the object `more` to the object `into`.
fn extend(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}

fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// What a payload says about the repository behind `clone_url`: the host (`127.0.0.1:9418`),
/// the owner (the path's second-to-last segment, or `tests`) and the name (`.git` dropped).
struct Origin {
    host: String,
    owner: String,
    name: String,
}

impl Origin {
    fn of(clone_url: &str) -> Origin {
        let rest = clone_url.split_once("://").map_or(clone_url, |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let name = segments
            .pop()
            .unwrap_or("repository")
            .trim_end_matches(".git")
            .to_owned();
        let owner = segments.pop().unwrap_or("tests").to_owned();
        Origin {
            host: host.to_owned(),
            owner,
            name,
        }
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn html_url(&self) -> String {
        format!("http://{}/{}", self.host, self.full_name())
    }

    fn ssh_url(&self) -> String {
        let host = self.host.split(':').next().unwrap_or(&self.host);
        format!("git@{host}:{}.git", self.full_name())
    }
}

/// The headers and body Gitea posts to a webhook for a push of `git_ref` from `before` to
/// `after`, signed with `secret`: `Content-Type: application/json`, `X-Gitea-Event: push`,
/// `X-Gitea-Event-Type`, `X-Gitea-Delivery`, `X-Gitea-Signature` (hex HMAC-SHA256 of the body),
/// the same again as `X-Gogs-*`, `X-GitHub-Event`/`-Event-Type`/`-Delivery` and
/// `X-Hub-Signature-256: sha256=…`, as Gitea sends them (all but `X-Hub-Signature`, its SHA-1
/// form). The body has the fields of Gitea's `PushPayload`: `ref`, `before`, `after`,
/// `compare_url`, `commits`, `total_commits`, `head_commit`, `repository` (with `clone_url`,
/// `ssh_url`, `full_name`), `pusher` and `sender`. A push of a new commit lists it as the one
/// commit; a deletion (`after` = [`NO_COMMIT`]) lists none and has no `head_commit`.
pub fn gitea_push(
    secret: &str,
    git_ref: &str,
    before: &str,
    after: &str,
    clone_url: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    let origin = Origin::of(clone_url);
    let html_url = origin.html_url();
    let user = json!({
        "id": 1,
        "login": origin.owner,
        "login_name": "",
        "source_id": 0,
        "full_name": AUTHOR_NAME,
        "email": AUTHOR_EMAIL,
        "avatar_url": format!("http://{}/avatars/1", origin.host),
        "html_url": format!("http://{}/{}", origin.host, origin.owner),
        "language": "",
        "is_admin": false,
        "last_login": "0001-01-01T00:00:00Z",
        "created": COMMIT_DATE,
        "restricted": false,
        "active": false,
        "prohibit_login": false,
        "location": "",
        "website": "",
        "description": "",
        "visibility": "public",
        "followers_count": 0,
        "following_count": 0,
        "starred_repos_count": 0,
        "username": origin.owner,
    });
    let commits: Vec<Value> = if after == NO_COMMIT {
        Vec::new()
    } else {
        let person = json!({"name": AUTHOR_NAME, "email": AUTHOR_EMAIL, "username": origin.owner});
        vec![json!({
            "id": after,
            "message": "pushed for a build\n",
            "url": format!("{html_url}/commit/{after}"),
            "author": person,
            "committer": person,
            "verification": null,
            "timestamp": COMMIT_DATE,
            "added": [],
            "removed": [],
            "modified": [],
        })]
    };
    let mut repository = json!({
            "id": 1,
            "owner": user,
            "name": origin.name,
            "full_name": origin.full_name(),
            "description": "",
            "empty": false,
            "private": false,
            "fork": false,
            "template": false,
            "parent": null,
            "mirror": false,
            "size": 0,
            "language": "",
            "languages_url": format!("http://{}/api/v1/repos/{}/languages", origin.host, origin.full_name()),
            "html_url": html_url,
            "url": format!("http://{}/api/v1/repos/{}", origin.host, origin.full_name()),
            "link": "",
            "ssh_url": origin.ssh_url(),
            "clone_url": clone_url,
            "original_url": "",
            "website": "",
            "stars_count": 0,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": 0,
            "open_pr_counter": 0,
    });
    // Split in two only because one `json!` this large exceeds the macro recursion limit.
    extend(
        &mut repository,
        json!({
                "release_counter": 0,
                "default_branch": "main",
                "archived": false,
                "created_at": COMMIT_DATE,
                "updated_at": COMMIT_DATE,
                "archived_at": "1970-01-01T00:00:00Z",
                "permissions": {"admin": true, "push": true, "pull": true},
                "has_issues": true,
                "has_wiki": true,
                "has_pull_requests": true,
                "has_projects": true,
                "has_releases": true,
                "has_packages": true,
                "has_actions": false,
                "avatar_url": "",
                "internal": false,
                "mirror_interval": "",
                "object_format_name": "sha1",
                "mirror_updated": "0001-01-01T00:00:00Z",
                "topics": [],
                "licenses": [],
        }),
    );
    let body = json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "compare_url": format!("{html_url}/compare/{before}...{after}"),
        "commits": commits,
        "total_commits": commits.len(),
        "head_commit": commits.first(),
        "repository": repository,
        "pusher": user,
        "sender": user,
    });
    let body = serde_json::to_vec_pretty(&body).expect("JSON");
    let delivery = uuid::Uuid::new_v4().to_string();
    let signature = hmac_sha256_hex(secret, &body);
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    for host in ["Gitea", "Gogs"] {
        headers.extend([
            (format!("X-{host}-Delivery"), delivery.clone()),
            (format!("X-{host}-Event"), "push".to_owned()),
            (format!("X-{host}-Event-Type"), "push".to_owned()),
            (format!("X-{host}-Signature"), signature.clone()),
        ]);
    }
    headers.extend([
        (
            "X-Hub-Signature-256".to_owned(),
            format!("sha256={signature}"),
        ),
        ("X-GitHub-Delivery".to_owned(), delivery),
        ("X-GitHub-Event".to_owned(), "push".to_owned()),
        ("X-GitHub-Event-Type".to_owned(), "push".to_owned()),
    ]);
    (headers, body)
}

/// The headers and body GitHub posts to a webhook for a push of `git_ref` from `before` to
/// `after`, signed with `secret`: `Content-Type: application/json`, `User-Agent:
/// GitHub-Hookshot/…`, `X-GitHub-Event: push`, `X-GitHub-Delivery`, `X-GitHub-Hook-ID`, the
/// installation target headers and `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`
/// (not `X-Hub-Signature`, its SHA-1 form). The body has the fields of GitHub's push event:
/// `ref`, `before`, `after`, `created`, `deleted`, `forced`, `base_ref`, `compare`, `commits`,
/// `head_commit`, `repository` (with `clone_url`, `git_url`, `ssh_url`, `full_name`), `pusher`
/// and `sender`. `created` and `deleted` follow from `before` and `after` being [`NO_COMMIT`].
pub fn github_push(
    secret: &str,
    git_ref: &str,
    before: &str,
    after: &str,
    clone_url: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    let origin = Origin::of(clone_url);
    let html_url = origin.html_url();
    let api = format!("http://{}/api/v3/repos/{}", origin.host, origin.full_name());
    let created = before == NO_COMMIT;
    let deleted = after == NO_COMMIT;
    let account = json!({
        "name": origin.owner,
        "email": AUTHOR_EMAIL,
        "login": origin.owner,
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": format!("http://{}/avatars/u/1", origin.host),
        "gravatar_id": "",
        "url": format!("http://{}/api/v3/users/{}", origin.host, origin.owner),
        "html_url": format!("http://{}/{}", origin.host, origin.owner),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
    });
    let commits: Vec<Value> = if deleted {
        Vec::new()
    } else {
        let person = json!({"name": AUTHOR_NAME, "email": AUTHOR_EMAIL, "username": origin.owner});
        vec![json!({
            "id": after,
            "distinct": true,
            "message": "pushed for a build",
            "timestamp": COMMIT_DATE,
            "url": format!("{html_url}/commit/{after}"),
            "author": person,
            "committer": person,
            "added": [],
            "removed": [],
            "modified": [],
        })]
    };
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let compare = if created {
        let name = git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(git_ref);
        format!("{html_url}/compare/{name}")
    } else {
        format!("{html_url}/compare/{}...{}", short(before), short(after))
    };
    let mut repository = json!({
            "id": 1,
            "node_id": "R_kgDOBerth1",
            "name": origin.name,
            "full_name": origin.full_name(),
            "private": false,
            "owner": account,
            "html_url": html_url,
            "description": null,
            "fork": false,
            "url": html_url,
            "git_url": clone_url,
            "ssh_url": origin.ssh_url(),
            "clone_url": clone_url,
            "svn_url": html_url,
            "homepage": null,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": null,
            "has_issues": true,
            "has_projects": true,
            "has_downloads": true,
            "has_wiki": true,
            "has_pages": false,
    });
    extend(
        &mut repository,
        json!({
                "forks_count": 0,
                "archived": false,
                "disabled": false,
                "open_issues_count": 0,
                "license": null,
                "topics": [],
                "visibility": "public",
                "forks": 0,
                "open_issues": 0,
                "watchers": 0,
                "default_branch": "main",
                "master_branch": "main",
                "stargazers": 0,
                "created_at": 1_704_164_645,
                "pushed_at": 1_704_164_645,
                "updated_at": COMMIT_DATE,
                "commits_url": format!("{api}/commits{{/sha}}"),
        }),
    );
    let body = json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": origin.owner, "email": AUTHOR_EMAIL},
        "sender": account,
        "created": created,
        "deleted": deleted,
        "forced": false,
        "base_ref": null,
        "compare": compare,
        "commits": commits,
        "head_commit": commits.first(),
    });
    let body = serde_json::to_vec(&body).expect("JSON");
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "User-Agent".to_owned(),
            "GitHub-Hookshot/berth-tests".to_owned(),
        ),
        ("X-GitHub-Event".to_owned(), "push".to_owned()),
        (
            "X-GitHub-Delivery".to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        ("X-GitHub-Hook-ID".to_owned(), "1".to_owned()),
        (
            "X-GitHub-Hook-Installation-Target-ID".to_owned(),
            "1".to_owned(),
        ),
        (
            "X-GitHub-Hook-Installation-Target-Type".to_owned(),
            "repository".to_owned(),
        ),
        (
            "X-Hub-Signature-256".to_owned(),
            format!("sha256={}", hmac_sha256_hex(secret, &body)),
        ),
    ];
    (headers, body)
}
