//! Typed configuration: command-line flags, then `BERTH_*` environment variables, then an
//! optional `berth.toml`, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_accounts::mail::{Mailer, SmtpSettings, SmtpTls};
use berth_accounts::AuthConfig;
use berth_builds::Config as BuildsConfig;
use berth_hub::gc::{parse_duration, GcConfig};
use berth_registry::storage::S3Settings;
use berth_registry::RegistryConfig;
use berth_webhooks::{guard::Allowlist, Config as WebhookConfig};

use crate::tls::TlsFiles;
use serde::Deserialize;

/// Flags and environment variables of `berth serve` (and every command that opens the data).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and blobs.
    #[arg(long, env = "BERTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of the token-signing key and the content trust secret (default: the data
    /// directory); replicas on one database must share it.
    #[arg(long, env = "BERTH_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Database URL: `sqlite://…` or `postgres://…` (default: SQLite in the data directory).
    #[arg(long, env = "BERTH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The URL clients reach Berth at (used in links and pull commands).
    #[arg(long, env = "BERTH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Configuration file (default: `berth.toml` if present).
    #[arg(long, env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Webhook targets allowed despite the SSRF guard: comma-separated CIDRs and `host:port`s.
    #[arg(long, env = "BERTH_WEBHOOKS_ALLOWED_TARGETS")]
    pub webhooks_allowed_targets: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, env = "BERTH_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs `--tls-cert`.
    #[arg(long, env = "BERTH_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Storage quota of namespaces without their own, in bytes (default: unlimited).
    #[arg(long, env = "BERTH_DEFAULT_QUOTA_BYTES")]
    pub default_quota_bytes: Option<u64>,
    /// The Docker Engine automated builds run on (`unix:///var/run/docker.sock`,
    /// `tcp://host:2375`); builds are off without one.
    #[arg(long, env = "BERTH_BUILDS_DOCKER_HOST")]
    pub builds_docker_host: Option<String>,
    /// Where blobs are stored: `fs` (the data directory, the default) or `s3`.
    #[arg(long, env = "BERTH_STORAGE_BACKEND")]
    pub storage_backend: Option<String>,
    /// The S3 bucket.
    #[arg(long, env = "BERTH_STORAGE_BUCKET")]
    pub storage_bucket: Option<String>,
    /// The S3 endpoint (`http://garage:3900`); unset for AWS.
    #[arg(long, env = "BERTH_STORAGE_ENDPOINT")]
    pub storage_endpoint: Option<String>,
    /// The S3 region (default `us-east-1`; Garage's is usually `garage`).
    #[arg(long, env = "BERTH_STORAGE_REGION")]
    pub storage_region: Option<String>,
    /// Redirect blob pulls to presigned S3 URLs (`true`/`false`).
    #[arg(long, env = "BERTH_STORAGE_REDIRECT")]
    pub storage_redirect: Option<bool>,
    /// Serve Prometheus metrics at `GET /metrics` on this address, a listener of its own
    /// (e.g. `127.0.0.1:9102`); off when unset. Never on the public listener.
    #[arg(long, env = "BERTH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// The optional configuration file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    registry: RegistryFile,
    #[serde(default)]
    auth: AuthFile,
    #[serde(default)]
    webhooks: WebhooksFile,
    #[serde(default)]
    gc: GcFile,
    #[serde(default)]
    builds: BuildsFile,
    #[serde(default)]
    storage: StorageFile,
    #[serde(default)]
    metrics: MetricsFile,
    smtp: Option<SmtpFile>,
}

/// `[smtp]`: outgoing mail ("Forgot password?" links); none without it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpFile {
    host: String,
    /// Default: 25 for `none`, 587 for `starttls`, 465 for `tls`.
    port: Option<u16>,
    from: String,
    username: Option<String>,
    password: Option<String>,
    /// A file holding the password (its first line).
    password_file: Option<PathBuf>,
    /// `none`, `starttls` (the default) or `tls`.
    tls: Option<String>,
}

