//! The background sender: claims due deliveries from the outbox, posts them (signed, through the
//! SSRF guard, never following redirects) with bounded concurrency, and records each attempt.
//! Delivery is at least once: a delivery whose sender died mid-attempt is sent again when its
//! lease runs out.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::deliveries::{self, Attempt, Claimed};
use crate::guard::{self, GuardedResolver, Refused};
use crate::hooks::Config;
use crate::{Error, Result, Webhooks};

/// How much of a receiver's answer the log keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// `sha256=<hex HMAC-SHA256 of body with secret>`, the `X-Berth-Signature-256` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts deliveries: `guarded` resolves names through the SSRF guard; `direct` is for
/// endpoints the allowlist names.
pub struct Sender {
    guarded: reqwest::Client,
    direct: reqwest::Client,
    config: Config,
}

impl Sender {
    pub fn new(config: &Config) -> Result<Sender> {
        berth_accounts::install_tls_provider();
        let build = |guarded: bool| {
            let mut b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(config.timeout)
                .timeout(config.timeout)
                .user_agent(concat!("Berth-Webhooks/", env!("CARGO_PKG_VERSION")));
            if guarded {
                b = b.dns_resolver(Arc::new(GuardedResolver {
                    allow: config.allowed_targets.clone(),
                }));
            }
            b.build()
                .map_err(|e| Error::Internal(format!("webhook HTTP client: {e}")))
        };
        Ok(Sender {
            guarded: build(true)?,
            direct: build(false)?,
            config: config.clone(),
        })
    }

    /// Makes one attempt at a delivery.
    pub async fn attempt(&self, c: &Claimed) -> Attempt {
        if !c.active {
            return Attempt {
                error: "the webhook was switched off before this delivery was sent".into(),
                ..Attempt::default()
            };
        }
        self.post(&c.url, c.event.as_str(), &c.id, &c.payload, &c.secret)
            .await
    }

    /// Sends a `ping` to `url` now, on the same guarded path as every delivery (the "Send test"
    /// button), and says how it went.
    pub async fn ping(&self, url: &str, secret: &str, id: &str, body: &str) -> Attempt {
        self.post(url, "ping", id, body, secret).await
    }

    async fn post(&self, url: &str, event: &str, id: &str, body: &str, secret: &str) -> Attempt {
        let allow = &self.config.allowed_targets;
        let url = match guard::check_url(url, allow) {
            Ok(url) => url,
            Err(why) => {
                return Attempt {
                    error: why,
                    refused: true,
                    ..Attempt::default()
                }
            }
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let client = if allow.allows_endpoint(&host, port) {
            &self.direct
        } else {
            &self.guarded
        };
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Berth-Event", event)
            .header("X-Berth-Delivery", id)
            .body(body.to_owned());
        if !secret.is_empty() {
            req = req.header("X-Berth-Signature-256", signature(secret, body.as_bytes()));
        }
        // The response time: from sending until the receiver's answer (its status line and
        // headers) arrived; reading the excerpt afterwards is not the receiver's latency.
        let started = Instant::now();
        let sent = req.send().await;
        let duration_ms = started.elapsed().as_millis() as i64;
        match sent {
            Ok(mut resp) => {
                let status = resp.status();
                let mut excerpt = Vec::new();
                let mut error = String::new();
                while excerpt.len() < EXCERPT_BYTES {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Err(e) => {
                            error = format!("reading the response: {}", chain(&e));
                            break;
                        }
                    }
                }
                excerpt.truncate(EXCERPT_BYTES);
                if error.is_empty() && !status.is_success() {
                    error = format!("the receiver answered HTTP {status}");
                }
                Attempt {
                    response_status: Some(status.as_u16()),
                    duration_ms,
                    response_excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
                    error,
                    refused: false,
                }
            }
            Err(e) => {
                let refused = find_refusal(&e);
                Attempt {
                    duration_ms,
                    error: refused
                        .clone()
                        .unwrap_or_else(|| reason(&e, &host, self.config.timeout)),
                    refused: refused.is_some(),
                    ..Attempt::default()
                }
            }
        }
    }
}

/// Why a request got no answer, as the delivery log says it: a DNS failure, a refused
/// connection, a timeout, or the error itself.
fn reason(e: &reqwest::Error, host: &str, timeout: Duration) -> String {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if e.is_timeout() || io_kind(e) == Some(std::io::ErrorKind::TimedOut) {
        format!("timeout: no answer within {} s", timeout.as_secs_f32())
    } else if io_kind(e) == Some(std::io::ErrorKind::ConnectionRefused) {
        format!("connection refused: nothing listens at {host}")
    } else if lower.contains("dns error")
        || lower.contains("lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        format!("DNS failure: {host} could not be resolved ({detail})")
    } else if e.is_connect() {
        format!("connection failed: {detail}")
    } else {
        detail
    }
}

/// The kind of the I/O error under `e`, if there is one.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// The guard's reason, if the guard is why the request failed.
fn find_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cur = err.source();
    }
    None
}

/// An error with its causes, `a: b: c`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = err.source();
    }
    text
}

/// Starts the sender; it stops when the last user of `webhooks` is gone.
pub fn spawn(webhooks: &Arc<Webhooks>) -> Result<()> {
    let sender = Arc::new(Sender::new(&webhooks.config)?);
    let weak = Arc::downgrade(webhooks);
    tokio::spawn(run(weak, sender));
    Ok(())
}

async fn run(weak: Weak<Webhooks>, sender: Arc<Sender>) {
    let config = sender.config.clone();
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    // A sender that died mid-attempt leaves its lease behind: the delivery is tried again once it
    // runs out.
    let lease_ms = (config.timeout * 2 + Duration::from_secs(5)).as_millis() as i64;
    let mut pruned = Instant::now();
    loop {
        let Some(hooks) = weak.upgrade() else {
            break;
        };
        if pruned.elapsed() > Duration::from_secs(3600) {
            pruned = Instant::now();
            match deliveries::prune(&hooks).await {
                Ok(n) => tracing::debug!(deleted = n, "pruned the webhook delivery log"),
                Err(e) => tracing::warn!(error = %e, "pruning the webhook delivery log"),
            }
        }
        let wake = hooks.wake.clone();
        let mut wait = Duration::from_secs(1);
        let free = permits.available_permits();
        if free > 0 {
            match deliveries::claim(&hooks, free, lease_ms).await {
                Ok(batch) => {
                    for claimed in batch {
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            break;
                        };
                        let hooks = hooks.clone();
                        let sender = sender.clone();
                        tokio::spawn(async move {
                            let attempt = sender.attempt(&claimed).await;
                            let result =
                                deliveries::finish(&hooks, &sender.config, &claimed, &attempt)
                                    .await;
                            match result {
                                Ok(status) => tracing::info!(
                                    delivery = %claimed.id,
                                    status = status.as_str(),
                                    code = attempt.response_status,
                                    error = %attempt.error,
                                    "webhook delivery attempt"
                                ),
                                Err(e) => tracing::warn!(
                                    delivery = %claimed.id,
                                    error = %e,
                                    "recording a webhook delivery attempt"
                                ),
                            }
                            drop(permit);
                            hooks.wake.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries"),
            }
            if let Ok(Some(due)) = deliveries::next_due(&hooks).await {
                let until = (due - deliveries::now_ms()).clamp(10, 1000);
                wait = Duration::from_millis(until as u64);
            }
        }
        drop(hooks);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
