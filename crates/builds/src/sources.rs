//! A repository's linked git source: where it is, how Berth may read it, the rules that turn
//! its branches and tags into images, and the push-event URL its git host calls.
//!
//! Secrets are sealed at rest with the data directory's `trust.secret`, bound to the
//! repository's name: the https password or token (never shown again), the deploy key's
//! private half (its public half is shown, to paste into the git host) and the push-event
//! secret (shown to those who manage the repository, since the git host needs it).

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use berth_accounts::audit;

use crate::rules::{self, Rule};
use crate::source::{self, Scheme};
use crate::{Builds, Error, Result};

/// A linked source, as its managers see it.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub repository: String,
    pub url: String,
    pub scheme: Scheme,
    /// The https user name, if one is stored.
    pub username: String,
    /// Whether an https password or token is stored (it is never shown).
    pub has_password: bool,
    /// The public half of the deploy key (`ssh-ed25519 …`), for `ssh://` sources.
    pub deploy_key: Option<String>,
    /// Where the git host sends push events.
    pub push_url: String,
    /// The secret the git host signs push events with.
    pub push_secret: String,
    pub rules: Vec<Rule>,
    /// Whether a push of an image this repository was last built FROM queues a rebuild.
    pub base_rebuild: bool,
    /// The user whose permissions builds push with.
    pub linked_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What linking (or changing) a source says. Fields left out keep what is stored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    /// The https password or token; `""` removes the stored one.
    #[serde(default)]
    pub password: Option<String>,
    /// Replace the deploy key with a new one (an `ssh://` source gets one when first linked).
    #[serde(default)]
    pub new_deploy_key: bool,
    #[serde(default)]
    pub base_rebuild: Option<bool>,
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
}

/// How a build reads its source.
pub(crate) struct Access {
    pub url: String,
    pub scheme: Scheme,
    pub username: String,
    pub password: Option<String>,
    pub deploy_key: Option<String>,
    pub linked_by: String,
}

/// The rules a newly linked source gets: branch `main` builds `latest`.
pub fn default_rules() -> Vec<Rule> {
    vec![Rule {
        source_type: rules::RefKind::Branch,
        source: "main".into(),
        tag: "latest".into(),
        dockerfile: "Dockerfile".into(),
        context: ".".into(),
        build_args: Default::default(),
        autobuild: true,
    }]
}

const COLUMNS: &str = "repository, url, username, sealed_password, deploy_public, sealed_deploy, \
    hook_id, sealed_hook, rules, base_rebuild, linked_by, created_at, updated_at";

fn seal(builds: &Builds, repository: &str, what: &str, plain: &str) -> Result<Vec<u8>> {
    builds
        .secret
        .seal(
            &format!("build-source/{repository}/{what}"),
            plain.as_bytes(),
        )
        .map_err(Error::Internal)
}

fn open(builds: &Builds, repository: &str, what: &str, sealed: &[u8]) -> Result<String> {
    let plain = builds
        .secret
        .open(&format!("build-source/{repository}/{what}"), sealed)
        .map_err(Error::Internal)?;
    String::from_utf8(plain).map_err(|_| Error::Internal(format!("a sealed {what} is not text")))
}

fn push_url(builds: &Builds, hook_id: &str) -> String {
    format!("{}/api/v1/build-hooks/{hook_id}", builds.config.public_url)
}

/// The scheme of a stored source URL (checked when it was linked).
fn stored_scheme(repository: &str, url: &str) -> Result<Scheme> {
    source::parse_url(url, true)
        .map(|u| u.scheme)
        .map_err(|e| Error::Internal(format!("stored source URL of {repository}: {e}")))
}

fn source(builds: &Builds, row: &sqlx::any::AnyRow) -> Result<Source> {
    let repository: String = row.try_get("repository")?;
    let url: String = row.try_get("url")?;
    let scheme = stored_scheme(&repository, &url)?;
    let rules: String = row.try_get("rules")?;
    let rules: Vec<Rule> = serde_json::from_str(&rules)
        .map_err(|e| Error::Internal(format!("stored build rules of {repository}: {e}")))?;
    let hook_id: String = row.try_get("hook_id")?;
    let sealed_hook: Vec<u8> = row.try_get("sealed_hook")?;
    let deploy_public: String = row.try_get("deploy_public")?;
    Ok(Source {
        push_secret: open(builds, &repository, "hook", &sealed_hook)?,
        push_url: push_url(builds, &hook_id),
        url,
        scheme,
        username: row.try_get("username")?,
        has_password: row
            .try_get::<Option<Vec<u8>>, _>("sealed_password")?
            .is_some(),
        deploy_key: (!deploy_public.is_empty()).then_some(deploy_public),
        rules,
        base_rebuild: row.try_get::<i64, _>("base_rebuild")? != 0,
        linked_by: row.try_get("linked_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        repository,
    })
}

/// The source linked to `repository`, if any.
pub async fn get(builds: &Builds, repository: &str) -> Result<Option<Source>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM build_sources WHERE repository = $1"
    ))
    .bind(repository)
    .fetch_optional(&builds.pool)
    .await?;
    row.map(|r| source(builds, &r)).transpose()
}

