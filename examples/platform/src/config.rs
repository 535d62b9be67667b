//! The platform's own settings, from the environment (the HTTP contract's "Running"). The
//! store, pepper and secrets are read by [`keygate_sqlx::setup::Setup::from_env`].

use std::net::SocketAddr;

use keygate_core::jwt::{JwtConfigError, JwtVerifier};
use keygate_core::transport::{TrustedProxies, TrustedProxiesError};
use keygate_redis::RedisConfig;
use keygate_tower::proxy::Proxy;

/// The default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Settings beyond the store.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`KEYGATE_ADDR`).
    pub addr: SocketAddr,
    /// How user JWTs are verified; `None` refuses them (`invalid_token`).
    pub jwt: Option<JwtSettings>,
    /// The proxy to `KEYGATE_UPSTREAM_URL` with `KEYGATE_UPSTREAM_KEY`; without a URL,
    /// one that answers 502.
    pub proxy: Proxy,
    /// `KEYGATE_ISSUER_URL`: the OAuth `iss` and the metadata's base URL; `None` means
    /// `http://<bound address>`.
    pub issuer: Option<String>,
    /// Redis (`KEYGATE_REDIS_URL`): when set, rate limits, quotas, one-time tokens and key
    /// revocation notices go through it, so several instances behave as one; credits
    /// stay in the SQL store.
    pub redis: Option<RedisConfig>,
    /// `KEYGATE_REQUIRE_HTTPS`: a credential over plain HTTP is refused with 403
    /// `https_required`.
    pub require_https: bool,
    /// `KEYGATE_TRUSTED_PROXIES`: the peers whose `X-Forwarded-Proto` and
    /// `X-Forwarded-For` are believed (none by default).
    pub trusted_proxies: TrustedProxies,
}

/// Where user JWTs come from: `KEYGATE_JWT_ISSUER`, `KEYGATE_JWT_AUDIENCE`,
/// `KEYGATE_JWKS_URL`, or `KEYGATE_FIREBASE_PROJECT` for all three, and
/// `KEYGATE_TENANT_CLAIM`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtSettings {
    /// The Firebase project: issuer `https://securetoken.google.com/<id>`, audience
    /// `<id>`, Google's JWKS.
    pub firebase_project: Option<String>,
    /// `iss`, exact (overrides the Firebase issuer).
    pub issuer: Option<String>,
    /// `aud`, exact (overrides the Firebase audience).
    pub audience: Option<String>,
    /// The JWKS URL (overrides Google's for Firebase).
    pub jwks_url: Option<String>,
    /// The claim that names the tenant (default `tenant_id`).
    pub tenant_claim: Option<String>,
}

