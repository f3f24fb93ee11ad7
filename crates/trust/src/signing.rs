//! Signing keys and policy: the public keys a namespace (a user or an organization) trusts to
//! sign its images, and the "only signed images can be pulled" policy of a namespace or of one
//! repository. The signatures themselves are [`crate::signatures`]', checked against these keys.
//! Errors are the accounts crate's: these are a namespace administrator's settings.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use berth_accounts::error::{Error, Result};
use berth_accounts::users::User;
use berth_accounts::{audit, now, orgs};
use berth_registry::coherence::{self, Topic};
use berth_registry::names::namespace_of;
use serde::Serialize;

use crate::signatures::{PublicKey, TrustedKey};
use crate::Trust;

/// Keys one namespace may register.
const MAX_KEYS: i64 = 50;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SigningKey {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    /// `ecdsa-p256` or `ed25519`.
    pub algorithm: String,
    /// SHA-256 of the key's SubjectPublicKeyInfo, hex.
    pub fingerprint: String,
    /// The key as PEM.
    pub public_key: String,
    pub created_by: String,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, namespace, name, algorithm, fingerprint, public_key, created_by, created_at";

/// Whether `actor` administers `namespace`: it is their own, or an organization they own (site
/// administrators administer every namespace).
pub async fn can_manage(trust: &Trust, actor: &User, namespace: &str) -> Result<bool> {
    let db = &trust.accounts;
    if !actor.active {
        return Ok(false);
    }
    if actor.name == namespace || actor.is_admin {
        return Ok(true);
    }
    match orgs::by_name(db, namespace).await? {
        Some(org) => orgs::can_manage(db, &org, actor).await,
        None => Ok(false),
    }
}

async fn require_manager(trust: &Trust, actor: &User, namespace: &str) -> Result<()> {
    if can_manage(trust, actor, namespace).await? {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The keys of a namespace, oldest first. Public keys are public: anyone may list them.
pub async fn list(trust: &Trust, namespace: &str) -> Result<Vec<SigningKey>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM signing_keys WHERE namespace = $1 ORDER BY id"
    ))
    .bind(namespace)
    .fetch_all(&trust.pool)
    .await?)
}

/// Registers a public key (PEM) under `name` for `namespace`.
pub async fn add(
    trust: &Trust,
    actor: &User,
    namespace: &str,
    name: &str,
    public_key: &str,
) -> Result<SigningKey> {
    let pool = &trust.pool;
    require_manager(trust, actor, namespace).await?;
    orgs::validate_short_name("key", name)?;
    if public_key.len() > 16 * 1024 {
        return Err(Error::Invalid("the public key is too long".into()));
    }
    let parsed = PublicKey::from_pem(public_key).map_err(Error::Invalid)?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE namespace = $1")
        .bind(namespace)
        .fetch_one(pool)
        .await?;
    if count >= MAX_KEYS {
        return Err(Error::Invalid(format!(
            "a namespace may have at most {MAX_KEYS} signing keys"
        )));
    }
    let added: SigningKey = sqlx::query_as(&format!(
        "INSERT INTO signing_keys
         (namespace, name, algorithm, public_key, fingerprint, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(namespace)
    .bind(name)
    .bind(parsed.algorithm.as_str())
    .bind(public_key.trim())
    .bind(&parsed.fingerprint)
    .bind(&actor.name)
    .bind(now())
    .fetch_one(pool)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(format!(
            "a signing key named {name:?} or with that fingerprint"
        )),
        _ => e.into(),
    })?;
    trust.changed_signing().await?;
    audit::record(
        &trust.accounts,
        &actor.name,
        "signing_key.add",
        namespace,
        &format!(
            "{} ({}, {})",
            added.name, added.algorithm, added.fingerprint
        ),
    )
    .await?;
    Ok(added)
}

/// Removes a key; signatures it made no longer verify.
pub async fn remove(trust: &Trust, actor: &User, namespace: &str, id: i64) -> Result<()> {
    let pool = &trust.pool;
    require_manager(trust, actor, namespace).await?;
    let name: Option<String> = sqlx::query_scalar(
        "DELETE FROM signing_keys WHERE namespace = $1 AND id = $2 RETURNING name",
    )
    .bind(namespace)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let name = name.ok_or_else(|| Error::NotFound("signing key".into()))?;
    trust.changed_signing().await?;
    audit::record(
        &trust.accounts,
        &actor.name,
        "signing_key.remove",
        namespace,
        &name,
    )
    .await
}

/// The keys signatures of `namespace`'s images are checked against.
pub async fn trusted(trust: &Trust, namespace: &str) -> Result<Vec<TrustedKey>> {
    Ok(list(trust, namespace)
        .await?
        .into_iter()
        .filter_map(|k| {
            Some(TrustedKey {
                key: PublicKey::from_pem(&k.public_key).ok()?,
                name: k.name,
            })
        })
        .collect())
}

/// What every manifest pull asks — the scopes where the policy is on, and a namespace's keys —
/// read at most once a second: a database round trip each would halve what a registry serves.
/// A change made here shows at once; one made by another replica as soon as its notification
/// arrives (see [`berth_registry::coherence`]), and within the time-to-live should it be lost.
pub struct PolicyCache {
    scopes: Memo<Arc<HashSet<String>>>,
    keys: Memo<Arc<Vec<TrustedKey>>>,
    /// Bumped by every change: a read that began before one is not kept.
    generation: AtomicU64,
    /// How long a value is served, in milliseconds.
    ttl_ms: AtomicU64,
}

impl Default for PolicyCache {
    fn default() -> Self {
        PolicyCache {
            scopes: Memo::default(),
            keys: Memo::default(),
            generation: AtomicU64::default(),
            ttl_ms: AtomicU64::new(POLICY_TTL.as_millis() as u64),
        }
    }
}

/// Values by key, each for the cache's time-to-live.
struct Memo<V>(Mutex<HashMap<String, (Instant, V)>>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

/// Namespaces whose keys are remembered at once.
const MAX_REMEMBERED: usize = 4096;

impl<V: Clone> Memo<V> {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, V)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &str, ttl: Duration) -> Option<V> {
        let entries = self.entries();
        let (at, value) = entries.get(key)?;
        (at.elapsed() < ttl).then(|| value.clone())
    }
}

