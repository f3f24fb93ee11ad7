//! Repository names, tags and manifest references (`/v2/<name>/manifests/<reference>`).

#![no_main]

use berth_registry::digest::{Algorithm, Digest};
use berth_registry::names::{self, Reference, MAX_NAME_LEN, MAX_TAG_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    if names::validate_name(s).is_ok() {
        assert!(!s.is_empty() && s.len() <= MAX_NAME_LEN);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b)));
        assert!(!s.starts_with('/') && !s.ends_with('/') && !s.contains("//"));
        assert!(!s.split('/').any(|c| c == "." || c == ".."));
    }

    let tag = names::is_tag(s);
    if tag {
        assert!(!s.is_empty() && s.len() <= MAX_TAG_LEN && s.is_ascii());
        assert!(!s.contains(':') && !s.contains('/'));
    }

    if let Ok(d) = s.parse::<Digest>() {
        assert_eq!(d.to_string(), s, "a digest shows as it was written");
        let hex_len = match d.algorithm() {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        };
        assert_eq!(d.hex().len(), hex_len);
    }

    match names::parse_reference(s) {
        Ok(Reference::Digest(d)) => {
            assert_eq!(d.to_string(), s);
            assert_eq!(s.parse::<Digest>().ok(), Some(d));
        }
        Ok(Reference::Tag(t)) => {
            assert_eq!(t, s);
            assert!(tag);
        }
        Err(_) => assert!(!tag, "a valid tag is a valid reference"),
    }
});
