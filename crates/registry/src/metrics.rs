//! The counters the domain crates keep for Prometheus: one handle, made once at start and
//! cloned into every service that counts (cloning shares the counters). It lives here, at the
//! bottom of the crate graph, so that every domain crate can take it; the server registers it
//! with the HTTP metrics and serves them all.
//!
//! Every label value is one of a fixed few, so no series is made per repository, user or path.
//! Gauges that are really database counts (queue depths) are not kept here: the server reads
//! them when it is scraped, so that they are right across several replicas.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// A label set of one label.
type One = [(&'static str, &'static str); 1];
/// A label set of two labels.
type Two = [(&'static str, &'static str); 2];

/// How a login (a password, access token or robot secret checked) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    Success,
    /// Wrong name or secret.
    Failure,
    /// Refused with `429` before it was checked (too many failures, or no hashing worker free).
    Throttled,
}

impl LoginResult {
    const ALL: [LoginResult; 3] = [
        LoginResult::Success,
        LoginResult::Failure,
        LoginResult::Throttled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::Failure => "failure",
            LoginResult::Throttled => "throttled",
        }
    }
}

/// What a login presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Password,
    Token,
    Robot,
}

impl Credential {
    const ALL: [Credential; 3] = [Credential::Password, Credential::Token, Credential::Robot];

    fn as_str(self) -> &'static str {
        match self {
            Credential::Password => "password",
            Credential::Token => "token",
            Credential::Robot => "robot",
        }
    }
}

/// What became of a webhook delivery whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// It is tried again later.
    Retry,
    /// No attempt is left (or the webhook was switched off): it failed for good.
    Failed,
    /// The SSRF guard refused the target.
    Refused,
}

impl DeliveryFailure {
    const ALL: [DeliveryFailure; 3] = [
        DeliveryFailure::Retry,
        DeliveryFailure::Failed,
        DeliveryFailure::Refused,
    ];

    fn as_str(self) -> &'static str {
        match self {
            DeliveryFailure::Retry => "retry",
            DeliveryFailure::Failed => "failed",
            DeliveryFailure::Refused => "refused",
        }
    }
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildOutcome {
    Success,
    Failed,
    Cancelled,
}

impl BuildOutcome {
    const ALL: [BuildOutcome; 3] = [
        BuildOutcome::Success,
        BuildOutcome::Failed,
        BuildOutcome::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            BuildOutcome::Success => "success",
            BuildOutcome::Failed => "failed",
            BuildOutcome::Cancelled => "cancelled",
        }
    }
}

/// The domain counters. `Default` makes a handle nobody reads (for tools and tests that do not
/// serve metrics).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    blob_bytes_received: Counter,
    blob_bytes_sent: Counter,
    uploads_in_flight: Gauge,
    manifest_cache: Family<One, Counter>,
    gc_runs: Family<Two, Counter>,
    gc_bytes_freed: Counter,
    logins: Family<Two, Counter>,
    webhook_delivery_failures: Family<One, Counter>,
    builds_finished: Family<One, Counter>,
}

impl Metrics {
    /// Adds every counter to `registry`, each labelled series at zero from the start (so a
    /// rate over it is defined before the first event).
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "blob_upload_received",
            "Bytes received into blob uploads",
            Unit::Bytes,
            self.blob_bytes_received.clone(),
        );
        registry.register_with_unit(
            "blob_pull_sent",
            "Bytes of blobs streamed to pulls",
            Unit::Bytes,
            self.blob_bytes_sent.clone(),
        );
        registry.register(
            "blob_uploads_in_flight",
            "Blob upload requests streaming a body into this server now",
            self.uploads_in_flight.clone(),
        );
        for result in ["hit", "miss"] {
            at_zero(&self.manifest_cache, &[("result", result)]);
        }
        registry.register(
            "manifest_cache_requests",
            "Manifest reads by whether the in-memory cache answered them",
            self.manifest_cache.clone(),
        );
        for mode in ["collect", "dry_run"] {
            for result in ["done", "failed"] {
                at_zero(&self.gc_runs, &[("mode", mode), ("result", result)]);
            }
        }
        registry.register(
            "gc_runs",
            "Garbage collections by mode and result",
            self.gc_runs.clone(),
        );
        registry.register_with_unit(
            "gc_freed",
            "Bytes of blobs garbage collection deleted",
            Unit::Bytes,
            self.gc_bytes_freed.clone(),
        );
        for credential in Credential::ALL {
            for result in LoginResult::ALL {
                at_zero(&self.logins, &login_labels(credential, result));
            }
        }
        registry.register(
            "logins",
            "Credential checks (web, API, token service, registry Basic auth) by what was presented and how they ended",
            self.logins.clone(),
        );
        for outcome in DeliveryFailure::ALL {
            at_zero(
                &self.webhook_delivery_failures,
                &[("outcome", outcome.as_str())],
            );
        }
        registry.register(
            "webhook_delivery_failures",
            "Webhook delivery attempts that failed, by what became of the delivery",
            self.webhook_delivery_failures.clone(),
        );
        for outcome in BuildOutcome::ALL {
            at_zero(&self.builds_finished, &[("outcome", outcome.as_str())]);
        }
        registry.register(
            "builds_finished",
            "Automated builds that ended, by outcome",
            self.builds_finished.clone(),
        );
    }

    /// Bytes of a blob upload came in.
    pub fn blob_received(&self, bytes: usize) {
        self.blob_bytes_received.inc_by(bytes as u64);
    }

    /// Bytes of a blob went out to a pull.
    pub fn blob_sent(&self, bytes: usize) {
        self.blob_bytes_sent.inc_by(bytes as u64);
    }

    /// Counts an upload request as streaming until the guard is dropped.
    pub fn upload_started(&self) -> InFlight {
        self.uploads_in_flight.inc();
        InFlight(self.uploads_in_flight.clone())
    }

    /// A manifest read the cache answered (`hit`) or the database did.
    pub fn manifest_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.manifest_cache
            .get_or_create(&[("result", result)])
            .inc();
    }

    /// A garbage collection ended; `freed` bytes of blobs are gone (none in a dry run).
    pub fn gc_run(&self, dry_run: bool, done: bool, freed: u64) {
        let mode = if dry_run { "dry_run" } else { "collect" };
        let result = if done { "done" } else { "failed" };
        self.gc_runs
            .get_or_create(&[("mode", mode), ("result", result)])
            .inc();
        if !dry_run {
            self.gc_bytes_freed.inc_by(freed);
        }
    }

    pub fn login(&self, credential: Credential, result: LoginResult) {
        self.logins
            .get_or_create(&login_labels(credential, result))
            .inc();
    }

    pub fn webhook_delivery_failed(&self, outcome: DeliveryFailure) {
        self.webhook_delivery_failures
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc();
    }

    pub fn builds_finished(&self, outcome: BuildOutcome, n: u64) {
        self.builds_finished
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc_by(n);
    }
}

/// Makes a labelled series exist, at zero, before its first event.
fn at_zero<S: Clone + Eq + std::hash::Hash>(family: &Family<S, Counter>, labels: &S) {
    drop(family.get_or_create(labels));
}

fn login_labels(credential: Credential, result: LoginResult) -> Two {
    [
        ("credential", credential.as_str()),
        ("result", result.as_str()),
    ]
}

/// An upload request streaming now; it stops counting when dropped, however the request ends.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
