//! Cloning one commit of a source with the `git` command: a shallow fetch of exactly that
//! commit (or the tip of a ref) into an empty directory.
//!
//! Git runs with no user or system configuration, no terminal prompts, only the protocol the
//! source names, no redirects, and credentials passed through its environment (never on the
//! command line): an https password as an `Authorization` header, a deploy key as a file only
//! the build can read. The host must pass the same SSRF guard as webhooks.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use tokio::process::Command;

use crate::rules::RefKind;
use crate::source::{self, Scheme};
use crate::sources::Access;
use berth_webhooks::guard::{self, Allowlist};

/// Refuses a source host that resolves to a private, loopback or metadata address, unless the
/// operator allowed it.
pub async fn guard_host(url: &str, allow: &Allowlist) -> Result<(), String> {
    let parsed = source::parse_url(url, true)?;
    let (Some(host), Some(port)) = (parsed.host, parsed.port) else {
        return Ok(());
    };
    if allow.allows_endpoint(&host, port) {
        return Ok(());
    }
    let target = format!(
        "{}:{port}",
        host.trim_start_matches('[').trim_end_matches(']')
    );
    let addrs = tokio::task::spawn_blocking(move || {
        target.to_socket_addrs().map(|a| a.collect::<Vec<_>>())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    for addr in addrs {
        if let Some(why) = guard::refusal(addr.ip(), allow) {
            return Err(format!(
                "the source host {host} is refused: {}",
                why.trim_start_matches("refused: ")
                    .replace("webhooks.allowed_targets", "builds.allowed_sources")
            ));
        }
    }
    Ok(())
}

/// Fetches `commit` (or, when `None`, the tip of the ref) of the source into `dir` and checks
/// it out; returns the commit id. `log` receives git's progress lines.
pub(crate) async fn clone(
    access: &Access,
    dir: &Path,
    kind: RefKind,
    name: &str,
    commit: Option<&str>,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<String, String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("creating the build directory: {e}"))?;
    let home = dir.join(".berth-home");
    let work = dir.join("src");
    tokio::fs::create_dir_all(&home)
        .await
        .map_err(|e| format!("creating the build directory: {e}"))?;
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
        ("GIT_ASKPASS".into(), "true".into()),
        ("SSH_ASKPASS".into(), "true".into()),
        ("GIT_ALLOW_PROTOCOL".into(), protocol(access.scheme).into()),
    ];
    let mut config = vec![
        ("http.followRedirects".to_owned(), "false".to_owned()),
        ("protocol.version".to_owned(), "2".to_owned()),
        ("advice.detachedHead".to_owned(), "false".to_owned()),
    ];
    if let Some(password) = &access.password {
        let pair = format!("{}:{password}", access.username);
        let basic = base64::engine::general_purpose::STANDARD.encode(pair);
        config.push((
            "http.extraHeader".to_owned(),
            format!("Authorization: Basic {basic}"),
        ));
    }
    if let Some(key) = &access.deploy_key {
        let key_path = home.join("deploy_key");
        write_private(&key_path, key).await?;
        env.push((
            "GIT_SSH_COMMAND".into(),
            format!(
                "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes \
                 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
                key_path.display(),
                home.join("known_hosts").display()
            ),
        ));
    }
    env.push(("GIT_CONFIG_COUNT".into(), config.len().to_string()));
    for (i, (k, v)) in config.into_iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), k));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), v));
    }
    let full_ref = match kind {
        RefKind::Branch => format!("refs/heads/{name}"),
        RefKind::Tag => format!("refs/tags/{name}"),
    };
    let work_str = work.display().to_string();
    git(&env, dir, &["init", "-q", &work_str], log).await?;
    log(&format!(
        "Fetching {} {name} from {}\n",
        kind.as_str(),
        access.url
    ));
    let fetch = |what: String| {
        vec![
            "-C".to_owned(),
            work_str.clone(),
            "fetch".into(),
            "--depth=1".into(),
            "--no-tags".into(),
            "--progress".into(),
            "--".into(),
            access.url.clone(),
            what,
        ]
    };
    let by_id = match commit {
        Some(c) => git_owned(&env, dir, &fetch(c.to_owned()), log)
            .await
            .is_ok(),
        None => false,
    };
    if !by_id {
        if commit.is_some() {
            log("The server does not serve commits by id; fetching the ref instead\n");
        }
        git_owned(&env, dir, &fetch(full_ref.clone()), log).await?;
    }
    let head = git_output(
        &env,
        dir,
        &["-C", &work_str, "rev-parse", "FETCH_HEAD^{commit}"],
    )
    .await?
    .trim()
    .to_owned();
    if let Some(c) = commit {
        if !head.eq_ignore_ascii_case(c) {
            return Err(format!(
                "{full_ref} is now at {head}, no longer at the pushed commit {c}, and the server \
                 does not serve commits by id; a newer push builds the newer commit"
            ));
        }
    }
    git(
        &env,
        dir,
        &["-C", &work_str, "checkout", "-q", "--detach", &head],
        log,
    )
    .await?;
    // Git's own files never go into a build context.
    let _ = tokio::fs::remove_dir_all(work.join(".git")).await;
    let _ = tokio::fs::remove_dir_all(&home).await;
    log(&format!("Checked out {head}\n"));
    Ok(head)
}

fn protocol(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
        Scheme::Git => "git",
        Scheme::Ssh => "ssh",
        Scheme::File => "file",
    }
}

async fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_owned();
    let contents = contents.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(contents.as_bytes())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("writing the deploy key: {e}"))
}

fn command(env: &[(String, String)], dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn git(
    env: &[(String, String)],
    dir: &Path,
    args: &[&str],
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<(), String> {
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    git_owned(env, dir, &owned, log).await
}

async fn git_owned(
    env: &[(String, String)],
    dir: &Path,
    args: &[String],
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<(), String> {
    let out = command(env, dir)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("running git: {e}"))?;
    // Progress lines end in carriage returns; the log keeps each one's last state.
    let text = String::from_utf8_lossy(&out.stderr);
    for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
        let last = line
            .rsplit('\r')
            .find(|p| !p.trim().is_empty())
            .unwrap_or("");
        log(&format!("{last}\n"));
    }
    if out.status.success() {
        Ok(())
    } else {
        let why = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim();
        Err(format!(
            "git {} failed: {why}",
            args.get(2).map_or("", String::as_str)
        ))
    }
}

async fn git_output(env: &[(String, String)], dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = command(env, dir)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