/// `[metrics]`: Prometheus metrics, off until `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsFile {
    listen: Option<SocketAddr>,
}

/// `[storage]`: where blobs live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    /// `fs` (default) or `s3`.
    backend: Option<String>,
    /// The directory of the `fs` backend (default: `storage` in the data directory).
    path: Option<PathBuf>,
    bucket: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    prefix: Option<String>,
    redirect: Option<bool>,
    /// The endpoint clients reach, when it differs from `endpoint` (for redirects).
    public_endpoint: Option<String>,
    /// A TOML file with `access_key_id` and `secret_access_key` (default: the
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` environment variables).
    credentials_file: Option<PathBuf>,
}

/// Where blobs are stored.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    Fs { root: PathBuf },
    S3(S3Settings),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
}

/// `[builds]`: automated builds, off until `docker_host` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildsFile {
    docker_host: Option<String>,
    /// Berth's registry as the Engine reaches it (`host:port`; default: the public URL's host).
    registry: Option<String>,
    concurrency: Option<usize>,
    /// A duration (`1h`, `30m`).
    timeout: Option<String>,
    log_cap_bytes: Option<u64>,
    /// CIDRs and `host:port`s of git hosts the SSRF guard lets through.
    allowed_sources: Option<Vec<String>>,
}

/// `[gc]`: durations are written like `90s`, `15m`, `1h`, `7d`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcFile {
    /// `daily` (the default), `hourly`, `weekly`, a duration, or `off`.
    schedule: Option<String>,
    grace: Option<String>,
    /// A duration, or `never`.
    untagged_after: Option<String>,
    uploads_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhooksFile {
    /// CIDRs and `host:port`s the SSRF guard lets through.
    allowed_targets: Option<Vec<String>>,
    max_attempts: Option<u32>,
    retry_base_secs: Option<f64>,
    timeout_secs: Option<f64>,
    concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    secrets_dir: Option<PathBuf>,
    anonymous_pull: Option<bool>,
    open_signup: Option<bool>,
    default_private: Option<bool>,
    token_ttl_secs: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    delete_enabled: Option<bool>,
    max_manifest_bytes: Option<usize>,
    max_page_size: Option<i64>,
    max_tags_per_push: Option<usize>,
    sparse_manifests: Option<bool>,
    default_quota_bytes: Option<u64>,
    /// Seconds between writes of the tags' last-pulled times (default 5).
    pull_flush_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the token-signing key and the content trust secret live.
    pub secrets_dir: PathBuf,
    pub database_url: String,
    pub public_url: String,
    pub registry: RegistryConfig,
    pub auth: AuthConfig,
    pub webhooks: WebhookConfig,
    pub gc: GcConfig,
    pub builds: BuildsConfig,
    pub storage: StorageConfig,
    /// HTTPS, when a certificate and key are given.
    pub tls: Option<TlsFiles>,
    /// Where `GET /metrics` is served (a listener of its own); `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Outgoing mail; `None`: no "Forgot password?".
    pub smtp: Option<SmtpSettings>,
}

