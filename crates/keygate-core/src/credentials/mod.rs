//! Step 2 of a request: reading what it presented, by syntax only.
//!
//! Adapters expose a request through the [`RequestHead`] trait (implemented here for
//! `http::Request` and `http::request::Parts`); [`Credentials::parse_with`] borrows the
//! credentials from it, where the engine's [`CredentialSources`] say they are, without
//! copying. Nothing is trusted yet. A malformed, oversized or repeated credential is
//! `400 invalid_request`: a bad credential is never silently skipped. The query string
//! is never read.

mod cookie;
mod head;
mod presented;
mod sources;
pub(crate) mod syntax;
mod websocket;

pub use head::{Connection, HeaderValues, RequestHead, Scheme};
pub(crate) use presented::{Presented, SecretCredential, classify, classify_secret};
pub use sources::{CredentialSources, CredentialSourcesBuilder, SourcesError};
use syntax::{
    bearer_token, is_on_behalf_of_char, is_token_char, is_visible, is_visible_or_space, read,
};
pub use syntax::{is_valid_id, is_valid_user_id};

use crate::error::AuthError;
use crate::transport::Client;

/// `x-client-secret`: the platform secret or a tenant's `sk_` key.
pub const CLIENT_SECRET: &str = "x-client-secret";
/// `Authorization: Bearer …`.
pub const AUTHORIZATION: &str = "authorization";
/// `X-API-Key`.
pub const API_KEY: &str = "x-api-key";
/// `X-On-Behalf-Of`: the user to act as.
pub const ON_BEHALF_OF: &str = "x-on-behalf-of";

/// Longest `x-client-secret` value.
pub const MAX_SECRET_LEN: usize = 255;
/// Longest bearer token or `X-API-Key` value (room for user JWTs and client tokens).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest `X-On-Behalf-Of` value.
pub const MAX_USER_ID_LEN: usize = 128;

/// The credentials a request presented, parsed but not yet trusted. Borrowed from the
/// request; `Debug` prints which are present, never their values.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    client_secret: Option<&'a str>,
    bearer: Option<&'a str>,
    api_key: Option<&'a str>,
    on_behalf_of: Option<&'a str>,
    websocket_protocol: Option<&'a str>,
    client: Client,
}

