//! The build worker: claims queued builds (up to `[builds] concurrency` at once), runs each one
//! (clone, build, push) under a lease it renews, stops it on cancel or timeout, and fails the
//! builds of servers that died while running them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};

use berth_accounts::service::RequestedScope;
use berth_registry::lifecycle::quota::human_size;

use crate::engine::Engine;
use crate::queue::{self, Build, Outcome, Status};
use crate::{dockerfile, git, sources, Builds, Error};

/// How often a running build renews its lease and looks for a cancel.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How often an idle worker looks for work that no wake-up announced (another replica's).
const POLL_EVERY: Duration = Duration::from_secs(5);
/// A build context larger than this is refused.
const MAX_CONTEXT_BYTES: u64 = 2 << 30;

/// Starts the worker when builds are on; it stops when the last user of `builds` is gone.
/// The Engine is reached per build, so it may start after Berth (or restart under it).
pub fn spawn(builds: &Arc<Builds>) {
    if builds.config.docker_host.is_none() {
        return;
    }
    let weak = Arc::downgrade(builds);
    let wake = builds.wake.clone();
    let slots = Arc::new(Semaphore::new(builds.config.concurrency.max(1)));
    tokio::spawn(async move {
        loop {
            let Some(builds) = weak.upgrade() else {
                break;
            };
            match queue::fail_interrupted(&builds).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(builds = n, "failed builds interrupted by a stop"),
                Err(e) => tracing::warn!(error = %e, "looking for interrupted builds"),
            }
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                match queue::claim(&builds).await {
                    Ok(Some(build)) => {
                        let builds = builds.clone();
                        tokio::spawn(async move {
                            run(&builds, build).await;
                            drop(permit);
                            builds.wake();
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a queued build");
                        break;
                    }
                }
            }
            drop(builds);
            let _ = tokio::time::timeout(POLL_EVERY, wake.notified()).await;
        }
    });
}

/// Runs one claimed build to its end and records how it ended.
async fn run(builds: &Arc<Builds>, build: Build) {
    let host = builds.config.docker_host.as_deref().unwrap_or_default();
    let engine = match Engine::connect(host, builds.config.timeout + Duration::from_secs(60)) {
        Ok(engine) => engine,
        Err(e) => {
            let outcome = Outcome::Failed(format!("the Docker Engine is not reachable: {e}"));
            if let Err(e) = queue::finish(builds, &build, &outcome).await {
                tracing::error!(id = build.id, error = %e, "recording how a build ended");
            }
            return;
        }
    };
    let engine = &engine;
    tracing::info!(id = build.id, repository = %build.repository, "build started");
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(write_log(builds.clone(), build.id, rx));
    let dir = builds.config.work_dir.join(format!("build-{}", build.id));
    let steps = steps(builds, engine, &build, &dir, tx.clone());
    let watch = watch(builds, build.id);
    let outcome = tokio::select! {
        r = tokio::time::timeout(builds.config.timeout, steps) => match r {
            Ok(Ok((digest, bases))) => Outcome::Success { digest, bases },
            Ok(Err(e)) => Outcome::Failed(e),
            Err(_) => Outcome::Failed(format!(
                "timed out after {}",
                humanize(builds.config.timeout)
            )),
        },
        why = watch => why,
    };
    let note = match &outcome {
        Outcome::Success { digest, .. } => format!("\nBuild succeeded: pushed {digest}\n"),
        Outcome::Failed(e) => format!("\nBuild failed: {e}\n"),
        Outcome::Cancelled(e) => format!("\nBuild {e}\n"),
    };
    let _ = tx.send(note);
    drop(tx);
    let _ = writer.await;
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "removing a build directory");
        }
    }
    let image = format!("{}/{}", builds.config.registry, build.repository);
    for tag in &build.tags {
        engine.remove(&format!("{image}:{tag}")).await;
    }
    if let Err(e) = queue::finish(builds, &build, &outcome).await {
        tracing::error!(id = build.id, error = %e, "recording how a build ended");
    }
}

/// Renews the lease until the build is cancelled or taken from this worker; returns why it
/// must stop.
async fn watch(builds: &Builds, id: i64) -> Outcome {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match queue::renew(builds, id, None).await {
            Ok(false) => {}
            Ok(true) => return Outcome::Cancelled("cancelled".into()),
            Err(Error::NotFound(_)) => {
                return Outcome::Failed("the build was taken over as interrupted".into())
            }
            Err(e) => tracing::warn!(id, error = %e, "renewing a build's lease"),
        }
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A log sink for the steps: every piece goes to the log writer.
fn logger(tx: &mpsc::UnboundedSender<String>) -> impl FnMut(&str) + Send + '_ {
    move |text: &str| {
        let _ = tx.send(text.to_owned());
    }
}