/// The source whose push-event URL names `hook_id`.
pub async fn by_hook(builds: &Builds, hook_id: &str) -> Result<Option<Source>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM build_sources WHERE hook_id = $1"
    ))
    .bind(hook_id)
    .fetch_optional(&builds.pool)
    .await?;
    row.map(|r| source(builds, &r)).transpose()
}

/// How a build of `repository` reads its source.
pub(crate) async fn access(builds: &Builds, repository: &str) -> Result<Access> {
    let row = sqlx::query(
        "SELECT url, username, sealed_password, sealed_deploy, linked_by
         FROM build_sources WHERE repository = $1",
    )
    .bind(repository)
    .fetch_optional(&builds.pool)
    .await?
    .ok_or_else(|| Error::NotFound(format!("the build source of {repository}")))?;
    let url: String = row.try_get("url")?;
    let password: Option<Vec<u8>> = row.try_get("sealed_password")?;
    let deploy: Option<Vec<u8>> = row.try_get("sealed_deploy")?;
    Ok(Access {
        scheme: stored_scheme(repository, &url)?,
        url,
        username: row.try_get("username")?,
        password: password
            .map(|p| open(builds, repository, "password", &p))
            .transpose()?,
        deploy_key: deploy
            .map(|d| open(builds, repository, "deploy", &d))
            .transpose()?,
        linked_by: row.try_get("linked_by")?,
    })
}

