//! Step 1 for actix-web: the request's head as a [`RequestHead`].

use std::net::SocketAddr;

use actix_web::{HttpMessage, HttpRequest};
use keygate_core::credentials::{Connection, Scheme};
use keygate_core::extract::Authentication;
use keygate_core::{HeaderValues, RequestHead};

/// The connection `request` came on, as actix knows it: the TCP peer, and whether this
/// server's listener is TLS (never what `X-Forwarded-For` or `X-Forwarded-Proto` claim).
/// What keygate's middleware reads of an actix request; a handler that resolves a client
/// itself (with [`Keygate::client`](keygate_core::Keygate::client)) gives it this.
/// `None` when actix does not know the peer (a test request without one, say).
///
/// ```
/// use actix_web::test::TestRequest;
/// use keygate_core::credentials::Scheme;
///
/// let request = TestRequest::default().peer_addr("192.0.2.7:4000".parse()?).to_http_request();
/// let connection = keygate_actix::connection(&request).expect("a peer");
/// assert_eq!((connection.peer.port(), connection.scheme), (4000, Scheme::Http));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connection(request: &HttpRequest) -> Option<Connection> {
    request.peer_addr().map(|peer| Connection {
        peer,
        scheme: scheme(request),
    })
}

/// Whether this server's listener is TLS, not what `X-Forwarded-Proto` claims.
fn scheme(request: &HttpRequest) -> Scheme {
    if request.app_config().secure() {
        Scheme::Https
    } else {
        Scheme::Http
    }
}

/// A borrowed view of an actix request's method, path, headers and connection.
pub(crate) struct Head<'a>(pub(crate) &'a HttpRequest);

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }

    fn path(&self) -> &str {
        self.0.path()
    }

    fn header(&self, name: &http::HeaderName) -> HeaderValues<'_> {
        // actix has its own header types (of `http` 0.2): look the name up by its text.
        HeaderValues::from_values(
            self.0
                .headers()
                .get_all(name.as_str())
                .map(|value| value.as_bytes()),
        )
    }

    fn each_header_value<'s>(&'s self, name: &http::HeaderName, visit: &mut dyn FnMut(&'s [u8])) {
        for value in self.0.headers().get_all(name.as_str()) {
            visit(value.as_bytes());
        }
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        // The TCP peer; `connection_info()` would read forwarding headers a client sends.
        self.0.peer_addr()
    }

    fn scheme(&self) -> Option<Scheme> {
        Some(scheme(self.0))
    }

    fn is_admitted(&self) -> bool {
        self.0.extensions().get::<Authentication>().is_some()
    }
}