impl Config {
    pub fn load(args: &Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new("berth.toml").exists() => read_file(Path::new("berth.toml"))?,
            None => File::default(),
        };
        Config::merge(args, file)
    }

    fn merge(args: &Args, file: File) -> anyhow::Result<Config> {
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5000)));
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display())
            });
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => anyhow::bail!(
                "HTTPS needs both --tls-cert and --tls-key (BERTH_TLS_CERT, BERTH_TLS_KEY)"
            ),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("{scheme}://{listen}"));
        let redirect = args.storage_redirect.or(file.storage.redirect);
        let storage = storage(args, file.storage, &data_dir)?;
        if redirect == Some(true) && !matches!(storage, StorageConfig::S3(_)) {
            anyhow::bail!(
                "[storage] redirect needs backend = \"s3\": only an object store can hand \
                 clients a URL of their own"
            );
        }
        let defaults = RegistryConfig::default();
        let registry = RegistryConfig {
            redirect_pulls: redirect.unwrap_or(false),
            delete_enabled: file
                .registry
                .delete_enabled
                .unwrap_or(defaults.delete_enabled),
            max_manifest_bytes: file
                .registry
                .max_manifest_bytes
                .unwrap_or(defaults.max_manifest_bytes),
            max_page_size: file
                .registry
                .max_page_size
                .unwrap_or(defaults.max_page_size),
            max_tags_per_push: file
                .registry
                .max_tags_per_push
                .unwrap_or(defaults.max_tags_per_push),
            sparse_manifests: file
                .registry
                .sparse_manifests
                .unwrap_or(defaults.sparse_manifests),
            host: host_of(&public_url).to_owned(),
            default_quota_bytes: args
                .default_quota_bytes
                .or(file.registry.default_quota_bytes)
                .or(defaults.default_quota_bytes),
            cache_ttl: defaults.cache_ttl,
            pull_flush_interval: file
                .registry
                .pull_flush_secs
                .filter(|s| *s > 0)
                .map_or(defaults.pull_flush_interval, std::time::Duration::from_secs),
        };
        let public_url = public_url.trim_end_matches('/').to_owned();
        let secrets_dir = args
            .secrets_dir
            .clone()
            .or(file.auth.secrets_dir)
            .unwrap_or_else(|| data_dir.clone());
        let mut auth = AuthConfig::for_url(&public_url);
        auth.anonymous_pull = file.auth.anonymous_pull.unwrap_or(auth.anonymous_pull);
        auth.open_signup = file.auth.open_signup.unwrap_or(auth.open_signup);
        auth.default_private = file.auth.default_private.unwrap_or(auth.default_private);
        auth.token_ttl = file.auth.token_ttl_secs.unwrap_or(auth.token_ttl);
        let webhooks = webhooks(args, file.webhooks, &public_url)?;
        let gc = gc(file.gc, &data_dir)?;
        let builds = builds(args, file.builds, &public_url, &data_dir)?;
        let metrics_listen = args.metrics_listen.or(file.metrics.listen);
        anyhow::ensure!(
            metrics_listen.is_none_or(|m| m != listen || m.port() == 0),
            "metrics.listen must differ from listen: metrics are never served on the public listener"
        );
        let smtp = file.smtp.map(|f| smtp(f, &public_url)).transpose()?;
        Ok(Config {
            listen,
            data_dir,
            secrets_dir,
            database_url,
            public_url,
            registry,
            auth,
            webhooks,
            gc,
            builds,
            storage,
            tls,
            metrics_listen,
            smtp,
        })
    }

    /// The host (and port) clients use in image references, e.g. `registry.example.com`.
    pub fn registry_host(&self) -> &str {
        host_of(&self.public_url)
    }
}

/// The host (and port) of a URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    rest.split('/').next().unwrap_or(rest)
}

fn smtp(file: SmtpFile, public_url: &str) -> anyhow::Result<SmtpSettings> {
    let tls = match file.tls.as_deref() {
        None => SmtpTls::StartTls,
        Some(t) => SmtpTls::parse(t).ok_or_else(|| {
            anyhow::anyhow!("smtp.tls must be \"none\", \"starttls\" or \"tls\", not {t:?}")
        })?,
    };
    let port = file.port.unwrap_or(match tls {
        SmtpTls::None => 25,
        SmtpTls::StartTls => 587,
        SmtpTls::Tls => 465,
    });
    let password = match (file.password, file.password_file) {
        (Some(_), Some(_)) => {
            anyhow::bail!("smtp: give password or password_file, not both")
        }
        (Some(p), None) => Some(p),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("smtp.password_file {}", path.display()))?;
            Some(text.lines().next().unwrap_or_default().to_owned())
        }
        (None, None) => None,
    };
    let settings = SmtpSettings {
        host: file.host,
        port,
        from: file.from,
        username: file.username,
        password,
        tls,
        public_url: public_url.to_owned(),
    };
    // Everything the transport checks, checked now: bad settings stop the start.
    Mailer::new(&settings).map_err(|e| anyhow::anyhow!("[smtp]: {e}"))?;
    Ok(settings)
}