async fn set_status(builds: &Builds, id: i64, status: Status) -> Result<(), String> {
    queue::renew(builds, id, Some(status))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Clone, build, push. Returns the digest pushed and the base images in this registry.
async fn steps(
    builds: &Builds,
    engine: &Engine,
    build: &Build,
    dir: &Path,
    tx: mpsc::UnboundedSender<String>,
) -> Result<(String, Vec<(String, String)>), String> {
    let mut log = logger(&tx);
    let access = sources::access(builds, &build.repository)
        .await
        .map_err(|e| format!("reading the build source: {e}"))?;
    git::guard_host(&access.url, &builds.config.allowed_sources).await?;
    let commit = git::clone(
        &access,
        dir,
        build.ref_kind,
        &build.ref_name,
        build.commit.as_deref(),
        &mut log,
    )
    .await?;
    queue::set_commit(builds, build.id, &commit)
        .await
        .map_err(|e| e.to_string())?;

    set_status(builds, build.id, Status::Building).await?;
    let context = dir.join("src").join(&build.context);
    let dockerfile_path = context.join(&build.dockerfile);
    let text = tokio::fs::read_to_string(&dockerfile_path)
        .await
        .map_err(|e| {
            format!(
                "reading {} in context {}: {e}",
                build.dockerfile, build.context
            )
        })?;
    let registry = builds.config.registry.as_str();
    let bases: Vec<(String, String)> = dockerfile::base_images(&text, &build.build_args)
        .iter()
        .filter_map(|image| dockerfile::in_registry(image, registry))
        .collect();
    let token = token(builds, &access.linked_by, &build.repository, &bases).await?;
    let tar = dir.join("context.tar");
    let size = pack(&context, &tar).await?;
    log(&format!(
        "Sending a build context of {} to the Docker Engine\n",
        human_size(size as i64)
    ));
    let image = format!("{registry}/{}", build.repository);
    let first = build
        .tags
        .first()
        .ok_or_else(|| "the build has no tag to push".to_owned())?;
    let args: HashMap<String, String> = build.build_args.clone().into_iter().collect();
    engine
        .build(
            &tar,
            &build.dockerfile,
            &format!("{image}:{first}"),
            &args,
            registry,
            Some(&token),
            &mut log,
        )
        .await?;
    let _ = tokio::fs::remove_file(&tar).await;

    set_status(builds, build.id, Status::Pushing).await?;
    // A fresh token: the build may have taken longer than the first one lives.
    let token = self::token(builds, &access.linked_by, &build.repository, &[]).await?;
    let mut digest = String::new();
    for tag in &build.tags {
        if tag != first {
            engine.tag(&format!("{image}:{first}"), &image, tag).await?;
        }
        log(&format!("Pushing {image}:{tag}\n"));
        digest = engine.push(&image, tag, &token, &mut log).await?;
    }
    Ok((digest, bases))
}

/// A registry token for the user the source was linked by: push (and pull) on the repository,
/// pull on the base images. Fails at once when that user may no longer push there.
async fn token(
    builds: &Builds,
    user: &str,
    repository: &str,
    bases: &[(String, String)],
) -> Result<String, String> {
    let identity = builds
        .accounts
        .subject_identity(Some(user))
        .await
        .map_err(|e| e.to_string())?;
    if identity.user.is_none() {
        return Err(format!(
            "{user}, who linked this source, no longer exists: link it again"
        ));
    }
    let push = format!("repository:{repository}:pull,push");
    let granted = builds
        .accounts
        .grant(&identity, &RequestedScope::parse(&push).ok_or("bad scope")?)
        .await
        .map_err(|e| e.to_string())?;
    if !granted.iter().any(|a| a == "push") {
        return Err(format!(
            "{user}, who linked this source, may no longer push to {repository}: link it again"
        ));
    }
    let mut scopes = vec![push];
    scopes.extend(bases.iter().map(|(r, _)| format!("repository:{r}:pull")));
    let response = builds
        .accounts
        .issue_token(&identity, None, &scopes)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.token)
}

/// Packs the build context into a tar file (symlinks kept as links); returns its size.
async fn pack(context: &Path, tar: &Path) -> Result<u64, String> {
    let (context, tar) = (context.to_owned(), tar.to_owned());
    tokio::task::spawn_blocking(move || -> Result<u64, String> {
        if !context.is_dir() {
            return Err("the build context is not a directory of the repository".into());
        }
        let file = std::fs::File::create(&tar).map_err(|e| format!("packing the context: {e}"))?;
        let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
        builder.follow_symlinks(false);
        builder
            .append_dir_all(".", &context)
            .map_err(|e| format!("packing the context: {e}"))?;
        builder
            .into_inner()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| format!("packing the context: {e}"))?;
        let size = std::fs::metadata(&tar)
            .map_err(|e| format!("packing the context: {e}"))?
            .len();
        if size > MAX_CONTEXT_BYTES {
            return Err(format!(
                "the build context is {}, more than the {} allowed",
                human_size(size as i64),
                human_size(MAX_CONTEXT_BYTES as i64)
            ));
        }
        Ok(size)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Writes the log to the database in pieces (about three a second while output flows), up to
/// the cap; past the cap one line says so and the rest is dropped.
async fn write_log(builds: Arc<Builds>, id: i64, mut rx: mpsc::UnboundedReceiver<String>) {
    let cap = builds.config.log_cap;
    let weak: Weak<Builds> = Arc::downgrade(&builds);
    drop(builds);
    let mut pending = String::new();
    let mut written: u64 = 0;
    let mut cut = false;
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        let open = tokio::select! {
            piece = rx.recv() => match piece {
                Some(p) => {
                    if !cut {
                        pending.push_str(&p);
                    }
                    if pending.len() < 64 * 1024 {
                        continue;
                    }
                    true
                }
                None => false,
            },
            _ = tick.tick() => true,
        };
        if !pending.is_empty() && !cut {
            let mut piece = std::mem::take(&mut pending);
            let room = cap.saturating_sub(written) as usize;
            let mut truncated = false;
            if piece.len() > room {
                let mut end = room;
                while !piece.is_char_boundary(end) {
                    end -= 1;
                }
                piece.truncate(end);
                piece.push_str(&format!(
                    "\n[The log reached {} and is cut here; the build goes on, and its result \
                     is recorded.]\n",
                    human_size(cap as i64)
                ));
                truncated = true;
                cut = true;
            }
            written += piece.len() as u64;
            if let Some(builds) = weak.upgrade() {
                if let Err(e) = queue::append_log(&builds, id, &piece, truncated).await {
                    tracing::warn!(id, error = %e, "writing a build log");
                }
            }
        }
        if !open {
            break;
        }
    }
}

/// Where clones live: `<data>/builds`.
pub fn work_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("builds")
}
