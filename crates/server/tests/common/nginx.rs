//! Debian's nginx as the load balancer in front of several `berth serve` replicas, on a free
//! loopback port, with no stickiness: requests go round-robin (or to a primary with a backup),
//! and its access log names the replica that answered each one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::binary::free_port;

pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

/// How requests are spread over the replicas.
pub enum Balance {
    RoundRobin,
    /// Everything to the first until it fails, then the others.
    Failover,
}

impl Nginx {
    /// Starts nginx in `dir` in front of the replicas listening on `ports`.
    pub fn start(dir: &Path, ports: &[u16], balance: Balance) -> Nginx {
        let port = free_port();
        let dir = dir.join("nginx");
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx dir");
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let backup = matches!(balance, Balance::Failover) && i > 0;
                format!(
                    "server 127.0.0.1:{p} max_fails=1 fail_timeout=30s{};\n",
                    if backup { " backup" } else { "" }
                )
            })
            .collect();
        let d = dir.display();
        let conf = format!(
            r#"daemon off;
# One process, so that stopping it (SIGKILL in Drop) leaves no workers behind.
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    log_format replicas '$upstream_addr $request_method $uri $status';
    access_log {d}/access.log replicas;
    upstream berth {{
        {servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        location / {{
            proxy_pass http://berth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 600s;
            proxy_send_timeout 600s;
        }}
    }}
}}
"#
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let mut child = Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx (apt-get install nginx)");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx { child, dir, port };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        child.kill().ok();
        child.wait().ok();
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The access log: one line per request, `upstream method path status`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
