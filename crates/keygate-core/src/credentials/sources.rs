//! Where a request's credentials come from: [`CredentialSources`], configured once and
//! validated then, so a bad header name is a build-time error, never a request-time one.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName};

use super::{API_KEY, CLIENT_SECRET, ON_BEHALF_OF, cookie, websocket};

/// Which request parts carry which credential. The defaults are the contract's:
/// `x-client-secret`, `Authorization: Bearer …`, `X-API-Key` and `X-On-Behalf-Of`, no
/// cookie, no WebSocket subprotocol.
///
/// Optional sources, off by default:
///
/// - a **cookie** whose value is read like a bearer value (an issued token, an `ek_`
///   client token, an API key or a user JWT). Browsers attach cookies to cross-site
///   requests too, so a cookie source needs an `Origin` allow-list: a request the cookie
///   comes with must carry an `Origin` header that is exactly one of the allowed origins,
///   else it is refused with 403 `origin_forbidden`.
/// - a **WebSocket subprotocol marker**: on an upgrade request (`GET` with
///   `Connection: upgrade` and `Upgrade: websocket`), the `Sec-WebSocket-Protocol` entry
///   right after the marker is read like a bearer value. A browser sends it with
///   `new WebSocket(url, ["keygate", token])`, which puts
///   `Sec-WebSocket-Protocol: keygate, <token>` on the handshake; the server must answer
///   with the marker as its subprotocol (never the token), see
///   [`Credentials::websocket_protocol`](super::Credentials::websocket_protocol).
///
/// A cookie or subprotocol credential fills the same slot as `Authorization`: sent
/// together with a different `Authorization` value, the request is 400
/// `invalid_request`, as any two different credentials are.
///
/// Cheap to clone (the optional parts are shared).
///
/// ```
/// use keygate_core::credentials::CredentialSources;
///
/// let sources = CredentialSources::builder()
///     .api_key_header("X-Acme-Key")
///     .cookie("kg_session")
///     .allowed_origin("https://app.example.com")
///     .websocket_protocol("keygate")
///     .build()?;
/// assert_eq!(sources.api_key_header().as_str(), "x-acme-key");
/// assert_eq!(sources.websocket_protocol(), Some("keygate"));
///
/// // A cookie without an Origin allow-list is refused at configuration.
/// let error = CredentialSources::builder().cookie("kg_session").build().unwrap_err();
/// assert!(error.to_string().contains("allowed_origin"));
/// # Ok::<(), keygate_core::credentials::SourcesError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CredentialSources {
    pub(super) client_secret: HeaderName,
    pub(super) bearer: HeaderName,
    pub(super) api_key: HeaderName,
    pub(super) on_behalf_of: HeaderName,
    pub(super) cookie: Option<Arc<CookieSource>>,
    pub(super) websocket: Option<Arc<str>>,
}

/// A cookie credential and the origins it may come from.
#[derive(Debug)]
pub(super) struct CookieSource {
    pub(super) name: Box<str>,
    pub(super) origins: Box<[Box<str>]>,
}

/// The contract's sources, for [`Credentials::parse`](super::Credentials::parse).
pub(super) static CONTRACT: CredentialSources = CredentialSources::contract();

impl CredentialSources {
    /// Starts configuring sources from the contract's defaults.
    pub fn builder() -> CredentialSourcesBuilder {
        CredentialSourcesBuilder::default()
    }

    const fn contract() -> Self {
        Self {
            client_secret: HeaderName::from_static(CLIENT_SECRET),
            bearer: header::AUTHORIZATION,
            api_key: HeaderName::from_static(API_KEY),
            on_behalf_of: HeaderName::from_static(ON_BEHALF_OF),
            cookie: None,
            websocket: None,
        }
    }

    /// The header carrying the platform secret or a tenant's `sk_` key.
    pub fn client_secret_header(&self) -> &HeaderName {
        &self.client_secret
    }

    /// The header carrying `Bearer <token>`.
    pub fn bearer_header(&self) -> &HeaderName {
        &self.bearer
    }

    /// The header carrying an API key or an `ek_` client token.
    pub fn api_key_header(&self) -> &HeaderName {
        &self.api_key
    }

    /// The header naming a user to act as.
    pub fn on_behalf_of_header(&self) -> &HeaderName {
        &self.on_behalf_of
    }

