//! [`ProxyBuilder`]: the upstream, its key, the prefix to strip and the timeouts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use keygate_core::CredentialSources;
use secrecy::{ExposeSecret as _, SecretString};

use super::path::Upstream;
use super::{Inner, Proxy, client, headers};

/// How long the proxy waits for a connection to the upstream, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the upstream may stay silent before its response head, by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`Proxy`]. Every setting is optional: without an upstream the proxy answers
/// every request 502 `upstream_unavailable`.
///
/// ```
/// use std::time::Duration;
///
/// use keygate_tower::proxy::Proxy;
/// use secrecy::SecretString;
///
/// let proxy = Proxy::builder()
///     .upstream("https://api.example.com/v1")
///     .key(SecretString::from("upstream-key"))
///     .strip_prefix("/api/proxy")
///     .connect_timeout(Duration::from_secs(5))
///     .response_timeout(Duration::from_secs(60))
///     .build()?;
/// // The key never shows.
/// assert!(!format!("{proxy:?}").contains("upstream-key"));
/// # Ok::<(), keygate_tower::proxy::ProxyError>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct ProxyBuilder {
    upstream: Option<String>,
    key: Option<SecretString>,
    prefix: String,
    connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    sources: CredentialSources,
}

impl fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("upstream", &self.upstream)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("sources", &self.sources)
            .finish()
    }
}

/// Why a [`Proxy`] could not be built. The message says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream URL is not an absolute `http(s)://` URL without credentials, query or
    /// fragment.
    #[error("{0}")]
    Upstream(String),
    /// The key cannot be sent in a header (it has a line break or another control
    /// character).
    #[error("the upstream key must be printable text without line breaks")]
    Key,
    /// The prefix is not a path (`/api/proxy`).
    #[error(
        "the prefix to strip must be empty or a path starting with / and not ending with /, such as /api/proxy"
    )]
    Prefix,
    /// The HTTP client (or its TLS) could not be set up.
    #[error("{0}")]
    Client(String),
}

impl ProxyBuilder {
    /// Where requests go: an absolute `http://` or `https://` URL, perhaps with a base
    /// path (`https://api.example.com/v1`). A request for `{prefix}/a/b?q` goes to
    /// `https://api.example.com/v1/a/b?q`.
    pub fn upstream(mut self, url: impl Into<String>) -> Self {
        self.upstream = Some(url.into());
        self
    }

    /// The key sent upstream as `Authorization: Bearer <key>` (marked sensitive, never
    /// logged). Without one, no `Authorization` goes upstream.
    pub fn key(mut self, key: SecretString) -> Self {
        self.key = Some(key);
        self
    }

    /// The part of the request path that names the proxy, removed before the path is
    /// joined to the upstream URL (`/api/proxy`). Requests outside it are 404. Default:
    /// none, the whole path is forwarded.
    pub fn strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for a connection (TCP and TLS) to the upstream; past it, 502
    /// `upstream_unavailable`. Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long the upstream may stay silent before its response head: counted from the
    /// last chunk of the request body it took (so a long upload is not cut), and not
    /// applied to the response body (so a long download is not cut either). Past it,
    /// 504 `upstream_timeout`. Default [`DEFAULT_RESPONSE_TIMEOUT`].
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Where credentials are read, for requests that reach the proxy without a keygate
    /// layer in front. Behind a keygate layer (as a proxy should always be) the proxy
    /// removes what the admitting engine reads
    /// ([`Keygate::credential_sources`](keygate_core::Keygate::credential_sources), handed
    /// on in the request's `Authentication`), whatever this says. Every one of them is
    /// removed before the request goes upstream (the configured headers, the credential
    /// cookie, the subprotocol marker and its entry), besides the contract's credential
    /// headers and `Cookie`, which always go. Default: the contract's sources.
    ///
    /// ```
    /// use keygate_core::credentials::CredentialSources;
    /// use keygate_core::{Keygate, Pepper};
    /// use keygate_tower::proxy::Proxy;
    ///
    /// let keygate = Keygate::builder()
    ///     .pepper(Pepper::generate()?)
    ///     .credential_sources(CredentialSources::builder().api_key_header("x-acme-key").build()?)
    ///     .build()?;
    /// let proxy = Proxy::builder()
    ///     .upstream("https://api.example.com/v1")
    ///     .credential_sources(keygate.credential_sources())
    ///     .build()?;
    /// # let _ = proxy;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credential_sources(mut self, sources: &CredentialSources) -> Self {
        self.sources = sources.clone();
        self
    }

    /// The proxy. Fails on a bad URL, key or prefix, or when the HTTP client cannot be
    /// set up.
    pub fn build(self) -> Result<Proxy, ProxyError> {
        let prefix = self.prefix;
        if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/')) {
            return Err(ProxyError::Prefix);
        }
        let key = self
            .key
            .map(|key| headers::bearer(key.expose_secret()).ok_or(ProxyError::Key))
            .transpose()?;
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let upstream = match self.upstream {
            Some(url) => {
                let upstream = Upstream::parse(&url).map_err(ProxyError::Upstream)?;
                let client = client::http_client(connect_timeout).map_err(ProxyError::Client)?;
                Some((upstream, client))
            }
            None => None,
        };
        Ok(Proxy {
            inner: Arc::new(Inner {
                upstream,
                key,
                prefix,
                connect_timeout,
                response_timeout: self.response_timeout.unwrap_or(DEFAULT_RESPONSE_TIMEOUT),
                sources: self.sources,
            }),
        })
    }
}
