//! Who is on the other end of a request, and whether it came over TLS: the connection's
//! own peer address and scheme ([`RequestHead::peer_addr`], [`RequestHead::scheme`]), or,
//! when that peer is one of the configured [`TrustedProxies`], what the proxy says in
//! `X-Forwarded-For` and `X-Forwarded-Proto`. One place, used by the HTTPS requirement
//! ([`KeygateBuilder::require_https`](crate::KeygateBuilder::require_https)) and by the
//! lock-out of addresses that guess the platform secret ([`crate::lockout`]).
//!
//! A forwarding header from any other peer is ignored: any client can send one. The
//! `Forwarded` header (RFC 7239) is not read.

mod forwarded;
mod proxies;

pub use forwarded::{MAX_FORWARDED_HOPS, client_from_forwarded_for, scheme_from_forwarded_proto};
pub(crate) use proxies::canonical;
pub use proxies::{MAX_TRUSTED_PROXIES, TrustedProxies, TrustedProxiesError};

use std::net::IpAddr;

use http::HeaderName;

use crate::credentials::{RequestHead, Scheme};

/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The client of a request as keygate believes it: its address and the scheme it used.
///
/// ```
/// use keygate_core::credentials::{Connection, Scheme};
/// use keygate_core::transport::{Client, TrustedProxies};
///
/// let proxies: TrustedProxies = "10.0.0.0/8".parse()?;
/// let mut request = http::Request::builder()
///     .header("x-forwarded-for", "203.0.113.9")
///     .header("x-forwarded-proto", "https")
///     .body(())?;
/// request.extensions_mut().insert(Connection { peer: "10.0.0.2:4000".parse()?, scheme: Scheme::Http });
/// let client = Client::of(&request, &proxies);
/// assert_eq!(client.address, Some("203.0.113.9".parse()?));
/// assert!(client.is_https());
///
/// // The same headers from a peer that is not a trusted proxy are ignored.
/// request.extensions_mut().insert(Connection { peer: "198.51.100.1:4000".parse()?, scheme: Scheme::Http });
/// let client = Client::of(&request, &proxies);
/// assert_eq!(client.address, Some("198.51.100.1".parse()?));
/// assert!(!client.is_https());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Client {
    /// The client's address: the peer's, or the first untrusted `X-Forwarded-For` hop
    /// when the peer is a trusted proxy. `None` when the server did not say who the peer
    /// is.
    pub address: Option<IpAddr>,
    /// The scheme the client used: the connection's, or `X-Forwarded-Proto`'s when the
    /// peer is a trusted proxy and sent one. `None` when nobody said.
    pub scheme: Option<Scheme>,
}

impl Client {
    /// The client of `head`, believing forwarding headers only from `proxies`.
    pub fn of<H: RequestHead + ?Sized>(head: &H, proxies: &TrustedProxies) -> Self {
        let scheme = head.scheme();
        let Some(peer) = head.peer_addr().map(|peer| canonical(peer.ip())) else {
            return Self {
                address: None,
                scheme,
            };
        };
        if !proxies.contains(peer) {
            return Self {
                address: Some(peer),
                scheme,
            };
        }
        let mut lines = Lines::default();
        head.each_header_value(&X_FORWARDED_FOR, &mut |line| lines.push(line));
        let address = if lines.is_empty() {
            peer
        } else {
            client_from_forwarded_for(lines.iter(), peer, |hop| proxies.contains(hop))
        };
        let mut proto = Lines::default();
        head.each_header_value(&X_FORWARDED_PROTO, &mut |line| proto.push(line));
        Self {
            address: Some(address),
            scheme: if proto.is_empty() {
                scheme
            } else {
                scheme_from_forwarded_proto(proto.iter())
            },
        }
    }

    /// Whether the client used HTTPS. An unknown scheme is not HTTPS.
    pub fn is_https(&self) -> bool {
        self.scheme == Some(Scheme::Https)
    }
}

/// Up to [`MAX_FORWARDED_HOPS`] header lines, borrowed, without allocating; more lines
/// than that count as one more line that does not parse (so the walk stops there).
#[derive(Default)]
struct Lines<'a> {
    lines: [&'a [u8]; MAX_FORWARDED_HOPS],
    len: usize,
    overflow: bool,
}

impl<'a> Lines<'a> {
    fn push(&mut self, line: &'a [u8]) {
        match self.lines.get_mut(self.len) {
            Some(slot) => {
                *slot = line;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let overflow: &'a [u8] = if self.overflow { b"unknown" } else { b"" };
        self.lines
            .iter()
            .take(self.len)
            .copied()
            .chain(std::iter::once(overflow).filter(|o| !o.is_empty()))
    }
}
