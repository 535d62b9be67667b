//! Step 1's contract: what an adapter shows the engine of a request ([`RequestHead`]),
//! and the impls for `http` requests (tower, axum, hyper).

use std::net::SocketAddr;

use super::{API_KEY, AUTHORIZATION, CLIENT_SECRET, ON_BEHALF_OF};
use crate::extract::Authentication;

/// The values a request carries for one header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValues<'a> {
    /// The header is absent.
    Absent,
    /// Exactly one value.
    One(&'a [u8]),
    /// More than one value (a repeated header).
    Many,
}

impl<'a> HeaderValues<'a> {
    /// Classifies an iterator over a header's values.
    pub fn from_values<I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(one), None) => Self::One(one),
            (Some(_), Some(_)) => Self::Many,
        }
    }
}

/// The scheme of the connection a request arrived on, as the server saw it (never read
/// from a forwarding header such as `X-Forwarded-Proto`, which any client can send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// What the server knows of the connection a request came on. A plain tower or hyper
/// server inserts it into each request's extensions, where the `http` impls of
/// [`RequestHead`] read it; actix-web's adapter reads the same from actix itself.
///
/// ```
/// use keygate_core::credentials::{Connection, RequestHead, Scheme};
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(Connection {
///     peer: "127.0.0.1:50000".parse()?,
///     scheme: Scheme::Http,
/// });
/// assert_eq!(request.scheme(), Some(Scheme::Http));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The peer's address: the TCP peer, not a forwarding header.
    pub peer: SocketAddr,
    /// The connection's scheme.
    pub scheme: Scheme,
}

/// A borrowed view of a request's method, path, headers and connection: what an
/// adapter gives the engine, and all the engine reads. Header names are asked in lower
/// case. Implemented for `http::Request` and `http::request::Parts`; keygate-actix has
/// its own.
pub trait RequestHead {
    /// The HTTP method.
    fn method(&self) -> &str;
    /// The path, without the query string.
    fn path(&self) -> &str;
    /// The values of the header `name` (lower case).
    fn header(&self, name: &'static str) -> HeaderValues<'_>;
    /// The peer's address, when the server says (`None` when it is unknown).
    fn peer_addr(&self) -> Option<SocketAddr>;
    /// The connection's scheme, when the server says (`None` when it is unknown).
    fn scheme(&self) -> Option<Scheme>;
    /// Whether a keygate gate already admitted this request: its [`Authentication`] is in
    /// the request. A second gate on one request path refuses it rather than
    /// authenticate (and charge) twice.
    fn is_admitted(&self) -> bool;
}

/// The credential header names, built once: looking a header up by a ready
/// `HeaderName` skips parsing and lower-casing the name on every request.
static NAMES: [(&str, http::HeaderName); 4] = [
    (CLIENT_SECRET, http::HeaderName::from_static(CLIENT_SECRET)),
    (AUTHORIZATION, http::HeaderName::from_static(AUTHORIZATION)),
    (API_KEY, http::HeaderName::from_static(API_KEY)),
    (ON_BEHALF_OF, http::HeaderName::from_static(ON_BEHALF_OF)),
];

/// The values of `name` in an `http` header map.
fn lookup<'a>(headers: &'a http::HeaderMap, name: &'static str) -> HeaderValues<'a> {
    let values = match NAMES.iter().find(|(known, _)| *known == name) {
        Some((_, ready)) => headers.get_all(ready),
        None => headers.get_all(name),
    };
    HeaderValues::from_values(values.iter().map(http::HeaderValue::as_bytes))
}

/// The scheme of an `http` request: from the [`Connection`] the server inserted, else
/// from an absolute URI (HTTP/2 requests carry one).
fn scheme_of(uri: &http::Uri, extensions: &http::Extensions) -> Option<Scheme> {
    if let Some(connection) = extensions.get::<Connection>() {
        return Some(connection.scheme);
    }
    match uri.scheme_str() {
        Some("https") => Some(Scheme::Https),
        Some("http") => Some(Scheme::Http),
        _ => None,
    }
}

impl RequestHead for http::request::Parts {
    fn method(&self) -> &str {
        self.method.as_str()
    }
    fn path(&self) -> &str {
        self.uri.path()
    }
    fn header(&self, name: &'static str) -> HeaderValues<'_> {
        lookup(&self.headers, name)
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.extensions.get::<Connection>().map(|c| c.peer)
    }
    fn scheme(&self) -> Option<Scheme> {
        scheme_of(&self.uri, &self.extensions)
    }
    fn is_admitted(&self) -> bool {
        self.extensions.get::<Authentication>().is_some()
    }
}

impl<B> RequestHead for http::Request<B> {
    fn method(&self) -> &str {
        self.method().as_str()
    }
    fn path(&self) -> &str {
        self.uri().path()
    }
    fn header(&self, name: &'static str) -> HeaderValues<'_> {
        lookup(self.headers(), name)
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.extensions().get::<Connection>().map(|c| c.peer)
    }
    fn scheme(&self) -> Option<Scheme> {
        scheme_of(self.uri(), self.extensions())
    }
    fn is_admitted(&self) -> bool {
        self.extensions().get::<Authentication>().is_some()
    }
}
