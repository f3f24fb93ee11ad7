//! Login throttling. Failed guesses are counted in a sliding window under three keys:
//!
//! - the account *and* the client address: refused after `max_failures`;
//! - the client address alone (any account): refused after [`ADDRESS_FACTOR`] × `max_failures`;
//! - the account alone (any address): never refused, only slowed down (see [`Throttle::slow`]),
//!   so that nobody can lock an owner who knows the password out of their own account.
//!
//! An attempt is counted *before* its password is verified ([`Throttle::reserve`]), in one step
//! with the check, so parallel guesses cannot all slip past the limit; a success hands the
//! reservation back. High-entropy secrets (access tokens, robot secrets) are checked before the
//! throttle and are never refused because of someone else's failures.
//!
//! The counts live in the database (`login_failures`, a row per failure), so that every
//! process on one database counts the same guesses: a client spreading its guesses over
//! several replicas gets no more than from one. A reservation is one transaction: on
//! PostgreSQL it holds an advisory lock on the client address (every limit it checks is of
//! that address), on SQLite its first statement, a write, takes the database's write lock.
//! Rows older than the window are deleted as keys are checked, and all of them once a minute.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use berth_registry::backend::Backend;
use berth_registry::clock::now_ms;

use crate::error::{Error, Result};
use crate::Db;

/// How many more failures a client address may make (over all accounts) than one account may
/// take from it.
pub const ADDRESS_FACTOR: usize = 5;

/// Password attempts on an account that failed this many times in the window (from anywhere)
/// wait [`SLOW_DOWN`] before they are verified.
const SLOW_AFTER_FACTOR: usize = 1;
pub const SLOW_DOWN: Duration = Duration::from_secs(1);

/// How often one process deletes every expired row, in milliseconds.
const PRUNE_EVERY_MS: i64 = 60_000;

/// First key of the advisory locks reservations take (the second is the address's hash), so
/// they cannot collide with any other use of advisory locks.
const LOCK_CLASS: i32 = 0x4c4f_4749; // "LOGI"

/// Longest account name kept in a key: longer ones name no account, and are counted as one.
const MAX_KEY_ACCOUNT: usize = 256;

pub struct Throttle {
    db: Db,
    backend: Backend,
    max_failures: usize,
    window: Duration,
    /// When this process last deleted every expired row (milliseconds since the epoch).
    pruned_ms: AtomicI64,
}

/// The keys one login attempt is counted under.
pub struct Keys {
    pair: String,
    address: String,
    account: String,
}

impl Keys {
    pub fn new(account: &str, peer: Option<IpAddr>) -> Keys {
        let ip = peer.map(client_key).unwrap_or_default();
        // Escaped: a name may hold anything a client sends, NUL included, which PostgreSQL's
        // text cannot store.
        let account: String = account
            .chars()
            .take(MAX_KEY_ACCOUNT)
            .collect::<String>()
            .escape_default()
            .collect();
        Keys {
            // The address holds no space: the key names one pair only.
            pair: format!("pair:{ip} {account}"),
            address: format!("ip:{ip}"),
            account: format!("user:{account}"),
        }
    }

    /// The client address, for the audit log.
    pub fn address(&self) -> &str {
        self.address.trim_start_matches("ip:")
    }
}

/// An attempt counted before it was verified: the rows to hand back if it succeeds or is not
/// verified.
#[derive(Debug)]
pub struct Reservation {
    pair: i64,
    address: i64,
}

/// The address failures are counted under: an IPv4 address, or an IPv6 address's /64 (one
/// client usually holds a whole /64, and could rotate through it for free).
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        v4 => v4.to_string(),
    }
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
    oldest: Option<i64>,
}