fn webhooks(args: &Args, file: WebhooksFile, public_url: &str) -> anyhow::Result<WebhookConfig> {
    let mut c = WebhookConfig::for_url(public_url);
    let allowed = match &args.webhooks_allowed_targets {
        Some(list) => Allowlist::parse(list),
        None => file
            .allowed_targets
            .unwrap_or_default()
            .iter()
            .try_fold(Allowlist::default(), |mut a, entry| {
                a.add(entry).map(|()| a)
            }),
    };
    c.allowed_targets =
        std::sync::Arc::new(allowed.map_err(|e| anyhow::anyhow!("webhooks.allowed_targets: {e}"))?);
    let secs = |what: &str, v: f64| {
        std::time::Duration::try_from_secs_f64(v)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| anyhow::anyhow!("webhooks.{what} must be a positive number of seconds"))
    };
    if let Some(v) = file.retry_base_secs {
        c.retry_base = secs("retry_base_secs", v)?;
    }
    if let Some(v) = file.timeout_secs {
        c.timeout = secs("timeout_secs", v)?;
    }
    if let Some(n) = file.max_attempts {
        anyhow::ensure!(n >= 1, "webhooks.max_attempts must be at least 1");
        c.max_attempts = n;
    }
    if let Some(n) = file.concurrency {
        anyhow::ensure!(n >= 1, "webhooks.concurrency must be at least 1");
        c.concurrency = n;
    }
    Ok(c)
}

fn builds(
    args: &Args,
    file: BuildsFile,
    public_url: &str,
    data_dir: &Path,
) -> anyhow::Result<BuildsConfig> {
    let registry = file
        .registry
        .unwrap_or_else(|| host_of(public_url).to_owned());
    // Git and the build steps run in directories of their own: the path must not be relative.
    let data_dir = std::path::absolute(data_dir)
        .with_context(|| format!("the data directory {}", data_dir.display()))?;
    let mut c = BuildsConfig::off(
        public_url,
        &registry,
        berth_builds::runner::work_dir(&data_dir),
    );
    c.docker_host = args
        .builds_docker_host
        .clone()
        .or(file.docker_host)
        .filter(|h| !h.trim().is_empty());
    if let Some(host) = &c.docker_host {
        anyhow::ensure!(
            ["unix://", "tcp://", "http://"]
                .iter()
                .any(|p| host.starts_with(p)),
            "builds.docker_host {host:?} must be unix:///path/to/docker.sock or tcp://host:port"
        );
    }
    if let Some(n) = file.concurrency {
        anyhow::ensure!(n >= 1, "builds.concurrency must be at least 1");
        c.concurrency = n;
    }
    if let Some(t) = file.timeout {
        c.timeout = parse_duration(&t).map_err(|e| anyhow::anyhow!("builds.timeout: {e}"))?;
        anyhow::ensure!(
            c.timeout.as_secs() >= 60,
            "builds.timeout must be at least a minute"
        );
    }
    if let Some(n) = file.log_cap_bytes {
        anyhow::ensure!(n >= 4096, "builds.log_cap_bytes must be at least 4096");
        c.log_cap = n;
    }
    let allowed = file
        .allowed_sources
        .unwrap_or_default()
        .iter()
        .try_fold(Allowlist::default(), |mut a, entry| {
            a.add(entry).map(|()| a)
        })
        .map_err(|e| anyhow::anyhow!("builds.allowed_sources: {e}"))?;
    c.allowed_sources = std::sync::Arc::new(allowed);
    Ok(c)
}

