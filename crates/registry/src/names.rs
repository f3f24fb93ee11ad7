//! Repository names, tags and manifest references by the distribution spec's grammar.
//!
//! name:      `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
//! reference: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`

use crate::digest::Digest;
use crate::error::{Code, Error, Result};

pub const MAX_NAME_LEN: usize = 255;
pub const MAX_TAG_LEN: usize = 128;

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Validates a repository name.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.split('/').all(component_ok) {
        return Err(Error::new(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ));
    }
    Ok(())
}

/// The namespace (user or organization) a repository belongs to: its first component, `None`
/// for a name of one component (which only administrators may use).
pub fn namespace_of(repository: &str) -> Option<&str> {
    repository.split_once('/').map(|(namespace, _)| namespace)
}

/// The repository a Docker Content Trust collection (a GUN, `<registry host>/<repository>`)
/// belongs to, when the GUN names this registry: its first component is exactly `own_host`
/// (the host of Berth's public URL). `None` for anything else, so that a repository has exactly
/// one trust collection and nobody can publish a second one under another host name.
pub fn gun_repository<'a>(gun: &'a str, own_host: &str) -> Option<&'a str> {
    let (host, repository) = gun.split_once('/')?;
    (host == own_host && validate_name(repository).is_ok()).then_some(repository)
}

/// Is this a valid tag?
pub fn is_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

/// A manifest reference: a digest or a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Digest(Digest),
    Tag(String),
}

/// Parses the `<reference>` of `/v2/<name>/manifests/<reference>`: a digest if it holds a `:`,
/// otherwise a tag.
pub fn parse_reference(reference: &str) -> Result<Reference> {
    if reference.contains(':') {
        return reference.parse().map(Reference::Digest);
    }
    if is_tag(reference) {
        return Ok(Reference::Tag(reference.to_owned()));
    }
    Err(Error::new(
        Code::ManifestInvalid,
        format!("invalid tag {reference:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar() {
        for ok in [
            "a",
            "library/alpine",
            "a/b/c/d",
            "my-app",
            "my--app",
            "my_app",
            "my__app",
            "my.app",
            "0",
            "a1/b2",
        ] {
            assert!(validate_name(ok).is_ok(), "{ok} should be valid");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            "A",
            "Library/alpine",
            "a//b",
            "/a",
            "a/",
            "..",
            "a/../b",
            "a/./b",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a_.b",
            "a%2Fb",
            "a b",
            long.as_str(),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(validate_name(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn guns_name_a_host_and_a_repository() {
        let own = "berth.example.com";
        assert_eq!(gun_repository("127.0.0.1:5000/alice/app", own), None);
        assert_eq!(
            gun_repository("127.0.0.1:5000/alice/app", "127.0.0.1:5000"),
            Some("alice/app")
        );
        assert_eq!(
            gun_repository("berth.example.com/alice/app", own),
            Some("alice/app")
        );
        assert_eq!(gun_repository("other.example.com/alice/app", own), None);
        // Another host with a port is another registry's collection, not an alias of ours.
        assert_eq!(gun_repository("evil:1/alice/app", own), None);
        assert_eq!(gun_repository("alice/app", own), None);
        assert_eq!(gun_repository("berth.example.com/Alice", own), None);
        assert_eq!(gun_repository("berth.example.com", own), None);
    }

    #[test]
    fn tags_follow_the_grammar() {
        for ok in ["latest", "v1.0", "_x", "1", "A-b_c.d", &"t".repeat(128)] {
            assert!(is_tag(ok), "{ok} should be a tag");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a+b", &"t".repeat(129)] {
            assert!(!is_tag(bad), "{bad:?} should not be a tag");
        }
    }
}
