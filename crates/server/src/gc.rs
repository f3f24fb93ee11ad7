//! `berth gc`: garbage collection by hand, beside the schedule `berth serve` keeps.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use berth_hub::gc::{parse_duration, Outcome, Request};
use berth_registry::lifecycle::gc::{Progress, Report};
use berth_web::images::human_size;

use crate::app::State;
use crate::config::{Args, Config};

/// Exit status when another collection holds the lock (`EX_TEMPFAIL`: try again later).
pub const BUSY: u8 = 75;

/// Flags of `berth gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Report what would be freed without deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// How old unreferenced blobs must be to be freed (e.g. `0s`, `30m`, `1h`); default:
    /// `[gc] grace`, one hour unless configured.
    #[arg(long, value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// The same database and data flags as `serve`.
    #[command(flatten)]
    pub args: Args,
}

/// Runs one collection and prints its summary: exit status 0 when it ran, [`BUSY`] when
/// another collection is running; failures are errors (status 1).
pub async fn run(gc: GcArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&gc.args)?;
    let state = State::build(&config).await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_message(p.phase.as_str());
            bar.set_length(p.total.max(1));
            bar.set_position(p.done);
        }
    };
    let request = Request {
        dry_run: gc.dry_run,
        grace: gc.grace,
        trigger: "cli",
        actor: "admin (command line)".to_owned(),
    };
    let outcome = state
        .hub
        .collect_garbage(
            &state.registry,
            &state.trust,
            &config.gc,
            request,
            &progress,
        )
        .await
        .map_err(|e| anyhow::anyhow!("garbage collection failed: {e}"));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match outcome? {
        Outcome::Busy => {
            eprintln!("another garbage collection is running; try again when it has finished");
            Ok(ExitCode::from(BUSY))
        }
        Outcome::Done(report) => {
            print!("{}", summary(&report));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The summary printed at the end of a run.
pub fn summary(r: &Report) -> String {
    let verb = if r.dry_run { "would free" } else { "freed" };
    let mut out = format!(
        "garbage collection {} in {:.1} s{}\n",
        if r.dry_run { "dry run done" } else { "done" },
        r.duration_ms as f64 / 1000.0,
        if r.dry_run {
            " (nothing was deleted)"
        } else {
            ""
        }
    );
    out.push_str(&format!(
        "  {verb} {} in {} blobs\n",
        human_size(r.bytes_freed as i64),
        r.blobs_deleted
    ));
    for (what, n) in [
        ("tags (retention rules)", r.tags_deleted),
        ("manifests", r.manifests_deleted),
        ("blob links", r.links_deleted),
        ("upload sessions", r.uploads_deleted),
        ("stray files", r.files_deleted),
    ] {
        out.push_str(&format!("  {what}: {n}\n"));
    }
    out
}
