//! The platform's own settings, from the environment (contract.md, "Running"). The
//! store, pepper and secrets are read by [`keygate_sqlx::setup::Setup::from_env`].

use std::net::SocketAddr;

use keygate_tower::proxy::Proxy;

/// The default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Settings beyond the store.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`KEYGATE_ADDR`).
    pub addr: SocketAddr,
    /// The proxy to `KEYGATE_UPSTREAM_URL` with `KEYGATE_UPSTREAM_KEY`; without a URL,
    /// one that answers 502.
    pub proxy: Proxy,
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `KEYGATE_ADDR` is not `host:port`.
    #[error("KEYGATE_ADDR must be an IP address and port, such as 127.0.0.1:8080 or 0.0.0.0:8080")]
    Addr,
    /// `KEYGATE_UPSTREAM_URL` or `KEYGATE_UPSTREAM_KEY` cannot be used.
    #[error("KEYGATE_UPSTREAM_URL / KEYGATE_UPSTREAM_KEY: {0}")]
    Upstream(#[source] keygate_tower::proxy::ProxyError),
}

impl Config {
    /// Reads `KEYGATE_ADDR` (default [`DEFAULT_ADDR`]), `KEYGATE_UPSTREAM_URL` and
    /// `KEYGATE_UPSTREAM_KEY` (both unset by default: the proxy then answers 502).
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = setting("KEYGATE_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        Ok(Self {
            addr: addr.parse().map_err(|_| ConfigError::Addr)?,
            proxy: upstream_proxy(
                setting("KEYGATE_UPSTREAM_URL"),
                setting("KEYGATE_UPSTREAM_KEY"),
            )?,
        })
    }
}

/// A setting's value; empty is unset.
fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The proxy of `ANY /api/proxy/{*path}` to `url` with `key`.
pub fn upstream_proxy(url: Option<String>, key: Option<String>) -> Result<Proxy, ConfigError> {
    let mut builder = Proxy::builder().strip_prefix(crate::routes::PROXY_PREFIX);
    match (&url, &key) {
        (None, Some(_)) => tracing::warn!(
            "KEYGATE_UPSTREAM_KEY is set without KEYGATE_UPSTREAM_URL: the proxy answers 502 until the URL is set"
        ),
        (Some(_), None) => tracing::info!(
            "KEYGATE_UPSTREAM_URL is set without KEYGATE_UPSTREAM_KEY: requests go upstream without a key"
        ),
        _ => {}
    }
    if let Some(url) = url {
        builder = builder.upstream(url);
    }
    if let Some(key) = key {
        builder = builder.key(key.into());
    }
    builder.build().map_err(ConfigError::Upstream)
}
