//! Credentials on `Authorization`: the Bearer JWT verification path with one fixed signing key
//! (the checked-in `fuzz/token-signing.key`, used for nothing else), and `Basic` header parsing.
//!
//! The input is tried as a token and as a Basic header as it stands. An input starting `sub=` is
//! also made (the rest of it) the subject of a fresh token signed with the fixed key, which must
//! then verify to the same claims; signing costs milliseconds, so only those inputs pay for it.

#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use berth_accounts::jwt::{Access, Claims, TokenKeys};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "berth-fuzz";
const AUDIENCE: &str = "registry.fuzz";
const LEEWAY_SECS: i64 = 60;

static KEYS: LazyLock<TokenKeys> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("token-signing.key"),
        include_str!("../token-signing.key"),
    )
    .expect("writing the fixed key");
    // The key is read and its certificate made here; the directory goes once they are in memory.
    TokenKeys::load_or_create(dir.path()).expect("the fixed key loads")
});

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let keys = &*KEYS;

    // As a Bearer token.
    let token = s.strip_prefix("Bearer ").unwrap_or(s);
    if let Ok(claims) = keys.verify(token, ISSUER, AUDIENCE) {
        assert_eq!(claims.iss, ISSUER);
        assert_eq!(claims.aud, AUDIENCE);
        let now = now();
        assert!(
            claims.exp.saturating_add(LEEWAY_SECS) >= now,
            "expired token accepted"
        );
        assert!(
            claims.nbf.saturating_sub(LEEWAY_SECS) <= now,
            "early token accepted"
        );
        // Verified again (now from the cache of checked signatures), it says the same.
        assert_eq!(
            keys.verify(token, ISSUER, AUDIENCE).ok(),
            Some(claims.clone())
        );
        assert!(keys.verify(token, ISSUER, "another.audience").is_err());
        assert!(keys.verify(token, "another-issuer", AUDIENCE).is_err());
    }

    // As a Basic header.
    if let Some((name, secret)) = berth_accounts::parse_basic(s) {
        assert!(!name.contains(':'), "the name ends at the first colon");
        let again = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{name}:{secret}"))
        );
        assert_eq!(
            berth_accounts::parse_basic(&again),
            Some((name, secret)),
            "Basic credentials round-trip"
        );
    }

    // Signed with the fixed key, any subject and repository name verifies to the same claims.
    let Some(s) = s.strip_prefix("sub=") else {
        return;
    };
    let now = now();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: s.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: now + 300,
        nbf: now,
        iat: now,
        jti: "fuzz".to_owned(),
        access: vec![Access {
            kind: "repository".to_owned(),
            name: s.to_owned(),
            actions: vec!["pull".to_owned()],
        }],
    };
    let signed = keys.sign(&claims).expect("signing with the fixed key");
    assert_eq!(keys.verify(&signed, ISSUER, AUDIENCE).ok(), Some(claims));
});
