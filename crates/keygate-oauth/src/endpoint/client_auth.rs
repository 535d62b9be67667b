//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post`, or a public client naming itself — one
//! method per request. Failures are throttled per (client, address) and argon2
//! verifications are capped, so the endpoint cannot be used to burn CPU.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::client::ClientRecord;
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::secret::verify_client_secret;
use crate::server::AuthorizationServer;

/// What a token or revocation request carried, framework-neutral: the adapter copies it
/// from its request. Its `Debug` shows sizes, never the `Authorization` values or the
/// body (client secrets, codes, refresh tokens).
#[derive(Clone, Copy)]
pub struct EndpointRequest<'a> {
    /// Every `Authorization` header value (normally none or one).
    pub authorization: &'a [&'a [u8]],
    /// The `Content-Type` header, if one (and only one) was sent.
    pub content_type: Option<&'a [u8]>,
    /// The form body.
    pub body: &'a [u8],
    /// The client's network address, for the failure throttle.
    pub client_address: Option<IpAddr>,
}

impl std::fmt::Debug for EndpointRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRequest")
            .field("authorization_headers", &self.authorization.len())
            .field("body_len", &self.body.len())
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

/// Credentials a request presented.
struct Presented {
    client_id: String,
    secret: Option<SecretString>,
}

fn percent_decoded(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `Basic base64(urlencode(id):urlencode(secret))`.
fn parse_basic(value: &[u8]) -> Result<(String, SecretString), OAuthError> {
    let bad = || {
        OAuthError::invalid_client(
            "Authorization must be Basic base64(client_id:client_secret), each form-encoded",
        )
    };
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (scheme, rest) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = SecretString::from(String::from_utf8(decoded).map_err(|_| bad())?);
    let (id, secret) = decoded.expose_secret().split_once(':').ok_or_else(bad)?;
    let id = percent_decoded(id);
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, SecretString::from(percent_decoded(secret))))
}

fn presented(request: &EndpointRequest<'_>, params: &Params) -> Result<Presented, OAuthError> {
    let basic = match request.authorization {
        [] => None,
        [one] => Some(parse_basic(one)?),
        _ => {
            return Err(OAuthError::invalid_request(
                "the Authorization header appears more than once; send it once",
            ));
        }
    };
    let post_id = params.get("client_id");
    let post_secret = params.get("client_secret");
    match basic {
        Some((id, secret)) => {
            if post_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "authenticate the client one way: Basic or client_secret in the body, not both",
                ));
            }
            if post_id.is_some_and(|p| p != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
            })
        }
        None => {
            let id = post_id.ok_or_else(|| {
                OAuthError::invalid_client(
                    "authenticate the client: Basic credentials, or client_id (and client_secret) in the body",
                )
            })?;
            Ok(Presented {
                client_id: id.to_owned(),
                secret: post_secret.map(|s| SecretString::from(s.to_owned())),
            })
        }
    }
}

impl AuthorizationServer {
    /// Authenticates the client of a token or revocation request.
    pub(crate) async fn authenticate_client(
        &self,
        request: &EndpointRequest<'_>,
        params: &Params,
    ) -> Result<ClientRecord, OAuthError> {
        let presented = presented(request, params)?;
        let unknown = || {
            OAuthError::invalid_client(
                "client authentication failed: unknown client or wrong secret",
            )
        };
        let client = self
            .inner
            .store
            .client(&presented.client_id)
            .await?
            .ok_or_else(unknown)?;
        let (hash, secret) = match (&client.secret_hash, presented.secret) {
            (None, None) => return Ok(client),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_client(
                    "this is a public client: it has no secret to send",
                ));
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_client(
                    "this client is confidential: send its secret (Basic or client_secret)",
                ));
            }
            (Some(hash), Some(secret)) => (hash.clone(), secret),
        };
        let now = self.now();
        let address = request.client_address;
        if let Some(seconds) = self.inner.throttle.blocked_for(&client.id, address, now) {
            return Err(OAuthError::invalid_client(
                "too many failed client authentications from this address; retry later",
            )
            .retry_after(seconds));
        }
        if !self.verify_secret(secret, hash).await? {
            self.inner.throttle.fail(&client.id, address, now);
            return Err(unknown());
        }
        Ok(client)
    }

    /// One argon2 verification, on the blocking pool, under the concurrency cap.
    async fn verify_secret(&self, secret: SecretString, hash: String) -> Result<bool, OAuthError> {
        let busy = || {
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many client authentications at once; retry shortly",
            )
            .retry_after(1)
        };
        let _waiting = self.inner.waiting.try_acquire().map_err(|_| busy())?;
        let _slot = self.inner.verifying.acquire().await.map_err(|_| busy())?;
        tokio::task::spawn_blocking(move || verify_client_secret(secret.expose_secret(), &hash))
            .await
            .map_err(|_| busy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let value = format!("Basic {}", STANDARD.encode("cl_a%3Ab:cs_x%2By+z"));
        let (id, secret) = parse_basic(value.as_bytes()).unwrap();
        assert_eq!(id, "cl_a:b");
        assert_eq!(secret.expose_secret(), "cs_x+y z");
        assert!(parse_basic(b"Bearer abc").is_err());
        assert!(parse_basic(b"Basic !!!").is_err());
        let no_colon = format!("Basic {}", STANDARD.encode("cl_a"));
        assert!(parse_basic(no_colon.as_bytes()).is_err());
    }
}