/// Links `repository` to a git source, or changes its link. `admin` says whether the actor is
/// a site administrator (only they may link `file://` sources). The actor becomes the user
/// builds push as.
pub async fn link(
    builds: &Builds,
    actor: &str,
    admin: bool,
    repository: &str,
    input: SourceInput,
) -> Result<Source> {
    let url = source::parse_url(input.url.trim(), admin).map_err(Error::Invalid)?;
    // An address is refused now; a host name when a build resolves it (see `git::guard_host`).
    if let (Some(host), Some(port)) = (&url.host, url.port) {
        let allow = &builds.config.allowed_sources;
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            if let Some(why) = berth_webhooks::guard::refusal(ip, allow) {
                if !allow.allows_endpoint(host, port) {
                    return Err(Error::Invalid(format!(
                        "the source host is refused: {}",
                        why.trim_start_matches("refused: ")
                            .replace("webhooks.allowed_targets", "builds.allowed_sources")
                    )));
                }
            }
        }
    }
    if let Some(rules) = &input.rules {
        rules::validate_rules(rules).map_err(Error::Invalid)?;
    }
    let username = input.username.as_deref().map(str::trim);
    if username.is_some_and(|u| u.len() > 256 || u.chars().any(char::is_control)) {
        return Err(Error::Invalid(
            "the user name must be at most 256 characters, without control characters".into(),
        ));
    }
    if input.password.as_ref().is_some_and(|p| p.len() > 4096) {
        return Err(Error::Invalid(
            "the password or token must be at most 4096 characters".into(),
        ));
    }
    let web = matches!(url.scheme, Scheme::Https | Scheme::Http);
    if !web && input.password.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(Error::Invalid(
            "a password or token is only used with https:// and http:// sources".into(),
        ));
    }
    let now = berth_accounts::now();
    let mut tx = builds.pool.begin().await?;
    let stored = sqlx::query(
        "SELECT username, sealed_password, deploy_public, sealed_deploy, rules, base_rebuild
         FROM build_sources WHERE repository = $1",
    )
    .bind(repository)
    .fetch_optional(&mut *tx)
    .await?;
    // What is not said keeps what is stored.
    let (mut user, mut password, mut public, mut deploy, mut rules, mut base) = (
        String::new(),
        None,
        String::new(),
        None,
        json(&default_rules())?,
        0_i64,
    );
    if let Some(row) = &stored {
        user = row.try_get("username")?;
        password = row.try_get::<Option<Vec<u8>>, _>("sealed_password")?;
        public = row.try_get("deploy_public")?;
        deploy = row.try_get::<Option<Vec<u8>>, _>("sealed_deploy")?;
        rules = row.try_get("rules")?;
        base = row.try_get("base_rebuild")?;
    }
    if let Some(u) = username {
        user = u.to_owned();
    }
    match input.password.as_deref() {
        Some("") => password = None,
        Some(p) => password = Some(seal(builds, repository, "password", p)?),
        None => {}
    }
    if !web {
        (user, password) = (String::new(), None);
    }
    if url.scheme != Scheme::Ssh {
        (public, deploy) = (String::new(), None);
    } else if input.new_deploy_key || deploy.is_none() {
        let key = source::generate_deploy_key(&format!("berth-build:{repository}"))
            .map_err(Error::Internal)?;
        public = key.public;
        deploy = Some(seal(builds, repository, "deploy", &key.private_openssh)?);
    }
    if let Some(r) = &input.rules {
        rules = json(r)?;
    }
    if let Some(b) = input.base_rebuild {
        base = i64::from(b);
    }
    if stored.is_none() {
        let hook_id = uuid::Uuid::new_v4().simple().to_string();
        let hook_secret = berth_accounts::tokens::new_secret("")?;
        let namespace = berth_registry::names::namespace_of(repository).unwrap_or(repository);
        sqlx::query(
            "INSERT INTO build_sources (repository, namespace, url, username, sealed_password,
                                        deploy_public, sealed_deploy, rules, base_rebuild,
                                        linked_by, hook_id, sealed_hook, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(repository)
        .bind(namespace)
        .bind(&url.url)
        .bind(&user)
        .bind(password)
        .bind(&public)
        .bind(deploy)
        .bind(&rules)
        .bind(base)
        .bind(actor)
        .bind(&hook_id)
        .bind(seal(builds, repository, "hook", &hook_secret)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record_in(&mut tx, actor, "build.source.link", repository, &url.url).await?;
    } else {
        sqlx::query(
            "UPDATE build_sources SET url = $2, username = $3, sealed_password = $4,
                    deploy_public = $5, sealed_deploy = $6, rules = $7, base_rebuild = $8,
                    linked_by = $9, updated_at = $10
             WHERE repository = $1",
        )
        .bind(repository)
        .bind(&url.url)
        .bind(&user)
        .bind(password)
        .bind(&public)
        .bind(deploy)
        .bind(&rules)
        .bind(base)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record_in(&mut tx, actor, "build.source.update", repository, &url.url).await?;
    }
    tx.commit().await?;
    get(builds, repository)
        .await?
        .ok_or_else(|| Error::Internal("a linked source vanished".into()))
}

fn json(rules: &[Rule]) -> Result<String> {
    serde_json::to_string(rules).map_err(|e| Error::Internal(e.to_string()))
}

/// Replaces the build rules of `repository`'s source.
pub async fn set_rules(
    builds: &Builds,
    actor: &str,
    repository: &str,
    rules: Vec<Rule>,
) -> Result<Source> {
    rules::validate_rules(&rules).map_err(Error::Invalid)?;
    let mut tx = builds.pool.begin().await?;
    let changed =
        sqlx::query("UPDATE build_sources SET rules = $2, updated_at = $3 WHERE repository = $1")
            .bind(repository)
            .bind(json(&rules)?)
            .bind(berth_accounts::now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(Error::NotFound(format!(
            "a build source for {repository} (link one first)"
        )));
    }
    let summary = rules
        .iter()
        .map(|r| format!("{} {} -> {}", r.source_type.as_str(), r.source, r.tag))
        .collect::<Vec<_>>()
        .join("; ");
    audit::record_in(&mut tx, actor, "build.rules.update", repository, &summary).await?;
    tx.commit().await?;
    get(builds, repository)
        .await?
        .ok_or_else(|| Error::Internal("a linked source vanished".into()))
}

/// Unlinks `repository`'s source. Its builds and their logs stay as history.
pub async fn unlink(builds: &Builds, actor: &str, repository: &str) -> Result<()> {
    let mut tx = builds.pool.begin().await?;
    let gone = sqlx::query("DELETE FROM build_sources WHERE repository = $1")
        .bind(repository)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(Error::NotFound(format!("a build source for {repository}")));
    }
    sqlx::query("DELETE FROM build_bases WHERE repository = $1")
        .bind(repository)
        .execute(&mut *tx)
        .await?;
    audit::record_in(&mut tx, actor, "build.source.unlink", repository, "").await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes everything of builds about `repository`, inside the transaction that deletes it.
pub async fn delete_of_repository(conn: &mut AnyConnection, repository: &str) -> Result<()> {
    delete_where(conn, "repository", repository).await
}

/// Deletes everything of builds under `namespace`, inside the transaction that deletes it.
pub async fn delete_of_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<()> {
    delete_where(conn, "namespace", namespace).await
}

/// Deletes the builds, logs, bases and sources whose `column` (`repository` or `namespace`,
/// which every builds table has) is `value`.
async fn delete_where(conn: &mut AnyConnection, column: &str, value: &str) -> Result<()> {
    sqlx::query(&format!(
        "DELETE FROM build_logs WHERE build_id IN (SELECT id FROM builds WHERE {column} = $1)"
    ))
    .bind(value)
    .execute(&mut *conn)
    .await?;
    for table in ["builds", "build_bases", "build_sources"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