fn storage(args: &Args, file: StorageFile, data_dir: &Path) -> anyhow::Result<StorageConfig> {
    let backend = args.storage_backend.clone().or(file.backend);
    match backend.as_deref().unwrap_or("fs") {
        "fs" => Ok(StorageConfig::Fs {
            root: file.path.unwrap_or_else(|| data_dir.join("storage")),
        }),
        "s3" => {
            let bucket = args
                .storage_bucket
                .clone()
                .or(file.bucket)
                .filter(|b| !b.is_empty())
                .context("[storage] backend = \"s3\" needs a bucket (BERTH_STORAGE_BUCKET)")?;
            let endpoint = args.storage_endpoint.clone().or(file.endpoint);
            for url in endpoint.iter().chain(file.public_endpoint.iter()) {
                let parsed = url::Url::parse(url)
                    .with_context(|| format!("[storage] endpoint {url:?} is not a URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    anyhow::bail!("[storage] endpoint {url:?} must be http(s)://host[:port]");
                }
            }
            let (access_key_id, secret_access_key) = match file.credentials_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| {
                        format!("reading the S3 credentials file {}", path.display())
                    })?;
                    let c: Credentials = toml::from_str(&text).with_context(|| {
                        format!(
                            "{}: expected access_key_id and secret_access_key",
                            path.display()
                        )
                    })?;
                    (c.access_key_id, c.secret_access_key)
                }
                None => {
                    let var = |name: &str| {
                        std::env::var(name)
                            .ok()
                            .filter(|v| !v.is_empty())
                            .with_context(|| {
                                format!(
                                    "S3 storage needs credentials: set AWS_ACCESS_KEY_ID and \
                                 AWS_SECRET_ACCESS_KEY, or [storage] credentials_file ({name} is \
                                 not set)"
                                )
                            })
                    };
                    (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?)
                }
            };
            Ok(StorageConfig::S3(S3Settings {
                bucket,
                endpoint,
                region: args
                    .storage_region
                    .clone()
                    .or(file.region)
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                access_key_id,
                secret_access_key,
                prefix: file.prefix.unwrap_or_default(),
                public_endpoint: file.public_endpoint,
            }))
        }
        other => anyhow::bail!("[storage] backend must be \"fs\" or \"s3\", not {other:?}"),
    }
}

fn gc(file: GcFile, data_dir: &Path) -> anyhow::Result<GcConfig> {
    let mut c = GcConfig::new(data_dir.join("gc.lock"));
    let duration =
        |key: &str, text: &str| parse_duration(text).map_err(|e| anyhow::anyhow!("gc.{key}: {e}"));
    if let Some(schedule) = file.schedule {
        c.schedule = match schedule.as_str() {
            "off" | "never" => None,
            "hourly" => Some(std::time::Duration::from_secs(3600)),
            "daily" => Some(std::time::Duration::from_secs(86400)),
            "weekly" => Some(std::time::Duration::from_secs(7 * 86400)),
            other => {
                let every = duration("schedule", other)?;
                anyhow::ensure!(
                    every.as_secs() >= 60,
                    "gc.schedule: collect at most once a minute (or say \"off\")"
                );
                Some(every)
            }
        };
    }
    if let Some(grace) = file.grace {
        c.grace = duration("grace", &grace)?;
    }
    if let Some(after) = file.untagged_after {
        c.untagged_after = match after.as_str() {
            "never" => None,
            other => Some(duration("untagged_after", other)?),
        };
    }
    if let Some(after) = file.uploads_after {
        c.uploads_after = duration("uploads_after", &after)?;
    }
    Ok(c)
}

