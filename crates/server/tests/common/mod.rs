//! `TestApp`: boots the real Berth application on a free loopback port against a real database
//! (SQLite in a temp dir, or a fresh PostgreSQL database when `BERTH_TEST_BACKEND=postgres`),
//! with request helpers for the registry API.

#![allow(dead_code)]

pub mod binary;
pub mod builds;
pub mod check;
pub mod git;
pub mod matrix;
pub mod pg;
pub mod receiver;
pub mod signing;
pub mod tuf;
pub mod web;

/// Headless Chromium for browser tests (needs the chromedriver scripts/test starts).
#[cfg(feature = "e2e")]
pub mod browser;

/// A person's steps in that browser: sign up, log in, screenshots.
#[cfg(feature = "e2e")]
pub mod ui;

/// The `docker` CLI against the private Docker daemon scripts/test starts.
#[cfg(feature = "e2e")]
pub mod docker;

/// OCI image layouts and `skopeo`.
#[cfg(feature = "e2e")]
pub mod skopeo;

/// The Garage cluster scripts/test starts, for S3 storage.
#[cfg(feature = "e2e")]
pub mod garage;

/// nginx in front of several replicas.
#[cfg(feature = "e2e")]
pub mod nginx;

use std::net::TcpListener;
use std::path::PathBuf;

use berth::app::{self, State};
use berth::config::{Args, Config};
use reqwest::{Method, Response, StatusCode};
use sha2::{Digest as _, Sha256, Sha512};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

