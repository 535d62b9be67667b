//! The platform's own settings, from the environment (contract.md, "Running"). The
//! store, pepper and secrets are read by [`keygate_sqlx::setup::Setup::from_env`].

use std::net::SocketAddr;

/// The default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Settings beyond the store.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`KEYGATE_ADDR`).
    pub addr: SocketAddr,
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `KEYGATE_ADDR` is not `host:port`.
    #[error("KEYGATE_ADDR must be an IP address and port, such as 127.0.0.1:8080 or 0.0.0.0:8080")]
    Addr,
}

impl Config {
    /// Reads `KEYGATE_ADDR` (default [`DEFAULT_ADDR`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = std::env::var("KEYGATE_ADDR")
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        Ok(Self {
            addr: addr.parse().map_err(|_| ConfigError::Addr)?,
        })
    }
}
