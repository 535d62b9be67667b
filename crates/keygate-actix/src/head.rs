//! Step 1 for actix-web: the request's head as a [`RequestHead`].

use std::net::SocketAddr;

use actix_web::{HttpMessage, HttpRequest};
use keygate_core::credentials::Scheme;
use keygate_core::extract::Authentication;
use keygate_core::{HeaderValues, RequestHead};

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
        // Whether this server's listener is TLS, not what `X-Forwarded-Proto` claims.
        Some(if self.0.app_config().secure() {
            Scheme::Https
        } else {
            Scheme::Http
        })
    }

    fn is_admitted(&self) -> bool {
        self.0.extensions().get::<Authentication>().is_some()
    }
}