/// Whether the tests run as root (`id -u` is 0), as scripts/test runs them.
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Which database the suite runs on, from `BERTH_TEST_BACKEND` (default SQLite).
pub fn backend_is_postgres() -> bool {
    std::env::var("BERTH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A database URL for one test: a file in `dir` for SQLite, or a new PostgreSQL database.
pub async fn test_database_url(dir: &std::path::Path) -> String {
    if !backend_is_postgres() {
        return format!("sqlite://{}?mode=rwc", dir.join("berth.db").display());
    }
    let admin = std::env::var("BERTH_TEST_POSTGRES_URL")
        .expect("BERTH_TEST_BACKEND=postgres needs BERTH_TEST_POSTGRES_URL (scripts/test sets it)");
    new_postgres_database(&admin).await
}

/// Creates an empty database on the PostgreSQL server `admin` points at; returns its URL.
pub async fn new_postgres_database(admin: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("berth_test_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(admin)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let (base, _) = admin
        .rsplit_once('/')
        .expect("postgres URL with a database");
    format!("{base}/{name}")
}

/// The administrator every test app starts with.
pub const ADMIN: &str = "admin1";
pub const ADMIN_PASSWORD: &str = "an admin password";

/// `Authorization: Basic` for a name and secret.
pub fn basic(name: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{secret}"))
    )
}

pub struct TestApp {
    pub base: String,
    /// Signed in as the administrator (Basic with a read-write-delete access token).
    pub client: reqwest::Client,
    /// Signed in as nobody.
    pub anonymous: reqwest::Client,
    /// The administrator's access token.
    pub admin_token: String,
    pub state: State,
    pub dir: tempfile::TempDir,
    pub config: Config,
    /// The certificate of the CA that signed the server's certificate, when serving HTTPS.
    pub ca_pem: Option<String>,
    /// `http://127.0.0.1:<port>` of the metrics listener, when the configuration has one.
    pub metrics_base: Option<String>,
    handle: actix_web::dev::ServerHandle,
    metrics_handle: Option<actix_web::dev::ServerHandle>,
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, written as PEM files into `dir`:
/// `(certificate path, key path, CA certificate PEM)`.
pub fn throwaway_ca(dir: &std::path::Path) -> (PathBuf, PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Berth test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    let cert_path = dir.join("server.crt");
    let key_path = dir.join("server.key");
    std::fs::write(&cert_path, cert.pem()).expect("write certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (cert_path, key_path, ca.pem())
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(|_| {}).await
    }

    /// Starts Berth with the default configuration changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::boot(tweak, false).await
    }

    /// Starts Berth serving HTTPS with a certificate from a throwaway CA (`ca_pem`), which the
    /// clients trust.
    pub async fn start_tls() -> TestApp {
        TestApp::boot(|_| {}, true).await
    }

    /// Starts a second Berth on this one's database and data directory (its blobs and
    /// secrets), as another replica behind a load balancer would run: same administrator and
    /// token. PostgreSQL only: SQLite is one process's.
    pub async fn replica(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let database_url = self.config.database_url.clone();
        let data_dir = self.config.data_dir.clone();
        let primary = self.config.clone();
        TestApp::boot_as(
            move |c| {
                // Behind one load balancer: one public name, which tokens are issued for.
                c.public_url = primary.public_url.clone();
                c.registry.host = primary.registry.host.clone();
                c.auth.realm = primary.auth.realm.clone();
                c.auth.service = primary.auth.service.clone();
                c.auth.issuer = primary.auth.issuer.clone();
                c.database_url = database_url;
                c.data_dir = data_dir.clone();
                c.storage = primary.storage.clone();
                c.secrets_dir = data_dir.clone();
                c.gc.lock_file = data_dir.join("gc.lock");
                tweak(c);
            },
            false,
            Some(self.admin_token.clone()),
        )
        .await
    }

    async fn boot(tweak: impl FnOnce(&mut Config), tls: bool) -> TestApp {
        TestApp::boot_as(tweak, tls, None).await
    }

    /// Boots an app; `admin_token`: the administrator exists already, with this token.
    async fn boot_as(
        tweak: impl FnOnce(&mut Config),
        tls: bool,
        admin_token: Option<String>,
    ) -> TestApp {
        berth_accounts::install_tls_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (scheme, tls_cert, tls_key, ca_pem) = if tls {
            let (cert, key, ca) = throwaway_ca(dir.path());
            ("https", Some(cert), Some(key), Some(ca))
        } else {
            ("http", None, None, None)
        };
        let args = Args {
            listen: Some(addr),
            data_dir: Some(dir.path().join("data")),
            database_url: Some(test_database_url(dir.path()).await),
            public_url: Some(format!("{scheme}://{addr}")),
            config: Some(PathBuf::from("/dev/null")),
            tls_cert,
            tls_key,
            ..Args::default()
        };
        let mut config = Config::load(&args).expect("config");
        tweak(&mut config);
        let state = State::open(&config).await.expect("open state");
        let admin_token = match admin_token {
            Some(token) => token,
            None => {
                let admin = berth_accounts::users::create(
                    &state.accounts.db,
                    berth_accounts::users::NewUser {
                        name: ADMIN,
                        email: "admin@example.com",
                        password: ADMIN_PASSWORD,
                    },
                    true,
                )
                .await
                .expect("create admin");
                berth_accounts::tokens::create(
                    &state.accounts.db,
                    &admin,
                    "tests",
                    berth_accounts::access::Scope::ReadWriteDelete,
                    None,
                )
                .await
                .expect("admin token")
                .token
            }
        };
        let tls_config = config
            .tls
            .as_ref()
            .map(|files| berth::tls::server_config(files).expect("TLS configuration"));
        let server = app::server(state.clone(), listener, tls_config).expect("server");
        let handle = server.handle();
        tokio::spawn(server);
        let (metrics_base, metrics_handle) = match config.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).expect("bind the metrics listener");
                let addr = listener.local_addr().expect("metrics addr");
                let server =
                    berth::app::metrics_server(state.clone(), listener).expect("metrics server");
                let handle = server.handle();
                tokio::spawn(server);
                (Some(format!("http://{addr}")), Some(handle))
            }
            None => (None, None),
        };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            basic(ADMIN, &admin_token).parse().expect("header"),
        );
        let builder = || {
            // Idle connections are dropped well before the server's keep-alive closes them, so
            // a request never goes out on a connection being closed under it.
            let b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(std::time::Duration::from_secs(20));
            match &ca_pem {
                Some(pem) => b.add_root_certificate(
                    reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA certificate"),
                ),
                None => b,
            }
        };
        TestApp {
            base: format!("{scheme}://{addr}"),
            client: builder().default_headers(headers).build().expect("client"),
            anonymous: builder().build().expect("client"),
            admin_token,
            state,
            dir,
            config,
            ca_pem,
            metrics_base,
            handle,
            metrics_handle,
        }
    }

    /// `127.0.0.1:<port>`, as used in image references.
    pub fn host(&self) -> String {
        let base = self.base.as_str();
        base.split_once("://").map_or(base, |(_, h)| h).to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    pub async fn head(&self, path: &str) -> Response {
        self.request(Method::HEAD, path).send().await.expect("HEAD")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE")
    }

    /// Starts an upload session; returns its `Location`.
    pub async fn start_upload(&self, repo: &str) -> String {
        let r = self
            .request(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .expect("POST upload");
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        location(&r)
    }

    /// Pushes a blob with POST + PUT; returns its sha256 digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let loc = self.start_upload(repo).await;
        let r = self
            .client
            .put(self.url(&with_digest(&loc, &digest)))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT upload");
        assert_eq!(r.status(), StatusCode::CREATED, "push blob {digest}");
        digest
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.client
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("Content-Type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("PUT manifest")
    }

    /// Pushes a one-layer OCI image (config and layer blobs, then the manifest under `tag`);
    /// returns the manifest bytes and digest.
    pub async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, String) {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sha256(layer)
        );
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = image_manifest(
            (&config_digest, config.len()),
            &[(&layer_digest, layer.len())],
            "",
        );
        let r = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(r.status(), StatusCode::CREATED, "push manifest");
        let digest = sha256(&manifest);
        (manifest, digest)
    }

    /// Collects garbage in this app's process, as `berth gc --grace <grace>` would.
    pub async fn gc(
        &self,
        dry_run: bool,
        grace: std::time::Duration,
    ) -> berth_registry::lifecycle::gc::Report {
        let request = berth_hub::gc::Request {
            dry_run,
            grace: Some(grace),
            trigger: "cli",
            actor: "tests".to_owned(),
        };
        match self
            .state
            .hub
            .collect_garbage(
                &self.state.registry,
                &self.state.trust,
                &self.config.gc,
                request,
                &|_| {},
            )
            .await
            .expect("garbage collection")
        {
            berth_hub::gc::Outcome::Done(report) => report,
            berth_hub::gc::Outcome::Busy => panic!("another collection holds the lock"),
        }
    }

    /// Runs the consistency checker over this app's database and storage.
    pub async fn assert_consistent(&self) {
        check::assert_consistent(&self.config.database_url, &self.config.data_dir).await;
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json body")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stops accepting at once; the runtime's end reaps the rest.
        drop(self.handle.stop(false));
        if let Some(handle) = &self.metrics_handle {
            drop(handle.stop(false));
        }
    }
}

