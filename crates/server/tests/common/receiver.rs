//! A real HTTP receiver for webhook deliveries, on loopback: it records every request, answers
//! with a status the test sets, and can be held shut (requests wait at the door) to play a slow
//! receiver.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub event: String,
    pub delivery: String,
    pub signature: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Whether the signature header is `sha256=<hex HMAC-SHA256 of the body with secret>`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(&self.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        self.signature.as_deref() == Some(expected.as_str())
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    /// Requests inside the handler right now (held ones included).
    waiting: AtomicUsize,
    /// While set, requests wait here until the gate opens.
    gate: Arc<tokio::sync::RwLock<()>>,
    held: Mutex<Option<tokio::sync::OwnedRwLockWriteGuard<()>>>,
}

pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 << 20))
                .default_service(web::to(handle))
        })
        .workers(2)
        .listen(listener)
        .expect("listen")
        .disable_signals()
        .shutdown_timeout(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            port,
            shared,
            handle,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answers every later request with `status`.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Holds requests at the door until [`Receiver::open`].
    pub async fn hold(&self) {
        let guard = self.shared.gate.clone().write_owned().await;
        *self.shared.held.lock().expect("lock") = Some(guard);
    }

    pub fn open(&self) {
        self.shared.held.lock().expect("lock").take();
    }

    /// Requests waiting at the door or being answered.
    pub fn in_flight(&self) -> usize {
        self.shared.waiting.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    /// Waits (up to `secs` seconds) until at least `n` requests were answered.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {n} expected requests within {secs}s",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    shared.waiting.fetch_add(1, Ordering::SeqCst);
    drop(shared.gate.read().await);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = shared.status.load(Ordering::SeqCst);
    shared.received.lock().expect("lock").push(Received {
        path: req.path().to_owned(),
        event: header("X-Berth-Event").unwrap_or_default(),
        delivery: header("X-Berth-Delivery").unwrap_or_default(),
        signature: header("X-Berth-Signature-256"),
        content_type: header("Content-Type").unwrap_or_default(),
        body: body.to_vec(),
        answered: status,
    });
    shared.waiting.fetch_sub(1, Ordering::SeqCst);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .body(format!("answered {status}"))
}
