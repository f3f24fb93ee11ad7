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

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How many more failures a client address may make (over all accounts) than one account may
/// take from it.
pub const ADDRESS_FACTOR: usize = 5;

/// Password attempts on an account that failed this many times in the window (from anywhere)
/// wait [`SLOW_DOWN`] before they are verified.
const SLOW_AFTER_FACTOR: usize = 1;
pub const SLOW_DOWN: Duration = Duration::from_secs(1);

pub struct Throttle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
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
        Keys {
            pair: format!("pair:{account}\u{0}{ip}"),
            address: format!("ip:{ip}"),
            account: format!("user:{account}"),
        }
    }

    /// The client address, for the audit log.
    pub fn address(&self) -> &str {
        self.address.trim_start_matches("ip:")
    }
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

impl Throttle {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Throttle {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn limits(&self, keys: &Keys) -> [(String, usize); 2] {
        [
            (keys.pair.clone(), self.max_failures),
            (
                keys.address.clone(),
                self.max_failures.saturating_mul(ADDRESS_FACTOR),
            ),
        ]
    }

    /// Counts an attempt as failed before it is verified, or refuses it when the account from
    /// this address, or the address, has used up its failures. Checking and counting happen
    /// under one lock, so parallel attempts cannot all pass the check.
    pub fn reserve(&self, keys: &Keys) -> Result<()> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let limits = self.limits(keys);
        for (key, limit) in &limits {
            if let Some(q) = map.get_mut(key) {
                self.expire(q, now);
                if q.len() >= *limit {
                    let oldest = q.front().copied().unwrap_or(now);
                    let wait = self.window.saturating_sub(now.duration_since(oldest));
                    return Err(Error::Throttled {
                        retry_after: wait.as_secs().max(1),
                    });
                }
            }
        }
        // Keep the map from growing without bound under a spray of names.
        if map.len() > 100_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for (key, _) in &limits {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Ok(())
    }

    /// The reserved attempt failed: it also counts against the account as a whole.
    pub fn failed(&self, keys: &Keys) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let cap = self.max_failures.saturating_mul(ADDRESS_FACTOR);
        let q = map.entry(keys.account.clone()).or_default();
        q.push_back(now);
        while q.len() > cap {
            q.pop_front();
        }
    }

    /// A failure of a high-entropy secret, which was not reserved: counted for the address
    /// and the account from it, so that guessing tokens is throttled like guessing passwords.
    pub fn failed_secret(&self, keys: &Keys) -> Result<()> {
        self.reserve(keys)
    }

    /// The reserved attempt succeeded: the account's failures from this address are forgiven
    /// and the reservation is handed back to the address.
    pub fn succeeded(&self, keys: &Keys) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&keys.pair);
        if let Some(q) = map.get_mut(&keys.address) {
            q.pop_back();
        }
    }

    /// The reserved attempt was never verified: it does not count.
    pub fn release(&self, keys: &Keys) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in [&keys.pair, &keys.address] {
            if let Some(q) = map.get_mut(key) {
                q.pop_back();
            }
        }
    }

    /// How long a password attempt on this account waits before it is verified: nothing,
    /// unless the account failed often in the window (from any address).
    pub fn slow(&self, keys: &Keys) -> Duration {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&keys.account) {
            Some(q) => {
                self.expire(q, now);
                if q.len() >= self.max_failures.saturating_mul(SLOW_AFTER_FACTOR) {
                    SLOW_DOWN
                } else {
                    Duration::ZERO
                }
            }
            None => Duration::ZERO,
        }
    }

    fn expire(&self, q: &mut VecDeque<Instant>, now: Instant) {
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn engages_per_account_and_address_and_lifts() {
        let t = Throttle::new(3, Duration::from_millis(200));
        let alice_here = Keys::new("alice", ip("10.0.0.1"));
        for _ in 0..3 {
            assert!(t.reserve(&alice_here).is_ok());
            t.failed(&alice_here);
        }
        assert!(matches!(
            t.reserve(&alice_here),
            Err(Error::Throttled { .. })
        ));
        // Alice from elsewhere is not refused, only slowed.
        let alice_there = Keys::new("alice", ip("10.0.0.2"));
        assert!(t.reserve(&alice_there).is_ok());
        t.succeeded(&alice_there);
        assert_eq!(t.slow(&alice_there), SLOW_DOWN);
        // The same address may still try other accounts, up to its own limit.
        let bob_here = Keys::new("bob", ip("10.0.0.1"));
        assert!(t.reserve(&bob_here).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.reserve(&alice_here).is_ok());
        assert_eq!(t.slow(&alice_here), Duration::ZERO);
    }

    #[test]
    fn an_address_is_limited_over_all_accounts() {
        let t = Throttle::new(2, Duration::from_secs(60));
        for i in 0..2 * ADDRESS_FACTOR {
            let keys = Keys::new(&format!("user{i}"), ip("10.0.0.9"));
            assert!(t.reserve(&keys).is_ok(), "attempt {i}");
            t.failed(&keys);
        }
        assert!(t.reserve(&Keys::new("another", ip("10.0.0.9"))).is_err());
        assert!(t.reserve(&Keys::new("another", ip("10.0.0.8"))).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let t = Throttle::new(1, Duration::from_secs(60));
        assert!(t
            .reserve(&Keys::new("alice", ip("2001:db8:1:2::1")))
            .is_ok());
        assert!(t
            .reserve(&Keys::new("alice", ip("2001:db8:1:2:ffff::9")))
            .is_err());
        assert!(t
            .reserve(&Keys::new("alice", ip("2001:db8:1:3::1")))
            .is_ok());
        assert_eq!(Keys::new("a", ip("::ffff:10.0.0.1")).address(), "10.0.0.1");
    }

    #[test]
    fn reservations_are_counted_before_verification() {
        let t = Throttle::new(10, Duration::from_secs(60));
        let keys = Keys::new("alice", ip("10.0.0.1"));
        let passed = (0..100).filter(|_| t.reserve(&keys).is_ok()).count();
        assert_eq!(passed, 10);
    }
}
