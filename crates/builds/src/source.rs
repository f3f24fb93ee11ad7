//! Git sources: the URL a build clones from, checked before it is saved so that nothing in
//! it can reach git as an option or carry a credential, and the SSH deploy keys Berth offers
//! for private repositories.

use std::fmt;

use serde::{Deserialize, Serialize};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};
use url::{Host, Url};

/// Longest source URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest deploy-key comment, in characters.
pub const MAX_KEY_COMMENT_LEN: usize = 255;

/// How git reaches a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Https,
    Http,
    Git,
    Ssh,
    File,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Git => "git",
            Scheme::Ssh => "ssh",
            Scheme::File => "file",
        }
    }

    /// The port a URL without one uses; `None` for `file`.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Https => Some(443),
            Scheme::Http => Some(80),
            Scheme::Git => Some(9418),
            Scheme::Ssh => Some(22),
            Scheme::File => None,
        }
    }

    fn parse(s: &str) -> Option<Scheme> {
        match s {
            "https" => Some(Scheme::Https),
            "http" => Some(Scheme::Http),
            "git" => Some(Scheme::Git),
            "ssh" => Some(Scheme::Ssh),
            "file" => Some(Scheme::File),
            _ => None,
        }
    }
}

/// A checked git source URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUrl {
    pub scheme: Scheme,
    /// The URL as git gets it, normalised (host lowercased for http/https, `file:///…`).
    pub url: String,
    /// The host name or IP address, without the brackets of an IPv6 literal (None for file).
    pub host: Option<String>,
    /// The port, the scheme's default when the URL gives none (None for file).
    pub port: Option<u16>,
}

/// `%XX` sequences decoded, for checking what git and the transports will see.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `user@host:path`, git's scp-like SSH syntax, which has no scheme to check.
fn looks_scp_like(url: &str) -> bool {
    match url.split_once(':') {
        Some((before, _)) => !before.is_empty() && !before.contains('/'),
        None => false,
    }
}

/// Checks a git URL: https/http/git/ssh/file only (`file://` only when `admin`), ≤ 2048 chars,
/// no whitespace/control chars, a host for network schemes, no password in the URL (credentials
/// are stored separately; `ssh://git@host/…` user is fine, `https://u:p@…` is an error that says
/// to use the credentials fields), no `--` prefix or leading `-` anywhere that git could take as
/// an option, no query/fragment. Default ports: https 443, http 80, git 9418, ssh 22.
pub fn parse_url(url: &str, admin: bool) -> Result<SourceUrl, String> {
    if url.is_empty() {
        return Err("the git URL cannot be empty".into());
    }
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "the git URL is longer than {MAX_URL_LEN} characters"
        ));
    }
    if url.starts_with('-') {
        return Err(format!(
            "the git URL {url:?} starts with '-', which git would read as an option"
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the git URL may not hold spaces or control characters".into());
    }
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(if url.contains("::") {
            "git's remote-helper form (transport::address) is not allowed; use an https://, \
             http://, git:// or ssh:// URL"
                .into()
        } else if url.starts_with('/') {
            "a local path is not a URL; write file:///path (site administrators only)".into()
        } else if looks_scp_like(url) {
            let (host, path) = url.split_once(':').unwrap_or((url, ""));
            format!(
                "write the SSH address as a URL: ssh://{host}/{}",
                path.trim_start_matches('/')
            )
        } else {
            format!("{url:?} is not a URL; use https://, http://, git://, ssh:// or file://")
        });
    };
    let scheme_lc = scheme.to_ascii_lowercase();
    let Some(scheme) = Scheme::parse(&scheme_lc) else {
        return Err(format!(
            "{scheme}:// is not a supported git URL scheme; use https://, http://, git:// or \
             ssh://"
        ));
    };
    if scheme == Scheme::File && !admin {
        return Err("only site administrators may build from file:// sources".into());
    }
    let parsed = Url::parse(url).map_err(|e| format!("the git URL does not parse: {e}"))?;

    if parsed.password().is_some() {
        return Err(
            "the git URL holds a password; put the user name and password or token in the \
             source's credentials fields instead"
                .into(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("the git URL may not have a query (?…) or a fragment (#…)".into());
    }
    let user = percent_decoded(parsed.username());
    if user.starts_with('-') {
        return Err(format!(
            "the git URL's user {user:?} starts with '-', which git would read as an option"
        ));
    }
    let path = parsed.path();
    let decoded_path = percent_decoded(path);
    if decoded_path.chars().any(|c| c.is_control()) {
        return Err("the git URL's path may not hold control characters".into());
    }
    if decoded_path.split('/').any(|c| c.starts_with('-')) {
        return Err(format!(
            "the git URL's path {decoded_path:?} has a part starting with '-', which git could \
             read as an option"
        ));
    }
    if path.trim_matches('/').is_empty() {
        return Err("the git URL names no repository path (like /owner/app.git)".into());
    }

    let (host, port) = if scheme == Scheme::File {
        if parsed.host_str().is_some_and(|h| !h.is_empty()) {
            return Err("a file:// URL names a path on this server: file:///path".into());
        }
        if !user.is_empty() || parsed.port().is_some() {
            return Err("a file:// URL has no user or port: file:///path".into());
        }
        (None, None)
    } else {
        let host = match parsed.host() {
            Some(Host::Domain(d)) if !d.is_empty() => percent_decoded(d),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => {
                return Err(format!(
                    "the git URL names no host; write {}://host/path",
                    scheme.as_str()
                ))
            }
        };
        if host.starts_with('-') {
            return Err(format!(
                "the git URL's host {host:?} starts with '-', which git would read as an option"
            ));
        }
        if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the git URL's host may not hold spaces or control characters".into());
        }
        let port = match parsed.port() {
            Some(0) => return Err("the git URL's port cannot be 0".into()),
            Some(p) => p,
            None => scheme
                .default_port()
                .unwrap_or_else(|| unreachable!("network schemes have a default port")),
        };
        (Some(host), Some(port))
    };
    Ok(SourceUrl {
        scheme,
        url: parsed.to_string(),
        host,
        port,
    })
}

/// An SSH key pair a git host grants read access to a repository with.
pub struct DeployKey {
    /// OpenSSH private key (PEM); goes sealed into the database
    pub private_openssh: String,
    /// `ssh-ed25519 AAAA… comment`, shown to paste into the git host
    pub public: String,
}

impl fmt::Debug for DeployKey {
    /// The private half never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeployKey")
            .field("private_openssh", &"<redacted>")
            .field("public", &self.public)
            .finish()
    }
}

