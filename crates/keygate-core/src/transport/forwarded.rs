//! Reading `X-Forwarded-For` and `X-Forwarded-Proto`, as sent by a trusted proxy. Pure
//! functions over header bytes: no allocation, bounded work.

use std::net::{IpAddr, SocketAddr};

use super::proxies::canonical;
use crate::credentials::Scheme;

/// How many of the rightmost `X-Forwarded-For` hops are examined. The client is the first
/// untrusted one from the right; a chain of more trusted proxies than this is not a real
/// deployment, and the walk then stops at the last one it examined.
pub const MAX_FORWARDED_HOPS: usize = 16;

/// The client address an `X-Forwarded-For` chain names, given that the peer that sent it
/// (`peer`) is trusted: walking from the right (the hop the peer itself added), the first
/// address that `trusted` refuses. When every examined hop is trusted, the leftmost one
/// examined. When a hop does not parse (`unknown`, an obfuscated name), the walk stops and
/// the last trusted address is the client, so a client cannot hide behind garbage.
/// `lines` are the header's lines, in order; entries are comma-separated, each an IP
/// address or `address:port` (`[v6]:port`).
///
/// ```
/// use keygate_core::transport::client_from_forwarded_for;
///
/// let peer = "10.0.0.2".parse()?;
/// let trusted = |ip: std::net::IpAddr| ip.to_string().starts_with("10.");
/// let lines: [&[u8]; 2] = [b"6.6.6.6, 203.0.113.9", b"10.0.0.5"];
/// let client = client_from_forwarded_for(lines, peer, trusted);
/// assert_eq!(client.to_string(), "203.0.113.9", "6.6.6.6 is what the client claimed");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn client_from_forwarded_for<'a, I, F>(lines: I, peer: IpAddr, trusted: F) -> IpAddr
where
    I: IntoIterator<Item = &'a [u8]>,
    F: Fn(IpAddr) -> bool,
{
    // The rightmost hops, in a ring: the walk needs no more, and holds no allocation.
    let mut ring = [None::<IpAddr>; MAX_FORWARDED_HOPS];
    let mut seen = 0usize;
    for line in lines {
        for entry in line.split(|b| *b == b',') {
            if let Some(slot) = ring.get_mut(seen % MAX_FORWARDED_HOPS) {
                *slot = parse_hop(entry);
            }
            seen = seen.saturating_add(1);
        }
    }
    let examined = seen.min(MAX_FORWARDED_HOPS);
    let mut client = canonical(peer);
    for back in 1..=examined {
        let index = (seen - back) % MAX_FORWARDED_HOPS;
        match ring.get(index).copied().flatten() {
            Some(hop) if trusted(hop) => client = hop,
            Some(hop) => return hop,
            None => return client,
        }
    }
    client
}

/// One hop: an IP address, or `address:port`, or `[v6]:port`; spaces around it ignored.
fn parse_hop(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    if text.len() > 64 {
        return None;
    }
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(canonical)
}

/// The scheme `X-Forwarded-Proto` names, given that the peer that sent it is trusted:
/// `https` or `http` (any case) on exactly one line, without a list. Anything else (a
/// list such as `https, http`, two lines, another word) is `Some(Http)`, so it never
/// counts as HTTPS: configure the proxy to set the header, not append to it. `None` when
/// the header is absent.
///
/// ```
/// use keygate_core::credentials::Scheme;
/// use keygate_core::transport::scheme_from_forwarded_proto;
///
/// assert_eq!(scheme_from_forwarded_proto([&b"HTTPS"[..]]), Some(Scheme::Https));
/// assert_eq!(scheme_from_forwarded_proto([&b"https, http"[..]]), Some(Scheme::Http));
/// assert_eq!(scheme_from_forwarded_proto([&b"https"[..], b"https"]), Some(Scheme::Http));
/// assert_eq!(scheme_from_forwarded_proto(std::iter::empty()), None);
/// ```
pub fn scheme_from_forwarded_proto<'a, I>(lines: I) -> Option<Scheme>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut lines = lines.into_iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return Some(Scheme::Http);
    }
    Some(if first.trim_ascii().eq_ignore_ascii_case(b"https") {
        Scheme::Https
    } else {
        Scheme::Http
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn ten(address: IpAddr) -> bool {
        matches!(address, IpAddr::V4(v4) if v4.octets()[0] == 10)
    }

    fn walk(lines: &[&str]) -> String {
        client_from_forwarded_for(lines.iter().map(|l| l.as_bytes()), ip("10.0.0.1"), ten)
            .to_string()
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        assert_eq!(walk(&["203.0.113.9"]), "203.0.113.9");
        assert_eq!(walk(&["1.1.1.1, 203.0.113.9, 10.0.0.3"]), "203.0.113.9");
        assert_eq!(
            walk(&["1.1.1.1", "203.0.113.9:4711", "10.0.0.3"]),
            "203.0.113.9"
        );
        assert_eq!(walk(&["[2001:db8::1]:443"]), "2001:db8::1");
        assert_eq!(walk(&["::ffff:198.51.100.4"]), "198.51.100.4");
    }

    #[test]
    fn a_chain_of_trusted_hops_ends_at_its_leftmost() {
        assert_eq!(walk(&["10.9.9.9, 10.0.0.3"]), "10.9.9.9");
        assert_eq!(
            walk(&[""]),
            "10.0.0.1",
            "an empty header names only the peer"
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        assert_eq!(walk(&["203.0.113.9, unknown, 10.0.0.3"]), "10.0.0.3");
        assert_eq!(walk(&["203.0.113.9, _hidden"]), "10.0.0.1");
        assert_eq!(walk(&["203.0.113.9, 1.2.3.4.5"]), "10.0.0.1");
    }

    #[test]
    fn only_the_rightmost_hops_are_examined() {
        let mut hops = vec!["6.6.6.6"];
        hops.extend(std::iter::repeat_n("10.1.1.1", MAX_FORWARDED_HOPS));
        assert_eq!(walk(&[&hops.join(",")]), "10.1.1.1");
        let long = "6.6.6.6,".repeat(10_000);
        assert_eq!(
            walk(&[&long]),
            "10.0.0.1",
            "the trailing empty entry is garbage"
        );
        let long = format!("{}203.0.113.9", "6.6.6.6,".repeat(10_000));
        assert_eq!(walk(&[&long]), "203.0.113.9");
    }
}
