//! The three-node Garage cluster (replication factor 3) that `scripts/test` starts on loopback
//! and names in `BERTH_TEST_GARAGE`: a directory with the cluster's `env` (endpoint, bucket,
//! key) and each node's configuration and pid file, so a test may stop a node and start it
//! again. Every test stores under a prefix of its own in the one bucket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_registry::storage::S3Settings;

pub struct Garage {
    dir: PathBuf,
    env: HashMap<String, String>,
}

impl Garage {
    pub fn new() -> Garage {
        let dir = std::env::var("BERTH_TEST_GARAGE").unwrap_or_else(|_| {
            panic!(
                "BERTH_TEST_GARAGE is not set: the scale-out tests need the Garage cluster \
                 scripts/test starts (run scripts/test, or `source scripts/lib/garage.sh; \
                 start_garage DIR` and export BERTH_TEST_GARAGE=DIR)"
            )
        });
        let dir = PathBuf::from(dir);
        let text = std::fs::read_to_string(dir.join("env")).expect("read the Garage env file");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Garage { dir, env }
    }

    fn var(&self, name: &str) -> String {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the Garage env file"))
            .clone()
    }

    pub fn endpoint(&self) -> String {
        self.var("GARAGE_ENDPOINT")
    }

    pub fn bucket(&self) -> String {
        self.var("GARAGE_BUCKET")
    }

    pub fn region(&self) -> String {
        self.var("GARAGE_REGION")
    }

    pub fn key_id(&self) -> String {
        self.var("GARAGE_KEY_ID")
    }

    pub fn secret(&self) -> String {
        self.var("GARAGE_SECRET")
    }

    /// Settings for the bucket, under a new prefix of their own.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            bucket: self.bucket(),
            endpoint: Some(self.endpoint()),
            region: self.region(),
            access_key_id: self.key_id(),
            secret_access_key: self.secret(),
            prefix: format!("test-{}", uuid::Uuid::new_v4().simple()),
            public_endpoint: None,
        }
    }

    /// The environment that points `berth serve` at the bucket (its prefix is set apart).
    pub fn serve_env(&self) -> Vec<(String, String)> {
        vec![
            ("BERTH_STORAGE_BACKEND".into(), "s3".into()),
            ("BERTH_STORAGE_BUCKET".into(), self.bucket()),
            ("BERTH_STORAGE_ENDPOINT".into(), self.endpoint()),
            ("BERTH_STORAGE_REGION".into(), self.region()),
            ("AWS_ACCESS_KEY_ID".into(), self.key_id()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret()),
        ]
    }

    fn pid_file(&self, node: u8) -> PathBuf {
        self.dir.join(format!("node{node}.pid"))
    }

    /// Stops node `node` (SIGKILL, as a machine that dies) and waits until it is gone.
    pub fn stop_node(&self, node: u8) {
        let pid = std::fs::read_to_string(self.pid_file(node)).expect("node pid file");
        let pid = pid.trim();
        let killed = Command::new("kill")
            .args(["-KILL", pid])
            .status()
            .expect("kill");
        assert!(killed.success(), "kill garage node {node}");
        for _ in 0..100 {
            if !PathBuf::from(format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("garage node {node} did not stop");
    }

    /// Starts node `node` again with its own configuration and data.
    pub fn start_node(&self, node: u8) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join(format!("node{node}.log")))
            .expect("node log");
        let child = Command::new("garage")
            .arg("-c")
            .arg(self.dir.join(format!("node{node}.toml")))
            .arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start garage node");
        std::fs::write(self.pid_file(node), child.id().to_string()).expect("write pid");
        // Reaped by nobody until the cluster stops: scripts/test stops it by its pid file.
        std::mem::forget(child);
        let port: u16 = std::fs::read_to_string(self.dir.join(format!("node{node}.s3port")))
            .expect("node port")
            .trim()
            .parse()
            .expect("port");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("garage node {node} did not start");
    }
}
