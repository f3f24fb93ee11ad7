//! Login throttling: after too many failures in a window, per account and per client address,
//! further attempts are refused until the window moves on.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub struct Throttle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Throttle {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses if any of `keys` has used up its failures in the current window.
    pub fn check(&self, keys: &[String]) -> Result<()> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(q) = map.get_mut(key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                if q.len() >= self.max_failures {
                    let oldest = q.front().copied().unwrap_or(now);
                    let wait = self.window.saturating_sub(now.duration_since(oldest));
                    return Err(Error::Throttled {
                        retry_after: wait.as_secs().max(1),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the map from growing without bound under a spray of names.
        if map.len() > 100_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in keys {
            let q = map.entry(key.clone()).or_default();
            q.push_back(now);
            while q.len() > self.max_failures {
                q.pop_front();
            }
        }
    }

    pub fn succeeded(&self, account_key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(account_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engages_and_lifts() {
        let t = Throttle::new(3, Duration::from_millis(200));
        let keys = vec!["user:alice".to_owned(), "ip:1.2.3.4".to_owned()];
        for _ in 0..3 {
            assert!(t.check(&keys).is_ok());
            t.failed(&keys);
        }
        assert!(matches!(t.check(&keys), Err(Error::Throttled { .. })));
        // The address alone is enough to be throttled, for any account.
        assert!(t
            .check(&["user:bob".to_owned(), "ip:1.2.3.4".to_owned()])
            .is_err());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.check(&keys).is_ok());
    }
}