impl JwtSettings {
    /// The verifier these settings describe. Its JWKS is fetched in the background, so a
    /// start without network succeeds and user JWTs are answered 503 until keys load.
    pub fn verifier(&self) -> Result<JwtVerifier, ConfigError> {
        let mut builder = JwtVerifier::builder();
        if let Some(project) = &self.firebase_project {
            builder = builder.firebase(project);
        } else if self.jwks_url.is_none() {
            return Err(ConfigError::Jwt(
                "KEYGATE_JWKS_URL is required with KEYGATE_JWT_ISSUER and KEYGATE_JWT_AUDIENCE (or set KEYGATE_FIREBASE_PROJECT)",
            ));
        }
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience);
        }
        if let Some(url) = &self.jwks_url {
            builder = builder.jwks_url(url);
        }
        if let Some(claim) = &self.tenant_claim {
            builder = builder.tenant_claim(claim);
        }
        builder.build().map_err(ConfigError::JwtVerifier)
    }
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `KEYGATE_ADDR` is not `host:port`.
    #[error("KEYGATE_ADDR must be an IP address and port, such as 127.0.0.1:8080 or 0.0.0.0:8080")]
    Addr,
    /// The user-JWT settings are incomplete.
    #[error("{0}")]
    Jwt(&'static str),
    /// The user-JWT settings do not make a verifier.
    #[error("user-JWT settings (KEYGATE_JWT_*, KEYGATE_JWKS_URL, KEYGATE_FIREBASE_PROJECT): {0}")]
    JwtVerifier(#[source] JwtConfigError),
    /// `KEYGATE_REQUIRE_HTTPS` is not a yes or a no.
    #[error("KEYGATE_REQUIRE_HTTPS must be 1, true, on or yes (or 0, false, off, no)")]
    RequireHttps,
    /// `KEYGATE_TRUSTED_PROXIES` does not parse.
    #[error("KEYGATE_TRUSTED_PROXIES: {0}")]
    TrustedProxies(#[source] TrustedProxiesError),
    /// `KEYGATE_ISSUER_URL` is not a base URL.
    #[error("KEYGATE_ISSUER_URL: {0}")]
    Issuer(#[source] keygate_oauth::server::IssuerError),
    /// `KEYGATE_UPSTREAM_URL` or `KEYGATE_UPSTREAM_KEY` cannot be used.
    #[error("KEYGATE_UPSTREAM_URL / KEYGATE_UPSTREAM_KEY: {0}")]
    Upstream(#[source] keygate_tower::proxy::ProxyError),
}

impl Config {
    /// Reads `KEYGATE_ADDR` (default [`DEFAULT_ADDR`]), the user-JWT settings, and
    /// `KEYGATE_UPSTREAM_URL` and `KEYGATE_UPSTREAM_KEY` (both unset by default: the
    /// proxy then answers 502), `KEYGATE_REDIS_URL` (unset: counters per instance),
    /// `KEYGATE_REQUIRE_HTTPS` (off) and `KEYGATE_TRUSTED_PROXIES` (none).
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = setting("KEYGATE_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let jwt = JwtSettings {
            firebase_project: setting("KEYGATE_FIREBASE_PROJECT"),
            issuer: setting("KEYGATE_JWT_ISSUER"),
            audience: setting("KEYGATE_JWT_AUDIENCE"),
            jwks_url: setting("KEYGATE_JWKS_URL"),
            tenant_claim: setting("KEYGATE_TENANT_CLAIM"),
        };
        // The tenant claim alone configures nothing: it says where to read a tenant.
        let configured = jwt.firebase_project.is_some()
            || jwt.issuer.is_some()
            || jwt.audience.is_some()
            || jwt.jwks_url.is_some();
        if !configured && jwt.tenant_claim.is_some() {
            tracing::warn!(
                "KEYGATE_TENANT_CLAIM is set but no user-JWT issuer is (KEYGATE_JWT_ISSUER, KEYGATE_JWT_AUDIENCE and KEYGATE_JWKS_URL, or KEYGATE_FIREBASE_PROJECT): user JWTs are refused"
            );
        }
        Ok(Self {
            addr: addr.parse().map_err(|_| ConfigError::Addr)?,
            jwt: configured.then_some(jwt),
            proxy: upstream_proxy(
                setting("KEYGATE_UPSTREAM_URL"),
                setting("KEYGATE_UPSTREAM_KEY"),
            )?,
            redis: setting("KEYGATE_REDIS_URL").map(RedisConfig::new),
            require_https: setting("KEYGATE_REQUIRE_HTTPS").map_or(Ok(false), |value| {
                switch(&value).ok_or(ConfigError::RequireHttps)
            })?,
            trusted_proxies: setting("KEYGATE_TRUSTED_PROXIES")
                .map_or(Ok(TrustedProxies::none()), |list| {
                    TrustedProxies::parse(&list)
                })
                .map_err(ConfigError::TrustedProxies)?,
            issuer: setting("KEYGATE_ISSUER_URL"),
        })
    }
}

/// An on/off setting: `1`, `true`, `on`, `yes` or `0`, `false`, `off`, `no` (any case).
pub fn switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
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