/// An OCI image manifest; `extra` is spliced in as further top-level fields (",\"k\":v").
pub fn image_manifest(config: (&str, usize), layers: &[(&str, usize)], extra: &str) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, s)| format!(r#"{{"mediaType":"{OCI_LAYER}","digest":"{d}","size":{s}}}"#))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{}]{extra}}}"#,
        config.0,
        config.1,
        layers.join(",")
    )
    .into_bytes()
}

pub fn location(r: &Response) -> String {
    header(r, "location")
}

pub fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("response has no {name} header"))
        .to_str()
        .expect("ascii header")
        .to_owned()
}

/// Appends `digest=` to an upload location, keeping any query it already has.
pub fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The spec error code of a JSON error response.
pub async fn error_code(r: Response) -> String {
    let v: serde_json::Value = r.json().await.expect("error body is JSON");
    v["errors"][0]["code"]
        .as_str()
        .expect("errors[0].code")
        .to_owned()
}

/// What an external command run by [`run_command`] printed, and how it ended.
pub struct CommandOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// How long any one external command (docker, skopeo) may run before the test fails.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `cmd` to completion, capturing its output; panics (killing it) after [`COMMAND_TIMEOUT`]
/// or when it cannot be started. The exit status is the caller's to check.
pub async fn run_command(mut cmd: tokio::process::Command) -> CommandOutput {
    let shown = format!("{:?}", cmd.as_std());
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => CommandOutput {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        },
        Ok(Err(e)) => panic!("waiting for {shown}: {e}"),
        Err(_) => panic!("{shown} did not finish within {COMMAND_TIMEOUT:?}"),
    }
}

