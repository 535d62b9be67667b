//! Step 1's contract: what an adapter shows the engine of a request ([`RequestHead`]),
//! and the impls for `http` requests (tower, axum, hyper).

use std::net::SocketAddr;

use http::HeaderName;

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
/// server inserts it into each request's extensions (keygate-tower's `ConnectionLayer`
/// in the accept loop; on axum, `keygate_axum::connect_info()` with
/// `into_make_service_with_connect_info::<SocketAddr>()`), where the `http` impls of
/// [`RequestHead`] read it; actix-web's adapter reads the same from actix itself. Without
/// it a request's peer and scheme are unknown: the HTTPS requirement then refuses its
/// credentials, and the secret lock-out counts it with every other unknown peer.
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
///
/// // Without a `Connection`, the scheme is unknown, whatever the URI says.
/// let absolute = http::Request::get("https://api.example.com/v1").body(())?;
/// assert_eq!(absolute.scheme(), None);
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
/// adapter gives the engine, and all the engine reads. Headers are asked by a ready-made
/// [`HeaderName`] (lower case, built once when the engine is configured), so looking up
/// a configured name costs no parsing and no allocation. Implemented for
/// `http::Request` and `http::request::Parts`; keygate-actix has its own.
pub trait RequestHead {
    /// The HTTP method.
    fn method(&self) -> &str;
    /// The path, without the query string.
    fn path(&self) -> &str;
    /// The values of the header `name`. An adapter whose framework has its own header
    /// type looks the name up by [`HeaderName::as_str`].
    fn header(&self, name: &HeaderName) -> HeaderValues<'_>;
    /// Calls `visit` with each value of the header `name`, in the order the request
    /// carries them, without allocating; not at all when it is absent. For headers that
    /// are one list however many lines carry it, such as `Cookie` (HTTP/2 clients may
    /// send one line per cookie, RFC 9113 §8.2.3).
    fn each_header_value<'s>(&'s self, name: &HeaderName, visit: &mut dyn FnMut(&'s [u8]));
    /// The peer's address, when the server says (`None` when it is unknown).
    fn peer_addr(&self) -> Option<SocketAddr>;
    /// The connection's scheme, when the server says (`None` when it is unknown). For
    /// `http` requests it is the [`Connection`]'s in the request's extensions, and
    /// unknown without one (the request URI's scheme is the client's claim and is not
    /// read); an unknown scheme is not HTTPS.
    fn scheme(&self) -> Option<Scheme>;
    /// Whether a keygate gate already admitted this request: its [`Authentication`] is in
    /// the request. A second gate on one request path refuses it rather than
    /// authenticate (and charge) twice.
    fn is_admitted(&self) -> bool;
}

/// The values of `name` in an `http` header map.
fn lookup<'a>(headers: &'a http::HeaderMap, name: &HeaderName) -> HeaderValues<'a> {
    HeaderValues::from_values(
        headers
            .get_all(name)
            .iter()
            .map(http::HeaderValue::as_bytes),
    )
}

/// Each value of `name` in an `http` header map.
fn each<'a>(headers: &'a http::HeaderMap, name: &HeaderName, visit: &mut dyn FnMut(&'a [u8])) {
    for value in headers.get_all(name) {
        visit(value.as_bytes());
    }
}

/// The scheme of an `http` request: the [`Connection`]'s the server inserted, else
/// unknown. Never the request URI's: a client chooses it (a plain-HTTP client may send
/// the absolute form `GET https://host/…`, and HTTP/2's `:scheme` is the client's word
/// too), so it says nothing about the connection.
fn scheme_of(extensions: &http::Extensions) -> Option<Scheme> {
    extensions
        .get::<Connection>()
        .map(|connection| connection.scheme)
}

impl RequestHead for http::request::Parts {
    fn method(&self) -> &str {
        self.method.as_str()
    }
    fn path(&self) -> &str {
        self.uri.path()
    }
    fn header(&self, name: &HeaderName) -> HeaderValues<'_> {
        lookup(&self.headers, name)
    }
    fn each_header_value<'s>(&'s self, name: &HeaderName, visit: &mut dyn FnMut(&'s [u8])) {
        each(&self.headers, name, visit);
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.extensions.get::<Connection>().map(|c| c.peer)
    }
    fn scheme(&self) -> Option<Scheme> {
        scheme_of(&self.extensions)
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
    fn header(&self, name: &HeaderName) -> HeaderValues<'_> {
        lookup(self.headers(), name)
    }
    fn each_header_value<'s>(&'s self, name: &HeaderName, visit: &mut dyn FnMut(&'s [u8])) {
        each(self.headers(), name, visit);
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.extensions().get::<Connection>().map(|c| c.peer)
    }
    fn scheme(&self) -> Option<Scheme> {
        scheme_of(self.extensions())
    }
    fn is_admitted(&self) -> bool {
        self.extensions().get::<Authentication>().is_some()
    }
}
