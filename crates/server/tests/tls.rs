//! HTTPS: the real binary with `--tls-cert`/`--tls-key` (and the same through `BERTH_TLS_*`)
//! serves the registry, the token service and the site over TLS with a certificate made here,
//! defaults its public URL (and so the token realm) to `https://`, speaks no plain HTTP on that
//! port, and refuses to start with half a configuration or a key that is not the certificate's.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::{create_admin, database, free_port, push_blob_to, ROOT, ROOT_PASSWORD};
use reqwest::StatusCode;

/// A self-signed certificate for 127.0.0.1, written as PEM files into `dir`.
fn certificate(dir: &std::path::Path) -> (String, String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("certificate params");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let cert_path = dir.join("berth.crt");
    let key_path = dir.join("berth.key");
    std::fs::write(&cert_path, cert.pem()).expect("write certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
        cert.pem(),
    )
}

fn serve(dir: &std::path::Path, database_url: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .arg("serve")
        .args(args)
        .env_remove("BERTH_DATABASE_URL")
        .env_remove("BERTH_DATA_DIR")
        .env_remove("BERTH_TLS_CERT")
        .env_remove("BERTH_TLS_KEY")
        .env("BERTH_LOG", "warn");
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    cmd
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[tokio::test]
async fn berth_serves_https_with_the_certificate_it_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = database(dir.path()).await;
    create_admin(dir.path(), database_url.as_deref());
    let (cert, key, pem) = certificate(dir.path());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _berth = Killed(
        serve(dir.path(), database_url.as_deref(), &["--listen", &listen])
            .env("BERTH_TLS_CERT", &cert)
            .env("BERTH_TLS_KEY", &key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth"),
    );
    berth_accounts::install_tls_provider();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("ca"))
        .build()
        .expect("client");
    let base = format!("https://{listen}");
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            ready = r.status() == StatusCode::OK;
            if ready {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "berth did not answer over HTTPS");

    // The challenge sends clients to the token service over HTTPS.
    let r = client
        .get(format!("{base}/v2/"))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.contains(&format!("realm=\"https://{listen}/auth/token\"")),
        "{challenge}"
    );
    // A token, and a push with it, over TLS.
    let r = client
        .get(format!(
            "{base}/auth/token?service={listen}&scope=repository:{ROOT}/tls:pull,push"
        ))
        .basic_auth(ROOT, Some(ROOT_PASSWORD))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let token: serde_json::Value = r.json().await.expect("token json");
    let token = token["token"].as_str().expect("token").to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let authed = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("ca"))
        .default_headers(headers)
        .build()
        .expect("client");
    push_blob_to(&authed, &base, &format!("{ROOT}/tls"), b"over tls").await;

    // Plain HTTP on the HTTPS port gets no registry answer; an untrusting client gets no TLS.
    let plain = reqwest::Client::new()
        .get(format!("http://{listen}/v2/"))
        .send()
        .await;
    assert!(
        plain.map_or(true, |r| r.status() == StatusCode::BAD_REQUEST
            || r.headers().get("www-authenticate").is_none()),
        "plain HTTP was served"
    );
    let untrusting = reqwest::Client::new()
        .get(format!("{base}/v2/"))
        .send()
        .await;
    assert!(
        untrusting.is_err(),
        "a certificate nobody trusts was accepted"
    );
}

#[tokio::test]
async fn half_a_tls_configuration_or_a_wrong_key_is_a_start_up_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _, _) = certificate(dir.path());
    let other = tempfile::tempdir().expect("tempdir");
    let (_, other_key, _) = certificate(other.path());
    let listen = format!("127.0.0.1:{}", free_port());
    for (args, expect) in [
        (
            vec!["--tls-cert", cert.as_str()],
            "both --tls-cert and --tls-key",
        ),
        (
            vec!["--tls-cert", cert.as_str(), "--tls-key", other_key.as_str()],
            "do not go together",
        ),
        (
            vec![
                "--tls-cert",
                "/nonexistent.crt",
                "--tls-key",
                other_key.as_str(),
            ],
            "/nonexistent.crt",
        ),
    ] {
        let mut all = vec!["--listen", listen.as_str()];
        all.extend(args);
        let out = serve(dir.path(), None, &all)
            .output()
            .expect("run berth serve");
        assert!(!out.status.success(), "started with {all:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{all:?}: {stderr}");
    }
}