fn read_file(path: &Path) -> anyhow::Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing configuration {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_settings_are_checked_at_start() {
        let load = |text: &str| {
            let file: File = toml::from_str(text).expect("valid toml");
            Config::merge(&Args::default(), file)
        };
        let none = load("").expect("no [smtp]");
        assert!(none.smtp.is_none());
        let c = load(
            "public_url = \"https://r.example\"\n[smtp]\nhost = \"mail.example\"\nfrom = \"Berth <b@example.com>\"\n",
        )
        .expect("minimal [smtp]");
        let smtp = c.smtp.expect("smtp");
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::StartTls));
        assert_eq!(smtp.public_url, "https://r.example");
        let c =
            load("[smtp]\nhost = \"h\"\nfrom = \"b@example.com\"\ntls = \"tls\"\n").expect("tls");
        assert_eq!(c.smtp.map(|s| s.port), Some(465));
        for (bad, says) in [
            ("[smtp]\nhost = \"h\"\nfrom = \"b@example.com\"\ntls = \"ssl\"\n", "smtp.tls"),
            ("[smtp]\nhost = \"h\"\nfrom = \"not an address\"\n", "smtp.from"),
            ("[smtp]\nhost = \"h\"\nfrom = \"b@example.com\"\nusername = \"u\"\n", "password"),
            ("[smtp]\nhost = \"\"\nfrom = \"b@example.com\"\n", "smtp.host"),
            (
                "[smtp]\nhost = \"h\"\nfrom = \"b@example.com\"\nusername = \"u\"\npassword_file = \"/nonexistent/berth-smtp\"\n",
                "password_file",
            ),
        ] {
            let e = load(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let missing: Result<File, _> = toml::from_str("[smtp]\nhost = \"h\"\n");
        assert!(missing.is_err(), "from is required");
    }

    #[test]
    fn flags_win_over_file_over_defaults() {
        let file: File = toml::from_str(
            "listen = \"0.0.0.0:6000\"\npublic_url = \"https://r.example/\"\n[registry]\ndelete_enabled = false\nsparse_manifests = true\nmax_tags_per_push = 20\n[auth]\ndefault_private = true\n",
        )
        .expect("valid toml");
        let args = Args {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 7000))),
            ..Args::default()
        };
        let c = Config::merge(&args, file).expect("valid configuration");
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.public_url, "https://r.example");
        assert_eq!(c.registry_host(), "r.example");
        assert!(!c.registry.delete_enabled);
        assert!(c.registry.sparse_manifests);
        assert_eq!(c.registry.max_tags_per_push, 20);
        assert!(c.auth.default_private);
        assert_eq!(c.auth.realm, "https://r.example/auth/token");
        assert_eq!(c.auth.service, "r.example");
        assert!(c.database_url.starts_with("sqlite://data/berth.db"));
        assert_eq!(c.webhooks.public_url, "https://r.example");
        assert!(c.webhooks.allowed_targets.is_empty());
        assert_eq!(c.registry.default_quota_bytes, None, "unlimited unless set");
        let unknown: Result<File, _> = toml::from_str("lisen = \"x\"");
        assert!(
            unknown.is_err(),
            "typos in the file are errors, not silently ignored"
        );
    }

    #[test]
    fn secrets_live_in_the_data_directory_unless_set() {
        let c = Config::merge(&Args::default(), File::default()).expect("valid configuration");
        assert_eq!(c.secrets_dir, c.data_dir);
        let file: File =
            toml::from_str("[auth]\nsecrets_dir = \"/run/berth\"\n").expect("valid toml");
        let c = Config::merge(&Args::default(), file).expect("valid configuration");
        assert_eq!(c.secrets_dir, PathBuf::from("/run/berth"));
        let file: File =
            toml::from_str("[auth]\nsecrets_dir = \"/run/berth\"\n").expect("valid toml");
        let args = Args {
            secrets_dir: Some(PathBuf::from("/mnt/shared")),
            ..Args::default()
        };
        let c = Config::merge(&args, file).expect("valid configuration");
        assert_eq!(c.secrets_dir, PathBuf::from("/mnt/shared"));
    }

    #[test]
    fn default_quota_from_file_or_flag() {
        let file: File =
            toml::from_str("[registry]\ndefault_quota_bytes = 1073741824\n").expect("valid toml");
        let c = Config::merge(&Args::default(), file).expect("valid configuration");
        assert_eq!(c.registry.default_quota_bytes, Some(1 << 30));
        let file: File =
            toml::from_str("[registry]\ndefault_quota_bytes = 1073741824\n").expect("valid toml");
        let args = Args {
            default_quota_bytes: Some(5),
            ..Args::default()
        };
        let c = Config::merge(&args, file).expect("valid configuration");
        assert_eq!(c.registry.default_quota_bytes, Some(5));
        let negative: Result<File, _> = toml::from_str("[registry]\ndefault_quota_bytes = -1\n");
        assert!(negative.is_err());
    }

    #[test]
    fn webhook_settings() {
        let file: File = toml::from_str(
            "[webhooks]\nallowed_targets = [\"10.0.0.0/8\", \"hooks:8080\"]\nmax_attempts = 3\nretry_base_secs = 0.5\n",
        )
        .expect("valid toml");
        let c = Config::merge(&Args::default(), file).expect("valid configuration");
        assert!(c.webhooks.allowed_targets.allows_endpoint("hooks", 8080));
        assert_eq!(c.webhooks.max_attempts, 3);
        assert_eq!(c.webhooks.retry_base.as_millis(), 500);
        let args = Args {
            webhooks_allowed_targets: Some("127.0.0.1/32".into()),
            ..Args::default()
        };
        let c = Config::merge(&args, File::default()).expect("valid configuration");
        assert!(c
            .webhooks
            .allowed_targets
            .allows_ip("127.0.0.1".parse().expect("ip")));
        let bad = Args {
            webhooks_allowed_targets: Some("not a target".into()),
            ..Args::default()
        };
        assert!(Config::merge(&bad, File::default()).is_err());
        let file: File = toml::from_str("[webhooks]\ntimeout_secs = -1\n").expect("valid toml");
        assert!(Config::merge(&Args::default(), file).is_err());
    }

    #[test]
    fn metrics_are_off_unless_given_a_listener_of_their_own() {
        let c = Config::merge(&Args::default(), File::default()).expect("defaults");
        assert_eq!(c.metrics_listen, None);
        let file: File =
            toml::from_str("[metrics]\nlisten = \"127.0.0.1:9102\"\n").expect("valid toml");
        let c = Config::merge(&Args::default(), file).expect("valid configuration");
        assert_eq!(
            c.metrics_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9102)))
        );
        let file: File =
            toml::from_str("[metrics]\nlisten = \"127.0.0.1:9102\"\n").expect("valid toml");
        let args = Args {
            metrics_listen: Some(SocketAddr::from(([10, 0, 0, 5], 9200))),
            ..Args::default()
        };
        let c = Config::merge(&args, file).expect("valid configuration");
        assert_eq!(
            c.metrics_listen,
            Some(SocketAddr::from(([10, 0, 0, 5], 9200)))
        );
        let same = Args {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 5000))),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 5000))),
            ..Args::default()
        };
        assert!(Config::merge(&same, File::default()).is_err());
        let typo: Result<File, _> = toml::from_str("[metrics]\nlisten_on = \"127.0.0.1:1\"\n");
        assert!(typo.is_err());
    }

    #[test]
    fn gc_settings() {
        let c = Config::merge(&Args::default(), File::default()).expect("defaults");
        assert_eq!(c.gc.schedule.map(|d| d.as_secs()), Some(86400));
        assert_eq!(c.gc.grace.as_secs(), 3600);
        assert_eq!(c.gc.untagged_after.map(|d| d.as_secs()), Some(7 * 86400));
        assert!(c.gc.lock_file.ends_with("gc.lock"));
        let file: File = toml::from_str(
            "[gc]\nschedule = \"off\"\ngrace = \"90s\"\nuntagged_after = \"never\"\nuploads_after = \"2h\"\n",
        )
        .expect("valid toml");
        let c = Config::merge(&Args::default(), file).expect("valid configuration");
        assert_eq!(c.gc.schedule, None);
        assert_eq!(c.gc.grace.as_secs(), 90);
        assert_eq!(c.gc.untagged_after, None);
        assert_eq!(c.gc.uploads_after.as_secs(), 7200);
        for bad in [
            "schedule = \"5s\"",
            "grace = \"soon\"",
            "untagged_after = \"1x\"",
        ] {
            let file: File = toml::from_str(&format!("[gc]\n{bad}\n")).expect("valid toml");
            assert!(Config::merge(&Args::default(), file).is_err(), "{bad}");
        }
    }
}
