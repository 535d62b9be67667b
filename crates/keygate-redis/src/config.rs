//! [`RedisConfig`]: where Redis is, the key prefix, and how long to wait for it.

use std::fmt;
use std::time::Duration;

/// The default [`RedisConfig::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// The default [`RedisConfig::connect_timeout`].
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default [`RedisConfig::prefix`].
const DEFAULT_PREFIX: &str = "keygate";

/// How to reach Redis and how to name keygate's keys there.
///
/// ```
/// use std::time::Duration;
/// use keygate_redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://:secret@127.0.0.1:6379/0")
///     .prefix("shop")?
///     .timeout(Duration::from_millis(200));
/// assert_eq!(config.key_prefix(), "shop");
/// // The password never shows, in `Debug` or in errors.
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), keygate_redis::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

/// A key prefix keygate cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The prefix is empty, or holds `{`, `}` or a space.
    #[error(
        "the Redis key prefix {0:?} is not usable: use 1 to 64 characters without '{{', '}}' \
         or spaces (it becomes the keys' hash tag)"
    )]
    Prefix(String),
}

impl RedisConfig {
    /// Redis at `url` (`redis://[:password@]host:port[/db]`, or `rediss://` for TLS if the
    /// `redis` crate is built with TLS), with the prefix `keygate`, a 500 ms timeout per
    /// call and 1 s to connect.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Names every key `{<prefix>}:…`: deployments (or tests) sharing one Redis keep apart
    /// by prefix. The prefix is also the keys' hash tag, so every key of one meter is in
    /// one Redis Cluster slot and one script call may touch any of them.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let prefix = prefix.into();
        let usable = !prefix.is_empty()
            && prefix.len() <= 64
            && !prefix.contains(['{', '}', ' ', '\r', '\n']);
        if !usable {
            return Err(ConfigError::Prefix(prefix));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// How long one call to Redis may take, reconnecting included, before it is an error
    /// (503 `auth_unavailable`). Keep it well below the service's own request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long one connection attempt may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL with any password replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// `url` with the user-info part's password (or the whole user-info, when it has no
/// `:`) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_owned(),
            };
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("redis://:pw@host:6379/1"),
            "redis://:***@host:6379/1"
        );
        assert_eq!(
            redact("rediss://user:p@ss@host/0"),
            "rediss://user:***@host/0"
        );
        assert_eq!(redact("redis://token@host"), "redis://***@host");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("garbage"), "<not a URL>");
    }

    #[test]
    fn prefixes_that_would_break_the_hash_tag_are_refused() {
        for bad in ["", "a{b", "a}b", "a b"] {
            assert!(
                RedisConfig::new("redis://x").prefix(bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(RedisConfig::new("redis://x").prefix("kg-test_1").is_ok());
    }
}
