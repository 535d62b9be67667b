//! The authorization endpoint (RFC 6749 §4.1.1, RFC 7636, RFC 9207): validate the request,
//! let the application sign the user in and ask for consent, then issue the code.
//!
//! An unknown client or a redirect URI that is not an exact registered match is answered
//! with a 400 page and never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.1); every other
//! error redirects to the client with `error`, `state` and `iss`.

use std::sync::Arc;

use http::StatusCode;
use keygate_core::ScopeSet;
use keygate_core::store::StoreError;

use crate::client::ClientRecord;
use crate::client::redirect::{redirect_uri_matches, with_query};
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::pkce::{S256, is_s256_challenge};
use crate::response::OAuthResponse;
use crate::secret::{TokenDigest, random_base62};
use crate::server::{AuthorizationServer, CODE_LIFETIME, fresh};
use crate::store::CodeRecord;

/// A validated authorization request, waiting for the application's decision.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The client asking.
    pub client: ClientRecord,
    /// Where the answer goes (an exact registered URI).
    pub redirect_uri: String,
    /// The scopes asked for (the client's own when the request named none).
    pub scopes: ScopeSet,
    /// The client's `state`, echoed byte for byte.
    pub state: Option<String>,
    redirect_uri_given: bool,
    challenge: String,
}

/// The user who approves: the subject and tenant the tokens will act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceOwner {
    /// The user's id.
    pub subject: String,
    /// The user's tenant, if any.
    pub tenant: Option<String>,
}

/// Why an authorization request was refused, and how to tell whom.
#[derive(Debug, Clone)]
pub enum AuthorizeRefusal {
    /// Shown to the user, never sent to the client: the client or its redirect URI
    /// cannot be trusted (400).
    Page(OAuthError),
    /// Sent to the client's redirect URI (302 with `error`, `state`, `iss`).
    Redirect(OAuthResponse),
}

impl AuthorizeRefusal {
    /// The answer to send.
    pub fn into_response(self) -> OAuthResponse {
        match self {
            Self::Page(error) => {
                let mut response = OAuthResponse::error(&error);
                // 400, except when the server failed (its store did not answer): 503.
                if !response.status.is_server_error() {
                    response.status = StatusCode::BAD_REQUEST;
                }
                response.headers.remove(http::header::WWW_AUTHENTICATE);
                response
            }
            Self::Redirect(response) => response,
        }
    }
}

