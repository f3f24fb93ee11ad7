//! The SSRF guard: webhook targets may not reach loopback, private, link-local, multicast or
//! cloud-metadata addresses unless the operator's allowlist says so.
//!
//! Literal addresses are checked when a webhook is saved and again before each send; names are
//! resolved at send time by [`GuardedResolver`], which refuses the connection when any address
//! the name resolves to is forbidden (so DNS rebinding gains nothing). Redirects are never
//! followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What the operator allows despite the guard: CIDRs (`10.1.0.0/16`, `127.0.0.1/32`) and
/// endpoints (`hooks.internal:8080`, `127.0.0.1:9000`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<(IpAddr, u8)>,
    endpoints: Vec<(String, u16)>,
}

impl Allowlist {
    /// Parses a comma-separated list; empty entries are ignored.
    pub fn parse(list: &str) -> Result<Allowlist, String> {
        let mut allow = Allowlist::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            allow.add(entry)?;
        }
        Ok(allow)
    }

    /// Adds one CIDR, bare address or `host:port`.
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        let bad = || format!("{entry:?} is neither a CIDR (10.0.0.0/8) nor a host:port");
        if let Some((addr, bits)) = entry.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let bits: u8 = bits.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if bits > max {
                return Err(bad());
            }
            self.nets.push((addr, bits));
        } else if let Ok(addr) = entry.parse::<IpAddr>() {
            self.nets
                .push((addr, if addr.is_ipv4() { 32 } else { 128 }));
        } else if let Ok(sock) = entry.parse::<SocketAddr>() {
            self.endpoints.push((sock.ip().to_string(), sock.port()));
        } else {
            let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() || host.contains('/') {
                return Err(bad());
            }
            self.endpoints.push((host.to_ascii_lowercase(), port));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.endpoints.is_empty()
    }

    /// Whether `host:port`, as written in a target URL, is allowed whatever it resolves to.
    pub fn allows_endpoint(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host = host
            .parse::<IpAddr>()
            .map_or(host, |ip| canonical(ip).to_string());
        self.endpoints.iter().any(|(h, p)| {
            *p == port
                && (*h == host
                    || h.parse::<IpAddr>()
                        .is_ok_and(|ip| canonical(ip).to_string() == host))
        })
    }

    /// Whether `ip` lies in an allowed network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets
            .iter()
            .any(|(net, bits)| in_net(ip, canonical(*net), *bits))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Why a webhook may not connect to `ip`, or `None` if it is a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) => {
            "a cloud metadata address"
        }
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() || a == 0 => "an unspecified address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() || a >= 240 => "a reserved address",
        _ if a == 100 && (64..128).contains(&b) => "a shared (carrier-grade NAT) address",
        _ if a == 192 && b == 0 && c == 0 => "a reserved address",
        _ if a == 198 && (18..20).contains(&b) => "a reserved address",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    let why = match () {
        _ if ip.is_loopback() => Some("a loopback address"),
        _ if ip.is_unspecified() => Some("an unspecified address"),
        _ if ip.is_multicast() => Some("a multicast address"),
        _ if first & 0xffc0 == 0xfe80 => Some("a link-local address"),
        _ if first & 0xfe00 == 0xfc00 => Some("a private (unique local) address"),
        _ if first & 0xffc0 == 0xfec0 => Some("a private (site-local) address"),
        // NAT64 local-use prefixes may place the IPv4 address anywhere (RFC 6052).
        _ if ip.segments()[..3] == [0x64, 0xff9b, 1] => Some("a local-use NAT64 address"),
        _ => None,
    };
    // Any IPv4 address the IPv6 address carries must pass the IPv4 check.
    why.or_else(|| embedded_v4(ip).into_iter().find_map(forbidden_v4))
}

/// The IPv4 addresses an IPv6 address embeds: IPv4-compatible (`::a.b.c.d`; IPv4-mapped ones
/// never get here, [`canonical`] turns them into IPv4 first), IPv4-translated
/// (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::/96`; the local-use `64:ff9b:1::/48` is refused
/// whole), 6to4 (`2002::/16`),
/// Teredo (`2001::/32`: server and client) and ISATAP interface identifiers (`…:5efe:a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let seg = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let last = v4(seg[6], seg[7]);
    let mut found = Vec::new();
    if seg[..6] == [0; 6] {
        found.push(last);
    }
    if seg[..4] == [0; 4] && seg[4] == 0xffff && seg[5] == 0 {
        found.push(last);
    }
    if seg[..2] == [0x64, 0xff9b] {
        found.push(last);
    }
    if seg[0] == 0x2002 {
        found.push(v4(seg[1], seg[2]));
    }
    if seg[..2] == [0x2001, 0] {
        found.push(v4(seg[2], seg[3]));
        found.push(v4(!seg[6], !seg[7]));
    }
    if (seg[4] == 0 || seg[4] == 0x200) && seg[5] == 0x5efe {
        found.push(last);
    }
    found
}

