//! `Docker`: the real `docker` CLI pointed at the private Docker daemon that `scripts/test`
//! starts (`BERTH_TEST_DOCKER_HOST`), with a configuration directory of its own per test, and
//! tiny images built offline (`FROM scratch` plus files, the legacy builder).

use std::path::Path;

use super::{
    run_command, run_command_ok, CommandOutput, TestApp, ADMIN, ADMIN_PASSWORD, COMMAND_TIMEOUT,
};

/// The `docker` CLI pointed at the test daemon, with a configuration directory of its own.
/// Everything registered with [`Docker::remember`] is removed from the daemon on drop.
pub struct Docker {
    host: String,
    config: tempfile::TempDir,
    created: Vec<String>,
}

impl Docker {
    pub fn new() -> Docker {
        let host = std::env::var("BERTH_TEST_DOCKER_HOST").unwrap_or_else(|_| {
            panic!(
                "BERTH_TEST_DOCKER_HOST is not set: the e2e tests need the private Docker daemon \
                 that scripts/test starts; run them with scripts/test (or start a dockerd as \
                 scripts/test does and export BERTH_TEST_DOCKER_HOST=unix://…/docker.sock)"
            )
        });
        Docker {
            host,
            config: tempfile::tempdir().expect("DOCKER_CONFIG tempdir"),
            created: Vec::new(),
        }
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("docker");
        cmd.arg("-H")
            .arg(&self.host)
            .args(args)
            .env("DOCKER_CONFIG", self.config.path())
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// `docker ARGS` with Docker Content Trust on, `server` (`https://host:port`) as the trust
    /// server with `ca_pem` trusted where the CLI looks for it, and the passphrases for new keys
    /// given.
    pub fn trusted(&self, server: &str, ca_pem: &str, args: &[&str]) -> tokio::process::Command {
        let host = server.trim_start_matches("https://");
        let dir = self.config.path().join("tls").join(host);
        std::fs::create_dir_all(&dir).expect("tls dir");
        std::fs::write(dir.join("ca.crt"), ca_pem).expect("write CA certificate");
        let mut cmd = self.command(args);
        cmd.env("DOCKER_CONTENT_TRUST", "1")
            .env("DOCKER_CONTENT_TRUST_SERVER", server)
            .env(
                "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
                "root key passphrase",
            )
            .env(
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
                "repository key passphrase",
            );
        cmd
    }

    /// Runs `docker ARGS`, which must succeed; returns its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        run_command_ok(self.command(args)).await.stdout_text()
    }

    /// `docker login` to the test app as its administrator, with the password.
    pub async fn login(&self, app: &TestApp) {
        let out = self
            .ok(&[
                "login",
                "--username",
                ADMIN,
                "--password",
                ADMIN_PASSWORD,
                &app.host(),
            ])
            .await;
        assert!(out.contains("Login Succeeded"), "{out}");
    }

    /// `docker login --password-stdin` as `user` with `secret` (a password or an access
    /// token) written to its standard input, as the token page tells a user to; whatever the
    /// outcome.
    pub async fn login_stdin(&self, host: &str, user: &str, secret: &str) -> CommandOutput {
        use tokio::io::AsyncWriteExt as _;
        let mut cmd = self.command(&["login", "--username", user, "--password-stdin", host]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start docker login");
        let mut stdin = child.stdin.take().expect("docker login stdin");
        stdin
            .write_all(secret.as_bytes())
            .await
            .expect("write the secret to docker login");
        drop(stdin);
        let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("docker login did not finish within {COMMAND_TIMEOUT:?}"))
            .expect("wait for docker login");
        CommandOutput {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// Runs `docker ARGS`, whatever its outcome.
    pub async fn run(&self, args: &[&str]) -> CommandOutput {
        run_command(self.command(args)).await
    }

    /// An image reference or id to remove when the test ends (most recently remembered first).
    pub fn remember(&mut self, reference: &str) {
        self.created.push(reference.to_owned());
    }

    /// Builds the context directory `ctx` as `tag`; returns the image id.
    pub async fn build(&mut self, ctx: &Path, tag: &str) -> String {
        self.remember(tag);
        let ctx = ctx.to_str().expect("utf-8 path");
        self.ok(&["build", "--force-rm", "-t", tag, ctx]).await;
        let id = self.image_id(tag).await;
        self.remember(&id);
        id
    }

    pub async fn image_id(&self, reference: &str) -> String {
        let id = self
            .ok(&["image", "inspect", "-f", "{{.Id}}", reference])
            .await;
        let id = id.trim().to_owned();
        assert!(id.starts_with("sha256:"), "image id of {reference}: {id}");
        id
    }

    /// The image's layers, as uncompressed digests (what `docker push` names layers by).
    pub async fn diff_ids(&self, reference: &str) -> Vec<String> {
        let out = self
            .ok(&[
                "image",
                "inspect",
                "-f",
                "{{json .RootFS.Layers}}",
                reference,
            ])
            .await;
        serde_json::from_str(out.trim()).expect("RootFS.Layers is a JSON list of strings")
    }

    pub async fn repo_digests(&self, reference: &str) -> Vec<String> {
        let out = self
            .ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", reference])
            .await;
        serde_json::from_str(out.trim()).expect("RepoDigests is a JSON list of strings")
    }

    /// Whether the daemon still has an image (by id or reference).
    pub async fn has_image(&self, reference: &str) -> bool {
        self.run(&["image", "inspect", reference])
            .await
            .status
            .success()
    }
}

impl Drop for Docker {
    /// Best effort: removes every remembered tag and image (children before their bases), so the
    /// daemon's vfs data root does not grow from run to run.
    fn drop(&mut self) {
        let host = self.host.clone();
        let config = self.config.path().to_owned();
        let created: Vec<String> = self.created.drain(..).rev().collect();
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                for reference in created {
                    let mut cmd = tokio::process::Command::new("docker");
                    cmd.arg("-H")
                        .arg(&host)
                        .args(["rmi", "-f", &reference])
                        .env("DOCKER_CONFIG", &config)
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .kill_on_drop(true);
                    if let Ok(child) = cmd.spawn() {
                        let _ =
                            tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A fresh, unique line of text.
pub fn random_text() -> String {
    format!("{}\n", uuid::Uuid::new_v4())
}

/// A build context: each `(name, contents)` file, and a Dockerfile of `dockerfile`.
pub fn build_context(dockerfile: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("build context tempdir");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).expect("write context file");
    }
    dir
}
