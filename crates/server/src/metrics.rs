//! Prometheus metrics: one registry made at start, holding the HTTP layer's request counts and
//! latencies (recorded by the request middleware in [`crate::app`]) and the domain crates'
//! counters ([`berth_registry::metrics::Metrics`]), plus the gauges read from the database
//! and the pool when scraped.
//!
//! They are served as OpenMetrics text on a listener of their own (`[metrics] listen`,
//! [`crate::app::metrics_server`]), never on the public one: anonymous callers on the internet
//! cannot read them.

use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use berth_builds::Builds;
use berth_webhooks::Webhooks;
use sqlx::AnyPool;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `route` and `status` of a request.
type RequestLabels = ([(&'static str, &'static str); 1], [(&'static str, u16); 1]);
type RouteLabel = [(&'static str, &'static str); 1];

/// Latency buckets, in seconds: a cached manifest takes well under a millisecond, a large blob
/// upload many seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric Berth serves.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    /// The domain crates' counters; every service that counts holds a clone.
    pub domain: berth_registry::metrics::Metrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("berth");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered on the public listener, by route class and status code",
            requests.clone(),
        );
        let latency = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival until its response head was ready, by route class",
            Unit::Seconds,
            latency.clone(),
        );
        let domain = berth_registry::metrics::Metrics::default();
        domain.register(&mut registry);
        Metrics {
            registry,
            requests,
            latency,
            domain,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&([("route", route)], [("status", status)]))
            .inc();
        self.latency
            .get_or_create(&[("route", route)])
            .observe(elapsed.as_secs_f64());
    }

    /// The whole exposition: what was counted, then what the pool and the database say now.
    pub async fn render(&self, pool: &AnyPool, webhooks: &Webhooks, builds: &Builds) -> String {
        let mut now = Registry::with_prefix("berth");
        let connections = Family::<RouteLabel, Gauge>::default();
        let idle = pool.num_idle() as i64;
        connections.get_or_create(&[("state", "idle")]).set(idle);
        connections
            .get_or_create(&[("state", "in_use")])
            .set(i64::from(pool.size()) - idle);
        now.register(
            "db_connections",
            "Database pool connections by state",
            connections,
        );
        let max = Gauge::<i64>::default();
        max.set(i64::from(pool.options().get_max_connections()));
        now.register(
            "db_connections_max",
            "Most connections the database pool opens",
            max,
        );
        // A count the database cannot give now is left out rather than shown stale.
        match berth_webhooks::deliveries::pending_count(webhooks).await {
            Ok(n) => {
                let g = Gauge::<i64>::default();
                g.set(n);
                now.register(
                    "webhook_queue_depth",
                    "Webhook deliveries waiting to be sent or retried, over every server",
                    g,
                );
            }
            Err(e) => tracing::warn!(error = %e, "counting pending webhook deliveries"),
        }
        match berth_builds::queue::queued_count(builds).await {
            Ok(n) => {
                let g = Gauge::<i64>::default();
                g.set(n);
                now.register(
                    "build_queue_depth",
                    "Automated builds waiting for a worker, over every server",
                    g,
                );
            }
            Err(e) => tracing::warn!(error = %e, "counting queued builds"),
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &now))
            .and_then(|()| encode_eof(&mut out));
        out
    }
}

/// The route class of a request: a small fixed set, never the path itself (paths would make a
/// series per repository). `routed` says whether any route of the app matches the path, and is
/// asked only of paths that no prefix classifies.
pub fn route_class(path: &str, routed: impl FnOnce() -> bool) -> &'static str {
    if path == "/v2" || path == "/v2/" {
        return "registry_other";
    }
    if let Some(tail) = path.strip_prefix("/v2/") {
        return registry_class(tail);
    }
    if path == "/auth/token" {
        return "token";
    }
    if path.starts_with("/api/") || path == "/v1/search" || path.starts_with("/build-hooks/") {
        return "api";
    }
    if path.starts_with("/static/") {
        return "static";
    }
    if path == "/healthz" || path == "/readyz" {
        return "health";
    }
    if routed() {
        "page"
    } else {
        "other"
    }
}

/// As the registry parses its paths: from their end, since repository names hold slashes.
fn registry_class(tail: &str) -> &'static str {
    if tail.contains("/_trust/tuf/") {
        return "registry_other";
    }
    let Some((prefix, last)) = tail.rsplit_once('/') else {
        return "registry_other";
    };
    if prefix.ends_with("/blobs/uploads") || (prefix.ends_with("/blobs") && last == "uploads") {
        "registry_upload"
    } else if prefix.ends_with("/blobs") {
        "registry_blob"
    } else if prefix.ends_with("/manifests") {
        "registry_manifest"
    } else {
        "registry_other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_few_classes() {
        let never = || panic!("a prefix decides this path");
        for (path, class) in [
            ("/v2/", "registry_other"),
            ("/v2", "registry_other"),
            ("/v2/_catalog", "registry_other"),
            ("/v2/a/b/tags/list", "registry_other"),
            ("/v2/a/b/blobs/sha256:abc", "registry_blob"),
            ("/v2/a/blobs/b/blobs/sha256:abc", "registry_blob"),
            ("/v2/a/b/blobs/uploads/", "registry_upload"),
            ("/v2/a/b/blobs/uploads", "registry_upload"),
            (
                "/v2/a/b/blobs/uploads/1f2e3d4c-0000-4000-8000-000000000000",
                "registry_upload",
            ),
            ("/v2/a/b/manifests/latest", "registry_manifest"),
            ("/v2/a/manifests/b/referrers/sha256:abc", "registry_other"),
            ("/v2/a/b/_trust/tuf/root.json", "registry_other"),
            ("/auth/token", "token"),
            ("/api/v1/user", "api"),
            ("/v1/search", "api"),
            ("/build-hooks/7", "api"),
            ("/static/berth.css", "static"),
            ("/healthz", "health"),
            ("/readyz", "health"),
        ] {
            assert_eq!(route_class(path, never), class, "{path}");
        }
        assert_eq!(route_class("/r/a/b", || true), "page");
        assert_eq!(route_class("/wp-login.php", || false), "other");
    }
}