/// Like [`run_command`], but panics with everything the command printed unless it succeeds.
pub async fn run_command_ok(cmd: tokio::process::Command) -> CommandOutput {
    let shown = format!("{:?}", cmd.as_std());
    let out = run_command(cmd).await;
    assert!(
        out.status.success(),
        "{shown} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    out
}

/// Sends a request exactly as written (no URL normalisation, unlike reqwest, which would
/// resolve `..`); returns the status and the body.
pub async fn raw_request(host: &str, method: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = host.to_owned();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&host).expect("connect");
        s.write_all(request.as_bytes()).expect("send");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read");
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("raw request")
}

/// A JSON API request with `auth` as the `Authorization` header, if any.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<serde_json::Value>,
) -> Response {
    let mut req = app.anonymous.request(method, app.url(path));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("request")
}

/// Signs a user up through the API (`name@example.com`, password `"<name> password"`);
/// returns the password.
pub async fn sign_up(app: &TestApp, name: &str) -> String {
    let password = format!("{name} password");
    let r = app
        .anonymous
        .post(app.url("/api/v1/users"))
        .json(&serde_json::json!({
            "username": name,
            "email": format!("{name}@example.com"),
            "password": password,
        }))
        .send()
        .await
        .expect("sign up");
    assert_eq!(r.status(), StatusCode::CREATED, "sign up {name}");
    password
}

/// Signs a user up; returns their `Authorization: Basic` value.
pub async fn sign_up_basic(app: &TestApp, name: &str) -> String {
    basic(name, &sign_up(app, name).await)
}

/// A monolithic blob push (`POST …/blobs/uploads/?digest=`) with `auth` as the
/// `Authorization` header (empty for none).
pub async fn push_blob_as(app: &TestApp, auth: &str, repo: &str, bytes: &[u8]) -> Response {
    app.anonymous
        .post(app.url(&format!(
            "/v2/{repo}/blobs/uploads/?digest={}",
            sha256(bytes)
        )))
        .header("Authorization", auth)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("push")
}

/// An owner (`owner`, an `Authorization` value) adds someone to an organization or a team with
/// `PUT path` (`…/members/{user}` with `{"role": …}`, or `…/teams/{team}/members/{user}`), and
/// they (`invitee`) accept the invitation that sends. A member added to a team needs none: the
/// owner's `204` is the whole story.
pub async fn invite_and_accept(
    app: &TestApp,
    owner: &str,
    path: &str,
    body: Option<serde_json::Value>,
    invitee: &str,
) {
    let r = call(app, Method::PUT, path, Some(owner), body).await;
    let status = r.status();
    if status == StatusCode::NO_CONTENT {
        return;
    }
    let invitation: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::ACCEPTED, "PUT {path}: {invitation}");
    let id = invitation["id"].as_i64().expect("the invitation's id");
    let r = call(
        app,
        Method::POST,
        &format!("/api/v1/user/invitations/{id}/accept"),
        Some(invitee),
        None,
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "accepting invitation {id}"
    );
}