    /// The name of the credential cookie, when one is configured.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref().map(|cookie| &*cookie.name)
    }

    /// The origins a cookie credential may come from (empty without a cookie).
    pub fn allowed_origins(&self) -> impl Iterator<Item = &str> {
        self.cookie
            .iter()
            .flat_map(|cookie| cookie.origins.iter().map(|origin| &**origin))
    }

    /// The WebSocket subprotocol marker, when that source is on: the subprotocol a server
    /// answers an upgrade with when the credential came in `Sec-WebSocket-Protocol`.
    pub fn websocket_protocol(&self) -> Option<&str> {
        self.websocket.as_deref()
    }

    /// Removes every credential these sources read from `headers`, for a request that
    /// goes on to another service (keygate-tower's proxy): the four credential headers,
    /// the credential cookie (the request's other cookies stay), and the subprotocol
    /// marker with the entry after it (other subprotocols stay).
    ///
    /// ```
    /// use keygate_core::credentials::CredentialSources;
    ///
    /// let sources = CredentialSources::builder()
    ///     .api_key_header("x-acme-key")
    ///     .cookie("kg_session")
    ///     .allowed_origin("https://app.example.com")
    ///     .build()?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-acme-key", "sk_live_x".parse()?);
    /// headers.insert("cookie", "theme=dark; kg_session=ek_x.y.z".parse()?);
    /// sources.remove_from(&mut headers);
    /// assert!(headers.get("x-acme-key").is_none());
    /// assert_eq!(headers["cookie"], "theme=dark");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_from(&self, headers: &mut HeaderMap) {
        for name in [
            &self.client_secret,
            &self.bearer,
            &self.api_key,
            &self.on_behalf_of,
        ] {
            headers.remove(name);
        }
        if let Some(source) = &self.cookie {
            cookie::remove(headers, &source.name);
        }
        if let Some(marker) = &self.websocket {
            websocket::remove(headers, marker);
        }
    }
}

impl Default for CredentialSources {
    fn default() -> Self {
        Self::contract()
    }
}

/// Configures [`CredentialSources`]; [`build`](Self::build) checks every name.
#[derive(Debug, Default)]
#[must_use]
pub struct CredentialSourcesBuilder {
    client_secret: Option<String>,
    bearer: Option<String>,
    api_key: Option<String>,
    on_behalf_of: Option<String>,
    cookie: Option<String>,
    origins: Vec<String>,
    websocket: Option<String>,
}

impl CredentialSourcesBuilder {
    /// The header for the platform secret or a tenant's `sk_` key (default
    /// `x-client-secret`). Names are case-insensitive; they are kept in lower case.
    pub fn client_secret_header(mut self, name: impl Into<String>) -> Self {
        self.client_secret = Some(name.into());
        self
    }

    /// The header for `Bearer <token>` (default `authorization`). The scheme stays
    /// `Bearer`.
    pub fn bearer_header(mut self, name: impl Into<String>) -> Self {
        self.bearer = Some(name.into());
        self
    }

    /// The header for an API key or an `ek_` client token (default `x-api-key`). The
    /// default header is then not read at all.
    pub fn api_key_header(mut self, name: impl Into<String>) -> Self {
        self.api_key = Some(name.into());
        self
    }

    /// The header naming a user to act as (default `x-on-behalf-of`).
    pub fn on_behalf_of_header(mut self, name: impl Into<String>) -> Self {
        self.on_behalf_of = Some(name.into());
        self
    }

    /// Reads a bearer-like credential from the cookie `name` (1 to 64 RFC 6265 token
    /// characters, case-sensitive, as cookie names are). Needs at least one
    /// [`allowed_origin`](Self::allowed_origin): a request the cookie comes with must
    /// carry one of them in `Origin`. A same-origin `GET` carries no `Origin` and is
    /// refused (`origin_forbidden`); send the credential in a header for those.
    ///
    /// Set the cookie `HttpOnly`, `Secure` and `SameSite`, and give it the `__Host-`
    /// prefix (`__Host-kg_session`, set with `Secure; Path=/` and no `Domain`): browsers
    /// then keep it only as set by the API's own host, so a sibling subdomain cannot
    /// toss a cookie of that name onto the parent domain for the API to read.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// An origin a cookie credential may come from, as browsers send it in `Origin`:
    /// `scheme://host[:port]`, lower case, no path and no trailing slash
    /// (`https://app.example.com`). Call once per origin.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// Reads a bearer-like credential from `Sec-WebSocket-Protocol` on upgrade requests:
    /// the entry right after `marker` (an RFC 7230 token such as `keygate`).
    pub fn websocket_protocol(mut self, marker: impl Into<String>) -> Self {
        self.websocket = Some(marker.into());
        self
    }

