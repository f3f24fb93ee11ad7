//! A throwaway PostgreSQL 15 cluster owned by one test, on a free loopback port, so that the
//! test may restart it. Stopped (immediately) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::is_root;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (PostgreSQL refuses to run as
/// root), otherwise as ourselves.
fn pg_command(tool: &str, cwd: &Path) -> Command {
    let path = format!("{PG_BIN}/{tool}");
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    };
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// `initdb` and start a new cluster.
    pub fn start() -> PgCluster {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "this test needs PostgreSQL 15 in {PG_BIN} (apt-get install postgresql-15)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown",
            );
        }
        let port = super::binary::free_port();
        let cluster = PgCluster { dir, port };
        let mut initdb = pg_command("initdb", cluster.dir.path());
        initdb.arg("-D").arg(cluster.data()).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run(initdb, "initdb");
        cluster.pg_ctl("start");
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `pg_ctl <action>` (`start`, `restart`), waiting for it to finish.
    fn pg_ctl(&self, action: &str) {
        let mut cmd = pg_command("pg_ctl", self.dir.path());
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-m", "fast", "-w", "-t", "30", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.path().display()
            ))
            .arg(action);
        // The server's output goes to the log file, never to the test's pipes.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let status = cmd.status().expect("pg_ctl");
        assert!(status.success(), "pg_ctl {action} failed: {}", self.log());
    }

    /// `pg_ctl restart -m fast`: every connection is cut, and the server comes back.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// `pg_ctl stop -m fast`: every connection is cut, and the server stays down.
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// `pg_ctl start` after [`PgCluster::stop`].
    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut cmd = pg_command("pg_ctl", self.dir.path());
        cmd.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().ok();
    }
}