impl<'a> Credentials<'a> {
    /// Reads the contract's credential headers of `head` (the default
    /// [`CredentialSources`]).
    ///
    /// ```
    /// use keygate_core::credentials::Credentials;
    ///
    /// let request = http::Request::builder()
    ///     .header("authorization", "bearer abc.def.ghi")
    ///     .body(())?;
    /// let credentials = Credentials::parse(&request)?;
    /// assert_eq!(credentials.bearer(), Some("abc.def.ghi"));
    ///
    /// let twice = http::Request::builder()
    ///     .header("x-api-key", "sk_a")
    ///     .header("x-api-key", "sk_b")
    ///     .body(())?;
    /// assert_eq!(Credentials::parse(&twice).unwrap_err().code(), "invalid_request");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse<H: RequestHead + ?Sized>(head: &'a H) -> Result<Self, AuthError> {
        Self::parse_with(head, &sources::CONTRACT)
    }

    /// Reads the credentials of `head` where `sources` say they are: the four headers;
    /// then, when configured, the credential cookie and (on an upgrade request only) the
    /// subprotocol entry, both into the bearer slot. Two different values in that slot
    /// are 400 `invalid_request`, like any two different credentials. When the cookie is
    /// present, the request's `Origin` must be one of the allowed origins, else 403
    /// `origin_forbidden` (checked after the syntax of everything else).
    ///
    /// ```
    /// use keygate_core::credentials::{CredentialSources, Credentials};
    ///
    /// let sources = CredentialSources::builder()
    ///     .cookie("kg_session")
    ///     .allowed_origin("https://app.example.com")
    ///     .build()?;
    /// let request = http::Request::builder()
    ///     .header("cookie", "theme=dark; kg_session=ek_a.b.c")
    ///     .header("origin", "https://app.example.com")
    ///     .body(())?;
    /// let credentials = Credentials::parse_with(&request, &sources)?;
    /// assert_eq!(credentials.bearer(), Some("ek_a.b.c"));
    ///
    /// let elsewhere = http::Request::builder()
    ///     .header("cookie", "kg_session=ek_a.b.c")
    ///     .header("origin", "https://evil.example")
    ///     .body(())?;
    /// let error = Credentials::parse_with(&elsewhere, &sources).unwrap_err();
    /// assert_eq!(error.code(), "origin_forbidden");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_with<H: RequestHead + ?Sized>(
        head: &'a H,
        sources: &'a CredentialSources,
    ) -> Result<Self, AuthError> {
        let mut credentials = Self {
            client_secret: read(head, &sources.client_secret, MAX_SECRET_LEN, is_visible)?,
            bearer: match read(
                head,
                &sources.bearer,
                MAX_TOKEN_LEN + 16,
                is_visible_or_space,
            )? {
                Some(value) => Some(bearer_token(&sources.bearer, value)?),
                None => None,
            },
            api_key: read(head, &sources.api_key, MAX_TOKEN_LEN, is_token_char)?,
            on_behalf_of: read(
                head,
                &sources.on_behalf_of,
                MAX_USER_ID_LEN,
                is_on_behalf_of_char,
            )?,
            websocket_protocol: None,
            client: Client::default(),
        };
        // The optional sources cost nothing unless configured.
        let cookie = match &sources.cookie {
            Some(source) => cookie::read(head, &source.name)?.map(|value| (value, source)),
            None => None,
        };
        let entry = match sources.websocket.as_deref() {
            Some(marker) if websocket::is_upgrade(head) => {
                websocket::read(head, marker)?.map(|value| (value, marker))
            }
            _ => None,
        };
        for value in [
            cookie.map(|(value, _)| value),
            entry.map(|(value, _)| value),
        ]
        .into_iter()
        .flatten()
        {
            credentials.bearer = match credentials.bearer {
                Some(other) if other != value => {
                    return Err(AuthError::invalid_request(
                        "present one bearer credential: in the bearer header, the credential \
                         cookie or the WebSocket subprotocol, not two different ones",
                    ));
                }
                _ => Some(value),
            };
        }
        credentials.websocket_protocol = entry.map(|(_, marker)| marker);
        if let Some((_, source)) = cookie {
            cookie::check_origin(head, &source.origins)?;
        }
        Ok(credentials)
    }

    /// The `x-client-secret` value (or the configured client-secret header's).
    pub fn client_secret(&self) -> Option<&'a str> {
        self.client_secret
    }

    /// The bearer slot: the token of `Authorization: Bearer <token>` (or the configured
    /// bearer header), the credential cookie's value, or the subprotocol entry.
    pub fn bearer(&self) -> Option<&'a str> {
        self.bearer
    }

    /// The `X-API-Key` value (or the configured API-key header's).
    pub fn api_key(&self) -> Option<&'a str> {
        self.api_key
    }

    /// The user id of `X-On-Behalf-Of`.
    pub fn on_behalf_of(&self) -> Option<&'a str> {
        self.on_behalf_of
    }

    /// The subprotocol a WebSocket handshake must be answered with
    /// (`Sec-WebSocket-Protocol: <marker>`) when the credential came in
    /// `Sec-WebSocket-Protocol`: the configured marker, never the credential. Browsers
    /// fail a handshake whose answer names no subprotocol they offered.
    pub fn websocket_protocol(&self) -> Option<&'a str> {
        self.websocket_protocol
    }

    /// Who sent them, as far as the engine needs to know: the client's address (for the
    /// [`lockout`](crate::lockout)) and scheme (for
    /// [`require_https`](crate::KeygateBuilder::require_https)). The engine fills it in
    /// when it reads the credentials itself, with its trusted proxies, and only when it
    /// needs it; [`parse_with`](Self::parse_with) leaves it unknown.
    pub fn client(&self) -> Client {
        self.client
    }

    /// The same credentials, sent by `client` (see [`Client::of`]): for code that parses
    /// credentials itself and then calls
    /// [`Keygate::authenticate_credentials`](crate::Keygate::authenticate_credentials). An
    /// unknown scheme is refused when the engine requires HTTPS.
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = client;
        self
    }

    /// Whether no credential at all was presented (`X-On-Behalf-Of` alone is none).
    pub fn is_empty(&self) -> bool {
        self.client_secret.is_none() && self.bearer.is_none() && self.api_key.is_none()
    }
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_secret", &self.client_secret.map(|_| ".."))
            .field("bearer", &self.bearer.map(|_| ".."))
            .field("api_key", &self.api_key.map(|_| ".."))
            .field("on_behalf_of", &self.on_behalf_of)
            .field("websocket_protocol", &self.websocket_protocol)
            .field("client", &self.client)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(headers: &[(&str, &str)]) -> Result<(), AuthError> {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(()).unwrap();
        Credentials::parse(&request).map(|_| ())
    }

    fn parsed<'a>(request: &'a http::Request<()>) -> Credentials<'a> {
        Credentials::parse(request).unwrap()
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_is_kept_whole() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let request = http::Request::builder()
                .header("Authorization", format!("{scheme}  abc.DEF-_~+/=="))
                .body(())
                .unwrap();
            assert_eq!(parsed(&request).bearer(), Some("abc.DEF-_~+/=="));
        }
    }

    #[test]
    fn malformed_credential_headers_are_invalid_requests() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let bad: Vec<Vec<(&str, String)>> = vec![
            vec![("authorization", "Bearer".into())],
            vec![("authorization", "Bearer ".into())],
            vec![("authorization", "Basic dXNlcjpwYXNz".into())],
            vec![("authorization", "Bearer a b".into())],
            vec![("authorization", "Bearer a=b".into())],
            vec![("authorization", "Bearer ====".into())],
            vec![("authorization", format!("Bearer {long}"))],
            vec![
                ("authorization", "Bearer a".into()),
                ("authorization", "Bearer b".into()),
            ],
            vec![("x-api-key", "".into())],
            vec![("x-api-key", "sk_live_a b".into())],
            vec![("x-api-key", long.clone())],
            vec![("X-API-KEY", "a".into()), ("x-api-key", "b".into())],
            vec![("x-client-secret", "a".repeat(256))],
            vec![("x-client-secret", "with space".into())],
            vec![("x-on-behalf-of", "".into())],
            vec![("x-on-behalf-of", "a".repeat(129))],
            vec![("x-on-behalf-of", "user/123".into())],
            vec![("x-on-behalf-of", "user 123".into())],
        ];
        for headers in bad {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let err = parse(&refs).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{headers:?}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn non_ascii_header_values_are_invalid_requests() {
        let request = http::Request::builder()
            .header(
                "x-api-key",
                http::HeaderValue::from_bytes(b"sk_\xff").unwrap(),
            )
            .body(())
            .unwrap();
        assert_eq!(
            Credentials::parse(&request).unwrap_err().code(),
            "invalid_request"
        );
    }

    #[test]
    fn every_credential_header_is_read_and_the_query_ignored() {
        let request = http::Request::builder()
            .uri("/x?api_key=sk_live_query&x-client-secret=s")
            .header("X-Client-Secret", "platform-secret-value")
            .header("x-api-key", "sk_live_header")
            .header("Authorization", "Bearer tok")
            .header("X-On-Behalf-Of", "user_123@example.com")
            .body(())
            .unwrap();
        let creds = parsed(&request);
        assert_eq!(creds.client_secret(), Some("platform-secret-value"));
        assert_eq!(creds.api_key(), Some("sk_live_header"));
        assert_eq!(creds.bearer(), Some("tok"));
        assert_eq!(creds.on_behalf_of(), Some("user_123@example.com"));
        let shown = format!("{creds:?}");
        assert!(!shown.contains("platform-secret-value") && !shown.contains("sk_live_header"));

        let only_query = http::Request::builder()
            .uri("/x?api_key=sk_live_query")
            .body(())
            .unwrap();
        assert!(parsed(&only_query).is_empty());
    }

    #[test]
    fn ids_follow_the_contract_charset() {
        assert!(is_valid_id("user_123"));
        assert!(is_valid_id("a.b:c@d-e"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(129)));
        assert!(!is_valid_id("a b"));
        assert!(is_valid_user_id("auth0|abc"));
        assert!(!is_valid_user_id("a b") && !is_valid_user_id(""));
    }
}