impl Throttle {
    pub fn new(db: Db, max_failures: usize, window: Duration) -> Self {
        Throttle {
            backend: Backend::of_pool(&db.pool),
            db,
            max_failures: max_failures.max(1),
            window,
            pruned_ms: AtomicI64::new(0),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Rows at or before this are expired.
    fn cutoff(&self, now: i64) -> i64 {
        now.saturating_sub(self.window_ms())
    }

    /// Counts an attempt as failed before it is verified, or refuses it when the account from
    /// this address, or the address, has used up its failures. Checking and counting happen
    /// in one transaction that no other reservation from this address runs beside, so
    /// parallel attempts (through any process) cannot all pass the check.
    pub async fn reserve(&self, keys: &Keys) -> Result<Reservation> {
        let now = now_ms();
        self.prune_now_and_then(now).await;
        let cutoff = self.cutoff(now);
        let mut tx = self.db.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // The function returns `void`, which the Any driver cannot read: read it as text.
            sqlx::query("SELECT CAST(pg_advisory_xact_lock($1, hashtext($2)) AS TEXT)")
                .bind(LOCK_CLASS)
                .bind(&keys.address)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM login_failures WHERE key IN ($1, $2) AND at_ms <= $3")
            .bind(&keys.pair)
            .bind(&keys.address)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let limits = [
            (&keys.pair, self.max_failures),
            (
                &keys.address,
                self.max_failures.saturating_mul(ADDRESS_FACTOR),
            ),
        ];
        for (key, limit) in limits {
            let count: Count = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n, MIN(at_ms) AS oldest FROM login_failures
                 WHERE key = $1 AND at_ms > $2",
            )
            .bind(key)
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?;
            if count.n >= limit as i64 {
                // Free again when the oldest failure leaves the window.
                let frees = count.oldest.unwrap_or(now).saturating_add(self.window_ms());
                let wait_ms = frees.saturating_sub(now).max(0) as u64;
                return Err(Error::Throttled {
                    retry_after: wait_ms.div_ceil(1000).max(1),
                });
            }
        }
        let mut ids = [0i64; 2];
        for (id, key) in ids.iter_mut().zip([&keys.pair, &keys.address]) {
            *id = sqlx::query_scalar(
                "INSERT INTO login_failures (key, at_ms) VALUES ($1, $2) RETURNING id",
            )
            .bind(key)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Reservation {
            pair: ids[0],
            address: ids[1],
        })
    }

    /// The reserved attempt failed: it also counts against the account as a whole (the most
    /// recent failures only, up to what slowing down needs and more).
    pub async fn failed(&self, keys: &Keys) -> Result<()> {
        let cap = self.max_failures.saturating_mul(ADDRESS_FACTOR) as i64;
        sqlx::query("INSERT INTO login_failures (key, at_ms) VALUES ($1, $2)")
            .bind(&keys.account)
            .bind(now_ms())
            .execute(&self.db.pool)
            .await?;
        sqlx::query(
            "DELETE FROM login_failures WHERE key = $1 AND id NOT IN
                 (SELECT id FROM login_failures WHERE key = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(&keys.account)
        .bind(cap)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// A failure of a high-entropy secret, which was not reserved: counted for the address
    /// and the account from it, so that guessing tokens is throttled like guessing passwords.
    pub async fn failed_secret(&self, keys: &Keys) -> Result<()> {
        self.reserve(keys).await.map(drop)
    }

    /// The reserved attempt succeeded: the account's failures from this address are forgiven
    /// and the reservation is handed back to the address.
    pub async fn succeeded(&self, keys: &Keys, reservation: Reservation) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1 OR id = $2")
            .bind(&keys.pair)
            .bind(reservation.address)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The reserved attempt was never verified: it does not count.
    pub async fn release(&self, reservation: Reservation) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE id IN ($1, $2)")
            .bind(reservation.pair)
            .bind(reservation.address)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// How long a password attempt on this account waits before it is verified: nothing,
    /// unless the account failed often in the window (from any address).
    pub async fn slow(&self, keys: &Keys) -> Result<Duration> {
        let now = now_ms();
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM login_failures WHERE key = $1 AND at_ms > $2",
        )
        .bind(&keys.account)
        .bind(self.cutoff(now))
        .fetch_one(&self.db.pool)
        .await?;
        Ok(
            if n >= self.max_failures.saturating_mul(SLOW_AFTER_FACTOR) as i64 {
                SLOW_DOWN
            } else {
                Duration::ZERO
            },
        )
    }

    /// Deletes every expired row, at most once a minute per process. A failure only delays it.
    async fn prune_now_and_then(&self, now: i64) {
        let last = self.pruned_ms.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self
                .pruned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let pruned = sqlx::query("DELETE FROM login_failures WHERE at_ms <= $1")
            .bind(self.cutoff(now))
            .execute(&self.db.pool)
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "pruning expired login failures");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    /// A database of its own, migrated, as one process would open it.
    async fn database() -> (Db, tempfile::TempDir) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.expect("open");
        sqlx::migrate!("../../migrations/sqlite")
            .run(&pool)
            .await
            .expect("migrate");
        (Db::new(pool), dir)
    }

    async fn throttle(max: usize, window: Duration) -> (Throttle, tempfile::TempDir) {
        let (db, dir) = database().await;
        (Throttle::new(db, max, window), dir)
    }

    async fn rows(t: &Throttle) -> i64 {
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM login_failures")
            .fetch_one(&t.db.pool)
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn engages_per_account_and_address_and_lifts() {
        let (t, _dir) = throttle(3, Duration::from_millis(500)).await;
        let alice_here = Keys::new("alice", ip("10.0.0.1"));
        for _ in 0..3 {
            assert!(t.reserve(&alice_here).await.is_ok());
            t.failed(&alice_here).await.expect("failed");
        }
        assert!(matches!(
            t.reserve(&alice_here).await,
            Err(Error::Throttled { retry_after: 1 })
        ));
        // Alice from elsewhere is not refused, only slowed.
        let alice_there = Keys::new("alice", ip("10.0.0.2"));
        let r = t.reserve(&alice_there).await.expect("not refused");
        t.succeeded(&alice_there, r).await.expect("succeeded");
        assert_eq!(t.slow(&alice_there).await.expect("slow"), SLOW_DOWN);
        // The same address may still try other accounts, up to its own limit.
        let bob_here = Keys::new("bob", ip("10.0.0.1"));
        assert!(t.reserve(&bob_here).await.is_ok());
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(t.reserve(&alice_here).await.is_ok());
        assert_eq!(t.slow(&alice_here).await.expect("slow"), Duration::ZERO);
    }

    #[tokio::test]
    async fn an_address_is_limited_over_all_accounts() {
        let (t, _dir) = throttle(2, Duration::from_secs(60)).await;
        for i in 0..2 * ADDRESS_FACTOR {
            let keys = Keys::new(&format!("user{i}"), ip("10.0.0.9"));
            assert!(t.reserve(&keys).await.is_ok(), "attempt {i}");
            t.failed(&keys).await.expect("failed");
        }
        let another = Keys::new("another", ip("10.0.0.9"));
        assert!(t.reserve(&another).await.is_err());
        let elsewhere = Keys::new("another", ip("10.0.0.8"));
        assert!(t.reserve(&elsewhere).await.is_ok());
    }

    #[tokio::test]
    async fn an_ipv6_client_is_its_64() {
        let (t, _dir) = throttle(1, Duration::from_secs(60)).await;
        let first = Keys::new("alice", ip("2001:db8:1:2::1"));
        assert!(t.reserve(&first).await.is_ok());
        let same_64 = Keys::new("alice", ip("2001:db8:1:2:ffff::9"));
        assert!(t.reserve(&same_64).await.is_err());
        let other_64 = Keys::new("alice", ip("2001:db8:1:3::1"));
        assert!(t.reserve(&other_64).await.is_ok());
        assert_eq!(Keys::new("a", ip("::ffff:10.0.0.1")).address(), "10.0.0.1");
    }

    #[tokio::test]
    async fn reservations_are_counted_before_verification() {
        let (t, _dir) = throttle(10, Duration::from_secs(60)).await;
        let keys = Keys::new("alice", ip("10.0.0.1"));
        let mut passed = 0;
        for _ in 0..30 {
            if t.reserve(&keys).await.is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, 10);
    }

    #[tokio::test]
    async fn processes_on_one_database_count_the_same_failures() {
        let (db, _dir) = database().await;
        let window = Duration::from_secs(60);
        let a = Throttle::new(db.clone(), 4, window);
        let b = Throttle::new(db, 4, window);
        let keys = Keys::new("alice", ip("10.0.0.1"));
        for t in [&a, &b, &a, &b] {
            t.reserve(&keys).await.expect("within the limit");
            t.failed(&keys).await.expect("failed");
        }
        assert!(matches!(
            b.reserve(&keys).await,
            Err(Error::Throttled { .. })
        ));
        assert!(matches!(
            a.reserve(&keys).await,
            Err(Error::Throttled { .. })
        ));
        assert_eq!(a.slow(&keys).await.expect("slow"), SLOW_DOWN);
    }

    #[tokio::test]
    async fn what_is_handed_back_stops_counting_and_old_rows_go() {
        let (t, _dir) = throttle(2, Duration::from_millis(300)).await;
        let keys = Keys::new("alice", ip("10.0.0.1"));
        let r = t.reserve(&keys).await.expect("reserve");
        t.release(r).await.expect("release");
        assert_eq!(
            rows(&t).await,
            0,
            "an attempt never verified leaves nothing"
        );
        let r = t.reserve(&keys).await.expect("reserve");
        t.succeeded(&keys, r).await.expect("succeeded");
        assert_eq!(rows(&t).await, 0, "a success forgives the pair");
        t.reserve(&keys).await.expect("reserve");
        t.failed(&keys).await.expect("failed");
        assert_eq!(rows(&t).await, 3);
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Expired rows go as their keys are checked, and all of them once a minute.
        t.pruned_ms.store(0, Ordering::Relaxed);
        let other = Keys::new("bob", ip("10.0.0.2"));
        t.reserve(&other).await.expect("reserve");
        assert_eq!(
            rows(&t).await,
            2,
            "only the new reservation's rows are left"
        );
    }

    #[tokio::test]
    async fn any_name_is_counted_even_one_no_account_could_have() {
        let (t, _dir) = throttle(1, Duration::from_secs(60)).await;
        let odd = Keys::new("a\u{0}b\n", ip("10.0.0.1"));
        t.reserve(&odd).await.expect("reserve");
        assert!(t.reserve(&odd).await.is_err());
        assert!(t.reserve(&Keys::new("ab", ip("10.0.0.1"))).await.is_ok());
        let long = "x".repeat(100_000);
        t.reserve(&Keys::new(&long, ip("10.0.0.3")))
            .await
            .expect("reserve");
        assert!(t.reserve(&Keys::new(&long, ip("10.0.0.3"))).await.is_err());
    }
}
