//! [`TrustedProxies`]: the addresses whose forwarding headers keygate believes.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The most entries a [`TrustedProxies`] list holds: a deployment has a handful of
/// proxies, and every request with a forwarding header walks the list.
pub const MAX_TRUSTED_PROXIES: usize = 64;

/// The peers whose `X-Forwarded-For` and `X-Forwarded-Proto` keygate believes: a list of
/// IP addresses and CIDR blocks. Empty by default, so no forwarding header is believed;
/// loopback is not trusted unless listed.
///
/// ```
/// use keygate_core::transport::TrustedProxies;
///
/// let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.7, fd00::/8".parse()?;
/// assert!(proxies.contains("10.1.2.3".parse()?));
/// assert!(proxies.contains("192.168.1.7".parse()?));
/// assert!(!proxies.contains("192.168.1.8".parse()?));
/// assert!(!proxies.contains("127.0.0.1".parse()?), "loopback only when listed");
/// assert!(TrustedProxies::none().is_empty());
///
/// let error = "10.0.0.0/33".parse::<TrustedProxies>().unwrap_err();
/// assert!(error.to_string().contains("10.0.0.0/33"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<Block>,
}

/// One address block: a network address and the length of its prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = mask32(self.prefix);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = mask128(self.prefix);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a dual-stack listener reports an
/// IPv4 peer) as the IPv4 address it is; any other address as it is.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Why a trusted-proxy list does not parse. The text names the entry (an address is not a
/// secret) and the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedProxiesError {
    /// An entry is neither an IP address nor `address/prefix`.
    #[error(
        "trusted proxy `{0}` is not an IP address or CIDR block: write entries such as 10.0.0.7, 10.0.0.0/8 or fd00::/8, separated by commas"
    )]
    Entry(String),
    /// More entries than [`MAX_TRUSTED_PROXIES`].
    #[error(
        "more than {MAX_TRUSTED_PROXIES} trusted proxies: list CIDR blocks instead of single addresses"
    )]
    TooMany,
}

impl TrustedProxies {
    /// No proxy: forwarding headers are never believed (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `address` is a trusted proxy. An IPv4-mapped IPv6 address counts as the
    /// IPv4 address it carries.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.blocks.iter().any(|block| block.contains(address))
    }

    /// Parses a comma-separated list of IP addresses and CIDR blocks (spaces around
    /// entries are ignored; an empty list is [`none`](Self::none)). Host bits set in a
    /// block (`10.0.0.1/8`) are ignored, as if `10.0.0.0/8` had been written.
    pub fn parse(list: &str) -> Result<Self, TrustedProxiesError> {
        let mut blocks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if blocks.len() == MAX_TRUSTED_PROXIES {
                return Err(TrustedProxiesError::TooMany);
            }
            blocks.push(parse_block(entry).ok_or_else(|| {
                // An entry is an address, never a secret; cap it so a stray paste of
                // something long does not fill the log.
                TrustedProxiesError::Entry(entry.chars().take(64).collect())
            })?);
        }
        Ok(Self { blocks })
    }
}

fn parse_block(entry: &str) -> Option<Block> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let network = canonical(IpAddr::from_str(address).ok()?);
    let max = if network.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse::<u8>().ok().filter(|p| *p <= max)?
        }
        Some(_) => return None,
    };
    Some(Block { network, prefix })
}

impl FromStr for TrustedProxies {
    type Err = TrustedProxiesError;
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.blocks).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let proxies =
            TrustedProxies::parse(" 10.0.0.0/8 ,192.168.1.7,fd00::/8, 0.0.0.0/0x").unwrap_err();
        assert!(matches!(proxies, TrustedProxiesError::Entry(e) if e == "0.0.0.0/0x"));
        let proxies =
            TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, fd00::/8, 172.16.0.1/12").unwrap();
        for inside in [
            "10.0.0.0",
            "10.255.255.255",
            "192.168.1.7",
            "fd12::1",
            "172.31.0.9",
            "::ffff:10.9.9.9",
        ] {
            assert!(proxies.contains(ip(inside)), "{inside}");
        }
        for outside in [
            "11.0.0.0",
            "192.168.1.6",
            "fe80::1",
            "127.0.0.1",
            "::1",
            "172.32.0.0",
        ] {
            assert!(!proxies.contains(ip(outside)), "{outside}");
        }
    }

    #[test]
    fn zero_prefixes_and_full_prefixes_work() {
        let all = TrustedProxies::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!(
            !all.contains(ip("::2")),
            "an IPv4 block holds no IPv6 address"
        );
        let one = TrustedProxies::parse("::1/128").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host.example",
            "10.0.0.0/",
            "/8",
            "10.0.0.0/+8",
        ] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse(" , ").unwrap().is_empty());
        let many = vec!["10.0.0.1"; MAX_TRUSTED_PROXIES + 1].join(",");
        assert_eq!(
            TrustedProxies::parse(&many),
            Err(TrustedProxiesError::TooMany)
        );
    }
}
