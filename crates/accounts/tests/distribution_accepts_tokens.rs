//! A stock CNCF Distribution (Debian's `docker-registry`), configured with
//! Berth's token certificate as its `auth.token.rootcertbundle`, accepts the
//! tokens Berth signs and refuses the ones it must refuse.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_accounts::jwt::{Access, Claims, TokenKeys};
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};

const SERVICE: &str = "berth-test";
const ISSUER: &str = "berth-test-issuer";
const REALM: &str = "http://127.0.0.1:1/auth/token";

/// Finds `docker-registry` on PATH; the test fails rather than skips without it.
fn docker_registry_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("docker-registry"))
        .find(|candidate| candidate.is_file())
        .expect(
            "`docker-registry` (CNCF Distribution 2.8, Debian package docker-registry) is not \
             on PATH; scripts/test installs it",
        )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("clock fits i64")
}

/// A running Distribution, killed when dropped.
struct Registry {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Registry {
    fn start(dir: &Path, cert_path: &Path) -> Registry {
        let binary = docker_registry_binary();
        let port = free_port();
        let storage = dir.join("storage");
        fs::create_dir_all(&storage).expect("storage dir");
        let config = format!(
            r#"version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "{storage}"
http:
  addr: "127.0.0.1:{port}"
auth:
  token:
    realm: "{REALM}"
    service: "{SERVICE}"
    issuer: "{ISSUER}"
    rootcertbundle: "{cert}"
"#,
            storage = storage.display(),
            cert = cert_path.display(),
        );
        let config_path = dir.join("config.yml");
        fs::write(&config_path, config).expect("write config");

        let log = dir.join("registry.log");
        let log_file = fs::File::create(&log).expect("create log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry");
        Registry {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `GET /v2/` answers; without a token that must be a 401.
    async fn wait_ready(&mut self, client: &Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll docker-registry") {
                panic!("docker-registry exited with {status}:\n{}", self.log());
            }
            if let Ok(response) = client.get(self.url("/v2/")).send().await {
                assert_eq!(
                    response.status(),
                    StatusCode::UNAUTHORIZED,
                    "GET /v2/ without a token:\n{}",
                    self.log()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer within 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn claims(repository: &str, actions: &[&str]) -> Claims {
    let now = now();
    Claims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: SERVICE.into(),
        exp: now + 300,
        nbf: now,
        iat: now,
        jti: format!("test-{repository}-{}", actions.join("-")),
        access: vec![Access {
            kind: "repository".into(),
            name: repository.into(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }],
    }
}

fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[tokio::test]
async fn distribution_accepts_berth_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = TokenKeys::load_or_create(&dir.path().join("keys")).expect("token keys");
    let cert_path = dir.path().join("keys").join("token-signing.crt");
    assert_eq!(
        fs::read_to_string(&cert_path).expect("certificate on disk"),
        keys.certificate_pem()
    );

    berth_accounts::install_tls_provider();
    let client = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let mut registry = Registry::start(dir.path(), &cert_path);
    registry.wait_ready(&client).await;
    let log = || registry.log();

    let token = keys
        .sign(&claims("alice/app", &["pull", "push"]))
        .expect("sign");

    // The base endpoint with a valid token.
    let response = client
        .get(registry.url("/v2/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(response.status(), StatusCode::OK, "GET /v2/:\n{}", log());

    // Push a blob: start an upload, then finish it in one PUT.
    let blob = b"berth token interoperability blob".to_vec();
    let digest = sha256_digest(&blob);
    let response = client
        .post(registry.url("/v2/alice/app/blobs/uploads/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("POST upload");
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "start upload:\n{}",
        log()
    );
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("upload Location")
        .to_str()
        .expect("Location is ASCII")
        .to_owned();
    let location = if location.starts_with('/') {
        registry.url(&location)
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let response = client
        .put(format!("{location}{separator}digest={digest}"))
        .bearer_auth(&token)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .expect("PUT upload");
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "finish upload:\n{}",
        log()
    );

    let blob_url = registry.url(&format!("/v2/alice/app/blobs/{digest}"));
    let response = client
        .head(&blob_url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("HEAD blob");
    assert_eq!(response.status(), StatusCode::OK, "HEAD blob:\n{}", log());
    assert_eq!(
        response
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()),
        Some(blob.len().to_string().as_str())
    );

    // No token on a repository route: a challenge naming realm, service and scope.
    let response = client.head(&blob_url).send().await.expect("HEAD blob");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .expect("WWW-Authenticate")
        .to_str()
        .expect("challenge is ASCII")
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    for part in [
        format!("realm=\"{REALM}\""),
        format!("service=\"{SERVICE}\""),
        "scope=\"repository:alice/app:pull\"".to_owned(),
    ] {
        assert!(challenge.contains(&part), "{part} missing in {challenge}");
    }

    // Tokens Distribution must refuse, each on a route the good token opened.
    let mut refused: Vec<(&str, String)> = Vec::new();

    refused.push((
        "token for another repository",
        keys.sign(&claims("bob/app", &["pull", "push"]))
            .expect("sign"),
    ));

    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = TokenKeys::load_or_create(other_dir.path()).expect("other keys");
    refused.push((
        "token signed by a different key",
        other
            .sign(&claims("alice/app", &["pull", "push"]))
            .expect("sign"),
    ));

    // A different key that claims to be ours through the `kid`.
    let forged_header = jsonwebtoken::Header {
        kid: Some(keys.key_id().to_owned()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
    };
    let forger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let forger_key = jsonwebtoken::EncodingKey::from_ec_der(&forger.serialize_der());
    refused.push((
        "token signed by a different key under our key ID",
        jsonwebtoken::encode(
            &forged_header,
            &claims("alice/app", &["pull", "push"]),
            &forger_key,
        )
        .expect("sign"),
    ));

    // A different key embedded in the header (Distribution CVE-2025-24976's shape).
    let embedded_header = jsonwebtoken::Header {
        jwk: Some(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&forger_key, jsonwebtoken::Algorithm::ES256)
                .expect("jwk"),
        ),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
    };
    refused.push((
        "token carrying its own key",
        jsonwebtoken::encode(
            &embedded_header,
            &claims("alice/app", &["pull", "push"]),
            &forger_key,
        )
        .expect("sign"),
    ));

    let mut expired = claims("alice/app", &["pull", "push"]);
    expired.exp = now() - 600;
    expired.nbf = now() - 900;
    expired.iat = now() - 900;
    refused.push(("expired token", keys.sign(&expired).expect("sign")));

    let mut other_service = claims("alice/app", &["pull", "push"]);
    other_service.aud = "another-service".into();
    refused.push((
        "token for another service",
        keys.sign(&other_service).expect("sign"),
    ));

    let mut other_issuer = claims("alice/app", &["pull", "push"]);
    other_issuer.iss = "another-issuer".into();
    refused.push((
        "token from another issuer",
        keys.sign(&other_issuer).expect("sign"),
    ));

    for (what, bad) in &refused {
        let response = client
            .head(&blob_url)
            .bearer_auth(bad)
            .send()
            .await
            .expect("HEAD blob");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{what} was not refused on HEAD blob:\n{}",
            log()
        );
        let response = client
            .post(registry.url("/v2/alice/app/blobs/uploads/"))
            .bearer_auth(bad)
            .send()
            .await
            .expect("POST upload");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{what} was not refused on POST upload:\n{}",
            log()
        );
    }

    // Pull access alone does not open pushes.
    let pull_only = keys.sign(&claims("alice/app", &["pull"])).expect("sign");
    let response = client
        .head(&blob_url)
        .bearer_auth(&pull_only)
        .send()
        .await
        .expect("HEAD blob");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "pull-only HEAD:\n{}",
        log()
    );
    let response = client
        .post(registry.url("/v2/alice/app/blobs/uploads/"))
        .bearer_auth(&pull_only)
        .send()
        .await
        .expect("POST upload");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "pull-only push:\n{}",
        log()
    );
}
