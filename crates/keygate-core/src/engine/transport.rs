//! The engine's transport rules for handlers that take a credential the engine does not
//! verify itself (an OAuth client's secret, an authorization code, a refresh token): who
//! the client is, believing forwarding headers only from the engine's trusted proxies
//! ([`Keygate::client`]), and whether it may send a credential over the scheme it used
//! ([`Keygate::check_https`]). The engine applies the same two rules to every credential
//! it reads.

use crate::credentials::RequestHead;
use crate::engine::Keygate;
use crate::error::AuthError;
use crate::transport::Client;

impl Keygate {
    /// The client of `head` as this engine believes it: its address and scheme, read from
    /// the request's connection, or from `X-Forwarded-For` / `X-Forwarded-Proto` when the
    /// peer is one of the engine's
    /// [`trusted_proxies`](crate::KeygateBuilder::trusted_proxies) ([`Client::of`]). The
    /// address to count failures against in a handler's own throttle, so that clients
    /// behind one proxy are counted one by one, not as the proxy.
    ///
    /// ```
    /// use keygate_core::credentials::{Connection, Scheme};
    /// use keygate_core::{Keygate, Pepper};
    ///
    /// let keygate = Keygate::builder()
    ///     .pepper(Pepper::generate()?)
    ///     .trusted_proxies("10.0.0.0/8".parse()?)
    ///     .build()?;
    /// let mut request = http::Request::builder()
    ///     .header("x-forwarded-for", "203.0.113.9")
    ///     .body(())?;
    /// request.extensions_mut().insert(Connection { peer: "10.0.0.2:4000".parse()?, scheme: Scheme::Http });
    /// assert_eq!(keygate.client(&request).address, Some("203.0.113.9".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client<H: RequestHead + ?Sized>(&self, head: &H) -> Client {
        Client::of(head, &self.inner.proxies)
    }

    /// `Ok` when a credential from `client` may be taken: the engine does not
    /// [`require_https`](crate::KeygateBuilder::require_https), or the client used HTTPS.
    /// Otherwise 403 `https_required` ([`AuthError::HttpsRequired`]), recorded in the audit
    /// trail as the engine's own refusals are: refuse the request before reading the
    /// credential. An unknown scheme (no
    /// [`Connection`](crate::credentials::Connection) in the request) is not HTTPS.
    ///
    /// ```
    /// use keygate_core::credentials::{Connection, Scheme};
    /// use keygate_core::{Keygate, Pepper};
    ///
    /// let keygate = Keygate::builder().pepper(Pepper::generate()?).require_https(true).build()?;
    /// let mut request = http::Request::post("/oauth/token").body(())?;
    /// request.extensions_mut().insert(Connection { peer: "198.51.100.7:4000".parse()?, scheme: Scheme::Http });
    /// let refused = keygate.check_https(&keygate.client(&request)).unwrap_err();
    /// assert_eq!((refused.status().as_u16(), refused.code()), (403, "https_required"));
    ///
    /// request.extensions_mut().insert(Connection { peer: "198.51.100.7:4000".parse()?, scheme: Scheme::Https });
    /// assert!(keygate.check_https(&keygate.client(&request)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_https(&self, client: &Client) -> Result<(), AuthError> {
        self.https_rule(client).map_err(|error| self.refused(error))
    }

    /// [`check_https`](Self::check_https) without the audit record, for the engine's own
    /// path (which records its refusals once, at the end).
    pub(in crate::engine) fn https_rule(&self, client: &Client) -> Result<(), AuthError> {
        if self.inner.require_https && !client.is_https() {
            return Err(AuthError::HttpsRequired);
        }
        Ok(())
    }
}