/// Why `ip` is refused under `allow`, if it is.
pub fn refusal(ip: IpAddr, allow: &Allowlist) -> Option<String> {
    let why = forbidden(ip)?;
    if allow.allows_ip(ip) {
        return None;
    }
    Some(format!(
        "refused: {ip} is {why}; add it to webhooks.allowed_targets to allow it"
    ))
}

/// A refused connection, found again in reqwest's error chain to say why.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves names and refuses them if any of their addresses is forbidden.
pub struct GuardedResolver {
    pub allow: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            for addr in &addrs {
                if let Some(why) = refusal(addr.ip(), &allow) {
                    let why =
                        why.replacen("refused: ", &format!("refused: {host} resolves to "), 1);
                    return Err(Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Checks a target URL as far as can be done without resolving it: scheme, host, and a literal
/// address against the guard. Returns the parsed URL.
pub fn check_url(raw: &str, allow: &Allowlist) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("a webhook URL must start with http:// or https://".into());
    }
    let Some(host) = url.host() else {
        return Err("a webhook URL needs a host".into());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let host_text = url.host_str().unwrap_or_default();
    if allow.allows_endpoint(host_text, port) {
        return Ok(url);
    }
    let literal = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    if let Some(why) = literal.and_then(|ip| refusal(ip, allow)) {
        return Err(why);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forbidden_ranges() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "ff02::1",
            // IPv4-compatible, IPv4-translated, NAT64 local-use, Teredo and ISATAP forms.
            "::7f00:1",
            "::a9fe:a9fe",
            "::a00:1",
            "::ffff:0:7f00:1",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:7f00:0:100::",
            "64:ff9b:1::808:808",
            "2001:0:7f00:1::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:db8::5efe:7f00:1",
            "fe80::200:5efe:a00:1",
        ] {
            assert!(forbidden(ip(bad)).is_some(), "{bad} should be forbidden");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "::808:808",
            "2001:0:808:808:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(forbidden(ip(good)), None, "{good} should be allowed");
        }
        assert_eq!(
            forbidden(ip("169.254.169.254")),
            Some("a cloud metadata address")
        );
    }

    #[test]
    fn allowlist_entries() {
        let allow = Allowlist::parse("127.0.0.1/32, 10.0.0.0/8,hooks.local:8080, [::1]:9000")
            .expect("parses");
        assert!(allow.allows_ip(ip("127.0.0.1")));
        assert!(allow.allows_ip(ip("::ffff:127.0.0.1")));
        assert!(allow.allows_ip(ip("10.200.0.1")));
        assert!(!allow.allows_ip(ip("127.0.0.2")));
        assert!(allow.allows_endpoint("HOOKS.local", 8080));
        assert!(!allow.allows_endpoint("hooks.local", 8081));
        assert!(allow.allows_endpoint("[::1]", 9000));
        assert!(Allowlist::parse("10.0.0.0/33").is_err());
        assert!(Allowlist::parse("nonsense").is_err());
        assert_eq!(refusal(ip("10.1.1.1"), &allow), None);
        assert!(refusal(ip("192.168.0.1"), &allow).is_some());
    }

    #[test]
    fn urls_checked_before_saving() {
        let none = Allowlist::default();
        assert!(check_url("https://hooks.example.com/x", &none).is_ok());
        assert!(check_url("ftp://hooks.example.com/x", &none).is_err());
        assert!(check_url("http://169.254.169.254/latest/meta-data", &none)
            .is_err_and(|e| e.contains("metadata")));
        assert!(check_url("http://127.0.0.1:8080/", &none).is_err_and(|e| e.contains("loopback")));
        assert!(check_url("http://[::ffff:7f00:1]/", &none).is_err());
        assert!(check_url("http://0x7f.1/", &none).is_err());
        let allow = Allowlist::parse("127.0.0.1:8080").expect("parses");
        assert!(check_url("http://127.0.0.1:8080/", &allow).is_ok());
        assert!(check_url("http://127.0.0.1:8081/", &allow).is_err());
    }
}
