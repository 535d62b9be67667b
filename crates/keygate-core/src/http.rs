//! The HTTPS client keygate calls out with (the JWKS fetcher, keygate-tower's proxy): reqwest on rustls, with the *ring* crypto
//! provider named explicitly and the platform's certificate verifier and roots.
//!
//! Naming the provider, rather than relying on rustls' process-wide default, means no
//! "no process-level CryptoProvider" panic when the binary links both ring and aws-lc-rs
//! (through other crates), and no need for the application to install a provider at
//! start-up. Other keygate crates (the key-injecting proxy of keygate-tower) build their
//! clients with [`https_client_builder`] too, so every outbound call keygate makes trusts
//! the same roots with the same crypto.
//!
//! ```
//! let client = keygate_core::http::https_client_builder()?
//!     .timeout(std::time::Duration::from_secs(10))
//!     .build()?;
//! # let _ = client;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use rustls::ClientConfig;
use rustls_platform_verifier::BuilderVerifierExt as _;

/// A rustls client configuration: the *ring* provider, TLS 1.2 and 1.3, and the
/// platform verifier (on Linux, the system's CA bundle through `rustls-native-certs`; on
/// macOS and Windows, the OS verifier). No client certificate; no ALPN protocols (set
/// `alpn_protocols` on the result to offer HTTP/2).
///
/// # Errors
///
/// When the platform has no usable root certificates (on Linux, install the
/// `ca-certificates` package, or point `SSL_CERT_FILE` at a bundle).
pub fn rustls_client_config() -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

/// A reqwest client builder whose TLS is [`rustls_client_config`], handed to reqwest
/// through `ClientBuilder::tls_backend_preconfigured`. Add timeouts, redirect policy and
/// the like, then `build()`.
///
/// The crate using it needs reqwest 0.13 with the `rustls-no-provider` feature (what
/// keygate-core's `https` feature enables): reqwest recognizes a preconfigured rustls
/// configuration only from the same rustls version it was built with.
///
/// # Errors
///
/// As [`rustls_client_config`].
pub fn https_client_builder() -> Result<reqwest::ClientBuilder, rustls::Error> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(rustls_client_config()?))
}
