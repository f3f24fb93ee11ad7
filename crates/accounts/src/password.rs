//! Password hashing: argon2id at (at least) OWASP's minimum parameters, m = 19 MiB, t = 2, p = 1.
//!
//! Each hash or verification holds 19 MiB while it runs, so they run on a small fixed set of
//! worker threads ([`hash_async`], [`verify_async`]): as many as there are cores. Memory stays
//! bounded however many logins arrive at once (each thread reuses its own allocation), and a
//! request that cannot get a worker within [`QUEUE_WAIT`] is answered `429` with `Retry-After`.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a request waits for a free hashing worker before it is told to come back later.
pub const QUEUE_WAIT: Duration = Duration::from_secs(3);

type Job = Box<dyn FnOnce() + Send>;

struct Workers {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// How many argon2 computations may run at once: one per core (at least two).
pub fn workers_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let n = workers_count();
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("berth-argon2-{i}"))
                .spawn(move || loop {
                    let job = {
                        let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                        rx.recv()
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a password hashing thread");
            }
        }
        Workers {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(n)),
            jobs: Mutex::new(tx),
        }
    })
}

/// Runs `f` on a hashing worker, waiting at most [`QUEUE_WAIT`] for one to be free.
async fn on_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let w = workers();
    let permits = w.permits.clone();
    let permit = match tokio::time::timeout(QUEUE_WAIT, permits.acquire_owned()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(Error::Internal("password workers closed".into())),
        Err(_) => {
            tracing::warn!("every password hashing worker is busy: asking the client to retry");
            return Err(Error::Throttled { retry_after: 1 });
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(Box::new(move || {
            // The permit is held until the work is done, even if the request that asked for
            // it went away meanwhile: a flood of abandoned logins cannot queue more work.
            let _permit = permit;
            let _ = tx.send(f());
        }))
        .map_err(|_| Error::Internal("password workers stopped".into()))?;
    rx.await
        .map_err(|_| Error::Internal("password worker failed".into()))
}

/// [`hash`] on a hashing worker.
pub async fn hash_async(password: &str) -> Result<String> {
    let password = password.to_owned();
    on_worker(move || hash(&password)).await?
}

/// [`verify`] on a hashing worker.
pub async fn verify_async(password: &str, stored: &str) -> Result<bool> {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    on_worker(move || verify(&password, &stored)).await
}

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

/// Berth's parameters for new hashes: OWASP's minimum for argon2id.
fn params() -> Result<Params> {
    Params::new(19 * 1024, 2, 1, Some(32))
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))
}

/// Checks a new password against the rules.
pub fn check_strength(password: &str) -> Result<()> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Error::Invalid(format!(
            "the password must be at least {MIN_LENGTH} characters long"
        )));
    }
    if password.len() > MAX_LENGTH {
        return Err(Error::Invalid(format!(
            "the password must be at most {MAX_LENGTH} bytes long"
        )));
    }
    if is_common(password) {
        return Err(Error::Invalid(
            "that password is one of the 10,000 most common passwords, which are guessed \
             first: choose another"
                .into(),
        ));
    }
    Ok(())
}

/// The list of common passwords shipped with Berth: its first line says where it comes from.
const COMMON: &str = include_str!("common-passwords.txt");

/// Whether `password` is on the list of common passwords, ignoring case (the list is all
/// lowercase). The set is built on first use.
pub fn is_common(password: &str) -> bool {
    static SET: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| {
        COMMON
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    });
    set.contains(password.to_lowercase().as_str())
}

thread_local! {
    /// The argon2 working memory of this thread, kept between computations: each hashing worker
    /// owns one block array (19 MiB) for good instead of allocating and freeing one per login,
    /// which the allocator does not reliably give back.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Computes an argon2 output into `out` with this thread's kept working memory.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != blocks {
            *memory = vec![Block::default(); blocks];
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..])
            .map_err(|e| Error::Internal(format!("hashing: {e}")))
    })
}

/// Hashes a password as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
/// Costs 19 MiB while it runs: call [`hash_async`] from request handlers.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let params = params()?;
    let mut out = [0u8; 32];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    phc(&params, &salt, &out)
}

fn phc(params: &Params, salt: &[u8], out: &[u8]) -> Result<String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| Error::Internal(e.to_string()))?;
    let output = Output::new(out).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str(),
        output
    ))
}

/// Constant-time check of a password against a stored hash. Costs what the stored hash's
/// parameters say: call [`verify_async`] from request handlers.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if compute(
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut out,
    )
    .is_err()
    {
        return false;
    }
    let given = out.iter().zip(expected.as_bytes());
    out.len() == expected.len() && given.fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A hash to verify against when the user does not exist, so that a wrong name costs the same
/// time as a wrong password: Berth's parameters with a random salt and a random output, which
/// no password matches.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 48];
        if getrandom::getrandom(&mut random).is_err() {
            return String::new();
        }
        let (salt, out) = random.split_at(16);
        params()
            .and_then(|p| phc(&p, salt, out))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(COMMON.lines().skip(1).count(), 10_000);
        for common in [
            "password1",
            "qwerty123",
            "Password123",
            "ILOVEYOU",
            "baseball",
        ] {
            assert!(is_common(common), "{common}");
            assert!(check_strength(common).is_err(), "{common}");
        }
        // The source line is not a password, and ordinary long ones pass.
        assert!(!is_common(COMMON.lines().next().unwrap_or_default()));
        assert!(check_strength("correct horse battery").is_ok());
    }

    #[test]
    fn argon2id_at_owasp_parameters() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify("anything", dummy_hash()));
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // Hashes made by the argon2 crate itself (older accounts) still verify.
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params().expect("params"),
        )
        .hash_password(b"correct horse battery", &salt)
        .expect("hash")
        .to_string();
        assert!(verify("correct horse battery", &theirs));
        assert!(!verify("wrong", &theirs));
        assert_ne!(
            hash("same").expect("hash"),
            hash("same").expect("hash"),
            "salted"
        );
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough").is_ok());
    }
}
