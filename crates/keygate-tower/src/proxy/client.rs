//! The proxy's HTTP client: keygate's one HTTPS client ([`keygate_core::http`]: reqwest
//! on rustls with the ring provider handed over ready-made, so nothing depends on a
//! process-wide crypto provider; the platform's roots), set up for forwarding.

use std::time::Duration;

/// A reqwest client that never follows redirects (the caller sees the upstream's 3xx),
/// never goes through an environment proxy, never retries (a streamed body cannot be
/// sent twice), and gives up connecting after `connect_timeout`.
pub(crate) fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    keygate_core::http::https_client_builder()
        .map_err(|error| format!("TLS could not be set up: {error}"))?
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .build()
        .map_err(|error| format!("the HTTP client could not be built: {error}"))
}