impl AuthorizationServer {
    /// Validates an authorization request from its query string (without the `?`).
    pub async fn authorization_request(
        &self,
        query: &str,
    ) -> Result<AuthorizationRequest, AuthorizeRefusal> {
        let page = |text: &'static str| AuthorizeRefusal::Page(OAuthError::invalid_request(text));
        // A malformed query (a repeated parameter among them) leaves nothing to trust,
        // the redirect URI included.
        let params = Params::parse(query.as_bytes()).map_err(|error| {
            AuthorizeRefusal::Page(OAuthError::invalid_request(error.to_string()))
        })?;
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("client_id is required"))?;
        let client = self
            .inner
            .store
            .client(client_id)
            .await
            .map_err(|e| AuthorizeRefusal::Page(OAuthError::unavailable(&e)))?
            .ok_or_else(|| page("unknown client_id: check the client's registration"))?;
        let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
            Some(given) => {
                let registered = client
                    .redirect_uris
                    .iter()
                    .find(|r| redirect_uri_matches(r, given))
                    .ok_or_else(|| {
                        page(
                            "redirect_uri is not one the client registered (it must match exactly)",
                        )
                    })?;
                (registered.clone(), true)
            }
            None => match client.redirect_uris.as_slice() {
                [only] => (only.clone(), false),
                _ => {
                    return Err(page(
                        "redirect_uri is required: the client registered several",
                    ));
                }
            },
        };
        let state = params.get("state").map(str::to_owned);
        // From here on the redirect URI is trusted: errors go back to the client.
        let redirect = |error: OAuthError| {
            AuthorizeRefusal::Redirect(self.error_redirect(&redirect_uri, state.as_deref(), &error))
        };
        match params.get("response_type") {
            None => {
                return Err(redirect(OAuthError::invalid_request(
                    "response_type is required",
                )));
            }
            Some("code") => {}
            Some(_) => {
                return Err(redirect(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "response_type must be code (the implicit grant is not supported)",
                )));
            }
        }
        let challenge = params.get("code_challenge").ok_or_else(|| {
            redirect(OAuthError::invalid_request(
                "code_challenge is required: PKCE with S256",
            ))
        })?;
        if params.get("code_challenge_method") != Some(S256) {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not accepted)",
            )));
        }
        if !is_s256_challenge(challenge) {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge must be 43 base64url characters: BASE64URL(SHA256(code_verifier))",
            )));
        }
        let scopes = match params.get("scope") {
            None => client.scopes.clone(),
            Some(text) => ScopeSet::from_space_separated(text).map_err(|_| {
                redirect(OAuthError::invalid_scope(
                    "scope is not a valid list of scopes",
                ))
            })?,
        };
        if scopes.is_empty() || !client.scopes.covers(&scopes) {
            return Err(redirect(OAuthError::invalid_scope(
                "scope asks for more than the client may have",
            )));
        }
        Ok(AuthorizationRequest {
            challenge: challenge.to_owned(),
            client,
            redirect_uri,
            redirect_uri_given,
            scopes,
            state,
        })
    }

    /// Issues a code for `request`, approved by `owner`: 302 to the redirect URI with
    /// `code`, `state` and `iss`. A client of one tenant is refused for another tenant's
    /// users (`access_denied`).
    pub async fn approve(
        &self,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> OAuthResponse {
        if let Some(tenant) = &request.client.tenant
            && owner.tenant.as_deref() != Some(&**tenant)
        {
            return self.deny(
                request,
                OAuthError::new(
                    ErrorCode::AccessDenied,
                    "this client is for another tenant's users",
                ),
            );
        }
        match self.issue_code(request, owner).await {
            Ok(code) => {
                let mut params = vec![("code", code.as_str())];
                if let Some(state) = &request.state {
                    params.push(("state", state));
                }
                params.push(("iss", self.issuer()));
                OAuthResponse::redirect(&with_query(&request.redirect_uri, &params))
            }
            Err(error) => self.deny(request, OAuthError::unavailable(&error)),
        }
    }

    /// Refuses `request` with `error`: 302 to the redirect URI with `error`,
    /// `error_description`, `state` and `iss`.
    pub fn deny(&self, request: &AuthorizationRequest, error: OAuthError) -> OAuthResponse {
        self.error_redirect(&request.redirect_uri, request.state.as_deref(), &error)
    }

    fn error_redirect(&self, uri: &str, state: Option<&str>, error: &OAuthError) -> OAuthResponse {
        let mut params = vec![
            ("error", error.code.as_str()),
            ("error_description", &*error.description),
        ];
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", self.issuer()));
        OAuthResponse::redirect(&with_query(uri, &params))
    }

    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<String, StoreError> {
        use secrecy::ExposeSecret;
        let code = fresh("")?;
        let grant_id =
            random_base62(24).map_err(|e| StoreError::unavailable("random source failed", e))?;
        let record = CodeRecord {
            digest: TokenDigest::of(code.expose_secret()),
            grant_id: Arc::from(format!("gr_{grant_id}")),
            client_id: request.client.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            challenge: request.challenge.clone(),
            subject: Arc::from(owner.subject.as_str()),
            tenant: owner.tenant.as_deref().map(Arc::from),
            scopes: request.scopes.clone(),
            expires_at: self.now() + CODE_LIFETIME,
            used: false,
        };
        self.inner.store.insert_code(&record).await?;
        self.count_issued();
        Ok(code.expose_secret().to_owned())
    }
}
