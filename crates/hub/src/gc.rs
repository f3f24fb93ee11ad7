//! Running garbage collection: on a schedule inside `berth serve`, from `berth gc`, or when a
//! site administrator asks through the API. This is where the registry's collection
//! ([`berth_registry::lifecycle::gc`]) meets the other stores: trust data pins the manifests
//! it signs, and every run is audited.

use std::path::PathBuf;
use std::time::Duration;

use berth_accounts::audit;
use berth_registry::lifecycle::gc::{self, Lock, Options, Progress, Report};
use berth_registry::lifecycle::retention;
use berth_registry::Registry;
use berth_trust::Trust;

use crate::{Hub, Result};

/// The `[gc]` settings.
#[derive(Debug, Clone)]
pub struct GcConfig {
    /// How often `berth serve` collects; `None`: never on its own.
    pub schedule: Option<Duration>,
    /// How old unreferenced blobs and links must be before they are freed.
    pub grace: Duration,
    /// How long untagged, unreferenced manifests are kept; `None`: forever.
    pub untagged_after: Option<Duration>,
    /// How long an upload session may sit untouched.
    pub uploads_after: Duration,
    /// The lock file that keeps collections apart on SQLite (`<data_dir>/gc.lock`).
    pub lock_file: PathBuf,
}

impl GcConfig {
    pub fn new(lock_file: PathBuf) -> Self {
        GcConfig {
            schedule: Some(Duration::from_secs(24 * 3600)),
            grace: Duration::from_secs(3600),
            untagged_after: Some(Duration::from_secs(7 * 24 * 3600)),
            uploads_after: Duration::from_secs(24 * 3600),
            lock_file,
        }
    }
}

/// One collection to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub dry_run: bool,
    /// Overrides the configured grace period.
    pub grace: Option<Duration>,
    /// `schedule`, `cli` or `api`.
    pub trigger: &'static str,
    /// Who asked (a user's name, or `system`).
    pub actor: String,
}

/// How a request to collect ended.
#[derive(Debug)]
pub enum Outcome {
    Done(Report),
    /// Another collection holds the lock.
    Busy,
}

/// Parses a duration such as `90s`, `15m`, `1h`, `7d` or `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration".to_owned());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => {
                return Err(format!(
                    "{text:?}: unknown unit {c:?} (use s, m, h, d or w)"
                ))
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: a unit needs a number before it"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("{text:?}: the last number has no unit"));
    }
    Ok(Duration::from_secs(total))
}

/// A duration as people write it: `7d`, `1h30m`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

impl Hub {
    /// Collects garbage unless another collection is running: gathers what trust data signs,
    /// collects, and audits the run (`gc.run`, or `gc.dry_run`).
    pub async fn collect_garbage(
        &self,
        registry: &Registry,
        trust: &Trust,
        config: &GcConfig,
        request: Request,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Outcome> {
        let Some(mut lock) = Lock::try_acquire(registry, &config.lock_file).await? else {
            return Ok(Outcome::Busy);
        };
        let result = self
            .collect_locked(registry, trust, config, &request, &mut lock, progress)
            .await;
        lock.release().await;
        let report = result?;
        let action = if report.dry_run {
            "gc.dry_run"
        } else {
            "gc.run"
        };
        let detail = format!(
            "{} tags by retention rules, {} manifests, {} blobs ({} bytes), {} links, {} uploads, {} stray files in {} ms ({})",
            report.tags_deleted,
            report.manifests_deleted,
            report.blobs_deleted,
            report.bytes_freed,
            report.links_deleted,
            report.uploads_deleted,
            report.files_deleted,
            report.duration_ms,
            request.trigger
        );
        audit::record(&self.accounts.db, &request.actor, action, "", &detail).await?;
        Ok(Outcome::Done(report))
    }

    async fn collect_locked(
        &self,
        registry: &Registry,
        trust: &Trust,
        config: &GcConfig,
        request: &Request,
        lock: &mut Lock,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Report> {
        // Retention rules go first, so what they untag can be collected in the same run.
        let now = berth_registry::clock::now();
        let tags = if request.dry_run {
            retention::dry_run(registry, now).await?
        } else {
            let deleted = retention::apply(registry, now).await?;
            for t in &deleted {
                audit::record(
                    &self.accounts.db,
                    "system",
                    "retention.delete",
                    &format!("{}:{}", t.repository, t.tag),
                    &t.digest,
                )
                .await?;
            }
            deleted
        };
        let pinned = trust.pinned_manifests(registry).await?;
        let options = Options {
            dry_run: request.dry_run,
            grace: request.grace.unwrap_or(config.grace),
            untagged_after: config.untagged_after,
            uploads_after: config.uploads_after,
            pinned,
            trigger: request.trigger.to_owned(),
            actor: request.actor.clone(),
            tags_deleted: tags.len() as u64,
        };
        Ok(gc::collect(registry, lock, &options, progress).await?)
    }
}

/// Collects on `config.schedule`, from every replica: the lock lets one run at a time, and a
/// replica skips its turn when another finished a run less than a period ago.
pub async fn run_on_schedule(
    hub: std::sync::Arc<Hub>,
    registry: std::sync::Arc<Registry>,
    trust: std::sync::Arc<Trust>,
    config: GcConfig,
) {
    let Some(period) = config.schedule else {
        return;
    };
    // Without a run on record, the first is a period after start, not at every boot.
    let started = berth_registry::clock::now();
    loop {
        let last = gc::last_finished(&registry).await.ok().flatten();
        let now = berth_registry::clock::now();
        let due = last
            .unwrap_or(started)
            .saturating_add(period.as_secs() as i64);
        if due > now {
            let wait = Duration::from_secs((due - now) as u64);
            tokio::time::sleep(wait.min(period)).await;
            continue;
        }
        let request = Request {
            dry_run: false,
            grace: None,
            trigger: "schedule",
            actor: "system".to_owned(),
        };
        match hub
            .collect_garbage(&registry, &trust, &config, request, &|_| {})
            .await
        {
            Ok(Outcome::Done(r)) => tracing::info!(
                manifests = r.manifests_deleted,
                blobs = r.blobs_deleted,
                bytes = r.bytes_freed,
                ms = r.duration_ms,
                "garbage collected"
            ),
            Ok(Outcome::Busy) => {}
            Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
        }
        // Whatever happened, the next try is a period away (a failure is not retried at once).
        tokio::time::sleep(period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("1h5").is_err());
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(604800)), "7d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
