//! The real `berth` binary, started and killed as an operator (or a power cut) would: an
//! administrator made with `berth admin create-user`, `berth serve` on a free loopback port,
//! SIGKILL, and raw requests cut off mid-body.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use super::{backend_is_postgres, basic, sha256, test_database_url};

pub const ROOT: &str = "root1";
pub const ROOT_PASSWORD: &str = "root password 1";

/// `Authorization: Basic` for the administrator made by [`create_admin`].
pub fn auth() -> String {
    basic(ROOT, ROOT_PASSWORD)
}

/// A client that sends the administrator's credentials with every request.
pub fn authed_client() -> reqwest::Client {
    berth_accounts::install_tls_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        auth().parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_idle_timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A running `berth serve`; killed (SIGKILL) when dropped.
pub struct Berth {
    pub child: Child,
    pub base: String,
    pub host: String,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Creates the administrator with `berth admin create-user`, as an operator would.
pub fn create_admin(dir: &Path, database_url: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .args([
            "admin",
            "create-user",
            ROOT,
            "--email",
            "root@example.com",
            "--password-stdin",
            "--admin",
        ])
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().expect("spawn berth admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{ROOT_PASSWORD}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("berth admin");
    assert!(
        out.status.success(),
        "create-user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created administrator user root1"));
}

/// Starts `berth serve` in `dir` (its data in `dir/data`) and waits until it is ready.
pub async fn start(dir: &Path, database_url: Option<&str>, port: u16) -> Berth {
    start_with_env(dir, database_url, port, &[]).await
}

/// [`start`], with more environment variables.
pub async fn start_with_env(
    dir: &Path,
    database_url: Option<&str>,
    port: u16,
    env: &[(&str, &str)],
) -> Berth {
    start_logged(dir, database_url, port, env, Stdio::null(), Stdio::null()).await
}

/// [`start_with_env`], with the server's log (what it prints) written to `log`.
pub async fn start_with_log(
    dir: &Path,
    database_url: Option<&str>,
    port: u16,
    env: &[(&str, &str)],
    log: &Path,
) -> Berth {
    let file = std::fs::File::create(log).expect("log file");
    let copy = file.try_clone().expect("log file");
    start_logged(
        dir,
        database_url,
        port,
        env,
        Stdio::from(file),
        Stdio::from(copy),
    )
    .await
}

async fn start_logged(
    dir: &Path,
    database_url: Option<&str>,
    port: u16,
    env: &[(&str, &str)],
    stdout: Stdio,
    stderr: Stdio,
) -> Berth {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .env("BERTH_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(stdout)
        .stderr(stderr);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let berth = Berth {
        child: cmd.spawn().expect("spawn berth"),
        base: format!("http://127.0.0.1:{port}"),
        host: format!("127.0.0.1:{port}"),
    };
    berth_accounts::install_tls_provider();
    let probe = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = probe.get(format!("{}/readyz", berth.base)).send().await {
            if r.status() == StatusCode::OK {
                return berth;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("berth did not become ready");
}

impl Berth {
    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Panics if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("berth exited: {status:?}");
        }
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A database for a test that outlives one server process.
pub async fn database(dir: &Path) -> Option<String> {
    if backend_is_postgres() {
        Some(test_database_url(dir).await)
    } else {
        // SQLite: the default location, `./data/berth.db`, is what is tested.
        None
    }
}

/// The URL [`start`] in `dir` uses: the one given, or the default SQLite file.
pub fn database_url_in(dir: &Path, database_url: Option<&str>) -> String {
    match database_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", dir.join("data/berth.db").display()),
    }
}

/// Sends the headers and `sent` bytes of a request whose body is longer, and leaves the
/// connection open (returned) so the server is mid-body.
pub fn partial_request(
    host: &str,
    head: &str,
    content_type: &str,
    body: &[u8],
    sent: usize,
) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "{head}\r\nHost: {host}\r\nAuthorization: {}\r\nContent-Length: {}\r\nContent-Type: {content_type}\r\n\r\n",
        auth(),
        body.len()
    )
    .expect("headers");
    s.write_all(&body[..sent]).expect("body part");
    s.flush().expect("flush");
    s
}

pub async fn wait_for_size(path: &Path, at_least: u64) {
    for _ in 0..400 {
        if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never reached {at_least} bytes", path.display());
}

/// A monolithic blob push (`POST …/blobs/uploads/?digest=`) to a running Berth at `base`;
/// asserts `201 Created`.
pub async fn push_blob_to(client: &reqwest::Client, base: &str, repo: &str, bytes: &[u8]) {
    let r = client
        .post(format!(
            "{base}/v2/{repo}/blobs/uploads/?digest={}",
            sha256(bytes)
        ))
        .body(bytes.to_vec())
        .send()
        .await
        .expect("push blob");
    assert_eq!(r.status(), StatusCode::CREATED, "push a blob to {repo}");
}
