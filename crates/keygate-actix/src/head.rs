//! Step 1 for actix-web: the request's head as a [`RequestHead`].

use actix_web::HttpRequest;
use keygate_core::{HeaderValues, RequestHead};

/// A borrowed view of an actix request's method, path and headers.
pub(crate) struct Head<'a>(pub(crate) &'a HttpRequest);

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }

    fn path(&self) -> &str {
        self.0.path()
    }

    fn header(&self, name: &'static str) -> HeaderValues<'_> {
        HeaderValues::from_values(self.0.headers().get_all(name).map(|value| value.as_bytes()))
    }
}