    /// The sources, or what to fix.
    pub fn build(self) -> Result<CredentialSources, SourcesError> {
        let defaults = CredentialSources::contract();
        let slot = |given: Option<String>, slot, default: HeaderName| match given {
            Some(name) => header_name(slot, &name),
            None => Ok(default),
        };
        let sources = CredentialSources {
            client_secret: slot(
                self.client_secret,
                "the client secret",
                defaults.client_secret,
            )?,
            bearer: slot(self.bearer, "bearer tokens", defaults.bearer)?,
            api_key: slot(self.api_key, "API keys", defaults.api_key)?,
            on_behalf_of: slot(self.on_behalf_of, "X-On-Behalf-Of", defaults.on_behalf_of)?,
            cookie: cookie_source(self.cookie, self.origins)?,
            websocket: match self.websocket {
                Some(marker) if websocket::is_marker(&marker) => Some(marker.into()),
                Some(marker) => return Err(SourcesError::WebSocketProtocol(marker)),
                None => None,
            },
        };
        let names = [
            &sources.client_secret,
            &sources.bearer,
            &sources.api_key,
            &sources.on_behalf_of,
        ];
        for (at, name) in names.iter().enumerate() {
            if names.iter().skip(at + 1).any(|other| other == name) {
                return Err(SourcesError::SharedHeader(name.as_str().to_owned()));
            }
        }
        Ok(sources)
    }
}

/// Headers with a meaning of their own in HTTP, which a credential may not borrow; and
/// `sec-` and `proxy-` names, which browsers never let a page set.
const RESERVED: [&str; 13] = [
    "connection",
    "content-length",
    "content-type",
    "cookie",
    "forwarded",
    "host",
    "keep-alive",
    "origin",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn header_name(slot: &'static str, name: &str) -> Result<HeaderName, SourcesError> {
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| SourcesError::Header {
        slot,
        name: name.to_owned(),
    })?;
    let text = parsed.as_str();
    if RESERVED.contains(&text)
        || text.starts_with("sec-")
        || text.starts_with("proxy-")
        || text.starts_with("x-forwarded-")
    {
        return Err(SourcesError::ReservedHeader {
            slot,
            name: text.to_owned(),
        });
    }
    Ok(parsed)
}

fn cookie_source(
    name: Option<String>,
    origins: Vec<String>,
) -> Result<Option<Arc<CookieSource>>, SourcesError> {
    let Some(name) = name else {
        return if origins.is_empty() {
            Ok(None)
        } else {
            Err(SourcesError::OriginsWithoutCookie)
        };
    };
    if !cookie::is_name(&name) {
        return Err(SourcesError::CookieName(name));
    }
    if origins.is_empty() {
        return Err(SourcesError::CookieWithoutOrigins);
    }
    let origins = origins
        .into_iter()
        .map(|origin| {
            if cookie::is_origin(&origin) {
                Ok(origin.into_boxed_str())
            } else {
                Err(SourcesError::Origin(origin))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Arc::new(CookieSource {
        name: name.into_boxed_str(),
        origins,
    })))
}

/// Why [`CredentialSources`] could not be built. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourcesError {
    /// A header name that is not an HTTP field name.
    #[error(
        "the header for {slot}, {name:?}, is not an HTTP header name: use letters, digits and '-', such as x-api-key"
    )]
    Header {
        /// What the header was to carry.
        slot: &'static str,
        /// The name given.
        name: String,
    },
    /// A header that means something else in HTTP, or that browsers never let a page set.
    #[error(
        "the header for {slot} cannot be {name}: that header has its own meaning in HTTP or cannot be set by a page; choose another, such as x-acme-key"
    )]
    ReservedHeader {
        /// What the header was to carry.
        slot: &'static str,
        /// The name given, in lower case.
        name: String,
    },
    /// Two credentials configured on one header.
    #[error("two credential sources use the header {0}: give each its own header")]
    SharedHeader(String),
    /// A cookie name that is not an RFC 6265 token.
    #[error(
        "the cookie name {0:?} is not valid: use 1 to 64 letters, digits, '-' or '_', such as kg_session"
    )]
    CookieName(String),
    /// A cookie source without an `Origin` allow-list.
    #[error(
        "a cookie source needs at least one allowed origin (CredentialSourcesBuilder::allowed_origin): browsers send cookies with cross-site requests too, and the Origin check is what refuses those"
    )]
    CookieWithoutOrigins,
    /// Allowed origins without a cookie source (they would check nothing).
    #[error(
        "allowed origins apply to a cookie source only: set one with CredentialSourcesBuilder::cookie, or remove the origins"
    )]
    OriginsWithoutCookie,
    /// An origin not in the form browsers send.
    #[error(
        "{0:?} is not an origin as browsers send it: write scheme://host[:port] in lower case, without a path or trailing slash, such as https://app.example.com"
    )]
    Origin(String),
    /// A subprotocol marker that is not an RFC 7230 token.
    #[error(
        "the WebSocket subprotocol marker {0:?} is not valid: use 1 to 64 letters, digits, '-', '.' or '_', such as keygate"
    )]
    WebSocketProtocol(String),
}
