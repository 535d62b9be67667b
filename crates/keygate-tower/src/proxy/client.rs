//! The proxy's HTTP client: reqwest on rustls with the ring provider, configured here and
//! nowhere else.
//!
//! The TLS configuration is built and handed to reqwest ready-made, so nothing depends on
//! a process-wide default crypto provider (which rustls would otherwise panic without, or
//! take from whichever crate installed one first). Certificates are verified against the
//! platform's roots (`rustls-platform-verifier`: the OS store).

use std::sync::Arc;
use std::time::Duration;

use rustls_platform_verifier::BuilderVerifierExt as _;

/// A reqwest client that never follows redirects (the caller sees the upstream's 3xx),
/// never goes through an environment proxy, never retries (a streamed body cannot be
/// sent twice), and gives up connecting after `connect_timeout`.
pub(crate) fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|error| format!("TLS could not be set up: {error}"))?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .build()
        .map_err(|error| format!("the HTTP client could not be built: {error}"))
}