impl PolicyCache {
    pub(crate) fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.scopes.entries().clear();
        self.keys.entries().clear();
    }

    /// `memo`'s value for `key`, or what `load` reads (kept unless a local change overtook it).
    async fn through<V: Clone>(
        &self,
        memo: &Memo<V>,
        key: &str,
        load: impl std::future::Future<Output = Result<V>>,
    ) -> Result<V> {
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
        if let Some(value) = memo.get(key, ttl) {
            return Ok(value);
        }
        let read = Instant::now();
        let generation = self.generation.load(Ordering::SeqCst);
        let value = load.await?;
        let mut entries = memo.entries();
        if self.generation.load(Ordering::SeqCst) == generation {
            if entries.len() >= MAX_REMEMBERED {
                entries.clear();
            }
            entries.insert(key.to_owned(), (read, value.clone()));
        }
        Ok(value)
    }

    async fn scopes(&self, pool: &sqlx::AnyPool) -> Result<Arc<HashSet<String>>> {
        self.through(&self.scopes, "", async {
            let scopes: Vec<String> = sqlx::query_scalar("SELECT scope FROM signed_only")
                .fetch_all(pool)
                .await?;
            Ok(Arc::new(scopes.into_iter().collect()))
        })
        .await
    }

    /// The keys signatures of `namespace`'s images are checked against, as [`trusted`] reads
    /// them.
    pub(crate) async fn trusted(
        &self,
        trust: &Trust,
        namespace: &str,
    ) -> Result<Arc<Vec<TrustedKey>>> {
        self.through(&self.keys, namespace, async {
            Ok(Arc::new(trusted(trust, namespace).await?))
        })
        .await
    }
}

const POLICY_TTL: Duration = Duration::from_secs(1);

/// Where the signed-only policy is on for `repository`: `Some("namespace")`, `Some("repository")`
/// or `None`.
pub async fn signed_only(trust: &Trust, repository: &str) -> Result<Option<&'static str>> {
    let scopes = trust.signed_only.scopes(&trust.pool).await?;
    Ok(
        if scopes.contains(namespace_of(repository).unwrap_or(repository)) {
            Some("namespace")
        } else if scopes.contains(repository) {
            Some("repository")
        } else {
            None
        },
    )
}

/// Whether the policy is set on exactly `scope` (a namespace, or a repository).
pub async fn is_set(trust: &Trust, scope: &str) -> Result<bool> {
    let pool = &trust.pool;
    let found: Option<String> =
        sqlx::query_scalar("SELECT scope FROM signed_only WHERE scope = $1")
            .bind(scope)
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Turns the policy on or off for `scope` (a namespace, or a repository of it). The caller has
/// checked that `actor` administers it.
pub async fn set_signed_only(trust: &Trust, actor: &str, scope: &str, on: bool) -> Result<()> {
    let pool = &trust.pool;
    if on {
        sqlx::query(
            "INSERT INTO signed_only (scope, namespace, set_by, set_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope) DO NOTHING",
        )
        .bind(scope)
        .bind(namespace_of(scope).unwrap_or(scope))
        .bind(actor)
        .bind(now())
        .execute(pool)
        .await?;
    } else {
        sqlx::query("DELETE FROM signed_only WHERE scope = $1")
            .bind(scope)
            .execute(pool)
            .await?;
    }
    trust.changed_signing().await?;
    let action = if on {
        "policy.signed_only.on"
    } else {
        "policy.signed_only.off"
    };
    audit::record(&trust.accounts, actor, action, scope, "").await
}

/// Forgets the keys and policies of a namespace that goes away.
pub async fn delete_of_namespace(conn: &mut sqlx::AnyConnection, namespace: &str) -> Result<()> {
    for table in ["signing_keys", "signed_only"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE namespace = $1"))
            .bind(namespace)
            .execute(&mut *conn)
            .await?;
    }
    coherence::announce(conn, Topic::Signing).await?;
    Ok(())
}

/// Forgets the policy of a repository that goes away.
pub async fn delete_of_repository(conn: &mut sqlx::AnyConnection, repository: &str) -> Result<()> {
    sqlx::query("DELETE FROM signed_only WHERE scope = $1")
        .bind(repository)
        .execute(&mut *conn)
        .await?;
    coherence::announce(conn, Topic::Signing).await?;
    Ok(())
}
