//! Password hashing: argon2id at (at least) OWASP's minimum parameters, m = 19 MiB, t = 2, p = 1.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
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
    Ok(())
}

pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(format!("hashing: {e}")))?
        .to_string())
}

/// Constant-time check of a password against a stored hash.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let Ok(a) = argon2() else {
        return false;
    };
    password.len() <= MAX_LENGTH && a.verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A hash to verify against when the user does not exist, so that a wrong name costs the same
/// time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_at_owasp_parameters() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify("anything", dummy_hash()));
        assert_ne!(
            hash("same").expect("hash"),
            hash("same").expect("hash"),
            "salted"
        );
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough").is_ok());
    }
}