/// A new ed25519 deploy key (the `ssh-key` crate), with `comment` (such as
/// `berth:alice/app`) at the end of its public line so the git host's key list names it.
pub fn generate_deploy_key(comment: &str) -> Result<DeployKey, String> {
    if comment.chars().count() > MAX_KEY_COMMENT_LEN {
        return Err(format!(
            "the key comment is longer than {MAX_KEY_COMMENT_LEN} characters"
        ));
    }
    if comment.chars().any(|c| c.is_control()) {
        return Err("the key comment may not hold line breaks or control characters".into());
    }
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .map_err(|e| format!("generating a deploy key: {e}"))?;
    key.set_comment(comment);
    let private_openssh = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| format!("encoding the deploy key: {e}"))?
        .to_string();
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| format!("encoding the deploy key: {e}"))?;
    Ok(DeployKey {
        private_openssh,
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SourceUrl {
        parse_url(url, false).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn refused(url: &str, admin: bool) -> String {
        match parse_url(url, admin) {
            Ok(s) => panic!("{url} should be refused, gave {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn network_urls_give_host_and_port_with_each_schemes_default() {
        let s = ok("https://git.example.com/team/app.git");
        assert_eq!(s.scheme, Scheme::Https);
        assert_eq!(s.url, "https://git.example.com/team/app.git");
        assert_eq!(s.host.as_deref(), Some("git.example.com"));
        assert_eq!(s.port, Some(443));
        assert_eq!(ok("http://10.0.0.5/app").port, Some(80));
        let git = ok("git://git.example.com/app.git");
        assert_eq!((git.scheme, git.port), (Scheme::Git, Some(9418)));
        let ssh = ok("ssh://git@github.com/octo/app.git");
        assert_eq!(ssh.scheme, Scheme::Ssh);
        assert_eq!(ssh.host.as_deref(), Some("github.com"));
        assert_eq!(ssh.port, Some(22));
        assert_eq!(ssh.url, "ssh://git@github.com/octo/app.git");
        let custom = ok("ssh://git@gitea.local:2222/team/app.git");
        assert_eq!(custom.port, Some(2222));
        assert_eq!(ok("https://h.example:8443/a").port, Some(8443));
        // Normalised for http(s): the host lowercased; an explicit default port dropped.
        assert_eq!(
            ok("HTTPS://Git.Example.COM:443/Team/App").url,
            "https://git.example.com/Team/App"
        );
        // A user name alone (no password) is fine.
        assert_eq!(
            ok("https://builder@git.example.com/a.git").host.as_deref(),
            Some("git.example.com")
        );
    }

    #[test]
    fn ip_literals_are_hosts_without_brackets() {
        let v6 = ok("ssh://git@[::1]:2222/app.git");
        assert_eq!(v6.host.as_deref(), Some("::1"));
        assert_eq!(v6.port, Some(2222));
        assert_eq!(
            ok("https://[2001:db8::1]/app").host.as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            ok("http://127.0.0.1:3000/a/b.git").host.as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn passwords_belong_in_the_credentials_fields() {
        let e = refused("https://alice:hunter2@git.example.com/a.git", false);
        assert!(e.contains("credentials fields"), "{e}");
        assert!(
            !e.contains("hunter2"),
            "the error must not echo the password: {e}"
        );
        let e = refused("ssh://git:pw@host.example/a.git", false);
        assert!(e.contains("credentials fields"), "{e}");
    }

    #[test]
    fn file_urls_are_for_site_administrators() {
        let e = refused("file:///srv/git/app.git", false);
        assert!(e.contains("site administrators"), "{e}");
        let s = parse_url("file:///srv/git/app.git", true).unwrap();
        assert_eq!(s.scheme, Scheme::File);
        assert_eq!(s.url, "file:///srv/git/app.git");
        assert_eq!((s.host, s.port), (None, None));
        assert!(refused("file://otherhost/srv/app.git", true).contains("file:///path"));
        assert!(refused("file:///", true).contains("no repository path"));
        // A bare path is not a URL for anyone.
        assert!(refused("/srv/git/app.git", true).contains("file:///path"));
    }

    #[test]
    fn nothing_in_the_url_can_become_a_git_or_ssh_option() {
        for url in [
            "-uhttps://x/a",
            "--upload-pack=touch /tmp/pwned",
            "ssh://-oProxyCommand=touch%20x/a",
            "ssh://-oProxyCommand=x@host/a",
            "ssh://%2DoProxyCommand=x@host/a",
            "https://host.example/-a/b",
            "ssh://git@host.example/--upload-pack=x",
        ] {
            let e = refused(url, true);
            assert!(e.contains("option") || e.contains("not a"), "{url}: {e}");
        }
    }

    #[test]
    fn other_schemes_and_shapes_are_refused_with_a_way_forward() {
        let e = refused("git@github.com:octo/app.git", false);
        assert!(e.contains("ssh://git@github.com/octo/app.git"), "{e}");
        for (url, needle) in [
            ("ext::sh -c touch% /tmp/pwned", "spaces"),
            ("ext::sh", "remote-helper"),
            ("fd::3", "remote-helper"),
            ("ftp://host/a.git", "not a supported"),
            ("git+ssh://host/a.git", "not a supported"),
            ("https://host/a.git?token=x", "query"),
            ("https://host/a.git#main", "fragment"),
            ("https://host/a b", "spaces"),
            ("https://host/a\nb", "spaces"),
            ("https://host/a%00b", "control"),
            // Read as https://a.git/, as browsers do: a host with no path.
            ("https:///a.git", "no repository path"),
            ("ssh:///a.git", "no host"),
            ("https://host.example", "no repository path"),
            ("https://host.example/", "no repository path"),
            ("http://host.example:0/a", "port"),
            ("https://host.example:99999/a", "parse"),
            ("", "empty"),
            ("app", "not a URL"),
        ] {
            let e = refused(url, true);
            assert!(e.contains(needle), "{url:?}: {e}");
        }
        let long = format!("https://h.example/{}", "a".repeat(2048));
        assert!(refused(&long, true).contains("longer than 2048"));
    }

    #[test]
    fn deploy_keys_are_ed25519_pairs_that_belong_together() {
        let key = generate_deploy_key("berth:alice/app").unwrap();
        assert!(key.public.starts_with("ssh-ed25519 AAAA"), "{}", key.public);
        assert!(key.public.ends_with(" berth:alice/app"), "{}", key.public);
        assert!(key
            .private_openssh
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let private = PrivateKey::from_openssh(&key.private_openssh).unwrap();
        assert!(!private.is_encrypted());
        assert_eq!(private.algorithm(), Algorithm::Ed25519);
        assert_eq!(private.public_key().to_openssh().unwrap(), key.public);
        // Each key is new.
        let other = generate_deploy_key("berth:alice/app").unwrap();
        assert_ne!(other.public, key.public);
        // The private half stays out of Debug output.
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("PRIVATE KEY") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn deploy_key_comments_stay_on_one_line() {
        assert!(generate_deploy_key("")
            .unwrap()
            .public
            .starts_with("ssh-ed25519 "));
        assert!(generate_deploy_key("a\nssh-ed25519 AAAA evil").is_err());
        assert!(generate_deploy_key(&"c".repeat(256)).is_err());
        generate_deploy_key(&"c".repeat(255)).unwrap();
    }
}
