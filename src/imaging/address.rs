//! Which addresses a fetch of an untrusted URL may reach: the public internet only. A link a
//! member typed (or a redirect hop) is checked before anything is sent ([`check_link`]), and
//! names resolve through [`GlobalOnly`], which drops every address of the bot's own machine
//! or network, so DNS cannot point a fetch inside either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::download::{DownloadError, Refused};

/// What a link (or a redirect hop) must be before anything is sent: http(s), on port 80 or
/// 443, and not an IP literal outside the global internet. Names are checked when resolved.
pub fn check_link(url: &Url) -> Result<(), DownloadError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DownloadError::BadScheme);
    }
    let port = url.port_or_known_default().ok_or(DownloadError::BadUrl)?;
    if port != 80 && port != 443 {
        return Err(DownloadError::BadPort(port));
    }
    let host = url.host_str().ok_or(DownloadError::BadUrl)?;
    // The URL parser has already normalised odd IPv4 spellings (`2130706433`, `0x7f.1`) to
    // dotted form; IPv6 literals keep their brackets.
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) if !is_global(ip) => Err(DownloadError::PrivateAddress),
        _ => Ok(()),
    }
}

/// A resolver that keeps only globally routable addresses, and fails when none is left: the
/// name resolved to the bot's own network, which a link must never reach.
#[derive(Debug, Clone, Copy)]
pub struct GlobalOnly;

impl Resolve for GlobalOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let global: Vec<SocketAddr> = found.into_iter().filter(|a| is_global(a.ip())).collect();
            if global.is_empty() {
                return Err(Box::new(Refused(DownloadError::PrivateAddress))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(global.into_iter()) as Addrs)
        })
    }
}

/// True for addresses on the public internet. Everything a fetch could use to reach the
/// bot's own machine or network is false: loopback, private and shared (CGNAT) ranges,
/// link-local (cloud metadata at 169.254.169.254), multicast, broadcast, unspecified,
/// documentation and benchmarking ranges, and their IPv6 counterparts. IPv6 addresses that
/// embed an IPv4 one (mapped, compatible, NAT64, 6to4) are judged by the embedded address.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                    // 0.0.0.0/8 "this network"
        || a == 10                              // 10/8 private
        || a == 127                             // loopback
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 CGNAT
        || (a == 169 && b == 254)               // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))  // 172.16/12 private
        || (a == 192 && b == 0 && c == 0)       // 192.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)               // 192.168/16 private
        || (a == 198 && (b == 18 || b == 19))   // 198.18/15 benchmarking
        || (a == 198 && b == 51 && c == 100)    // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)     // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_global_v4(v4);
    }
    !(ip.is_unspecified()                       // ::
        || ip.is_loopback()                     // ::1
        || (s[0] & 0xfe00) == 0xfc00            // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80            // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0            // fec0::/10 site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00            // ff00::/8 multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)   // 2001:db8::/32 documentation
        || (s[0] == 0x3fff && s[1] < 0x1000)    // 3fff::/20 documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // 100::/64 discard
        || (s[0] == 0x2001 && s[1] < 0x0200)    // 2001::/23 IETF (Teredo, benchmarking, ORCHID)
        || s[..6] == [0, 0, 0, 0, 0, 0]) // the rest of ::/96 (IPv4-compatible, deprecated)
}

/// The IPv4 address an IPv6 one carries, for the forms a router would deliver to it:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, IPv4-translated
/// `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` (and the local-use `64:ff9b:1::/48`), and
/// 6to4 `2002:AABB:CCDD::`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(tail),
        // `::` and `::1` are not IPv4-compatible addresses; leave them to the IPv6 rules.
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x64, 0xff9b, 1, _, _, _, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}
