//! The token endpoint (RFC 6749 §4.1.3, §6; RFC 7636 §4.6; RFC 9700 §4.14): codes for
//! tokens, refresh tokens for new ones, rotated on every use.

use std::sync::Arc;

use http::StatusCode;
use keygate_core::ScopeSet;
use keygate_core::oauth::ACCESS_TOKEN_PREFIX;
use secrecy::{ExposeSecret, SecretString};

use crate::client::ClientRecord;
use crate::client::redirect::redirect_uri_matches;
use crate::endpoint::client_auth::EndpointRequest;
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::pkce;
use crate::response::OAuthResponse;
use crate::secret::TokenDigest;
use crate::server::{ACCESS_TOKEN_LIFETIME, AuthorizationServer, REFRESH_TOKEN_LIFETIME, fresh};
use crate::store::{GrantRecord, IssuedPair, TokenRecord};

/// How refresh tokens start.
pub const REFRESH_TOKEN_PREFIX: &str = "ort_";

/// Parses an endpoint's form body: `Content-Type: application/x-www-form-urlencoded`,
/// each parameter at most once.
pub(crate) fn form(request: &EndpointRequest<'_>) -> Result<Params, OAuthError> {
    let form_type = request.content_type.is_some_and(|value| {
        let media = value.split(|&b| b == b';').next().unwrap_or_default();
        media
            .trim_ascii()
            .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
    });
    if !form_type {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    Params::parse(request.body).map_err(|error| OAuthError::invalid_request(error.to_string()))
}

/// What one grant issues, before it is stored.
struct Minted {
    access: SecretString,
    refresh: SecretString,
    pair: IssuedPair,
    scopes: ScopeSet,
}

impl AuthorizationServer {
    /// `POST /oauth/token`: the answer, success or RFC 6749 §5.2 error, always with
    /// `Cache-Control: no-store`.
    pub async fn token(&self, request: EndpointRequest<'_>) -> OAuthResponse {
        match self.token_inner(&request).await {
            Ok(response) => response,
            Err(error) => OAuthResponse::error(&error),
        }
    }

    async fn token_inner(
        &self,
        request: &EndpointRequest<'_>,
    ) -> Result<OAuthResponse, OAuthError> {
        let params = form(request)?;
        // Cheap checks before the client's secret is verified.
        let grant_type = params
            .get("grant_type")
            .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
        let required: &[&str] = match grant_type {
            "authorization_code" => &["code", "code_verifier"],
            "refresh_token" => &["refresh_token"],
            _ => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code or refresh_token",
                ));
            }
        };
        if let Some(missing) = required.iter().find(|name| !params.contains(name)) {
            return Err(OAuthError::invalid_request(format!(
                "{missing} is required for this grant_type"
            )));
        }
        let client = self.authenticate_client(request, &params).await?;
        let minted = match grant_type {
            "authorization_code" => self.exchange_code(&client, &params).await?,
            _ => self.refresh(&client, &params).await?,
        };
        Ok(OAuthResponse::json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": minted.access.expose_secret(),
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_LIFETIME.whole_seconds(),
                "refresh_token": minted.refresh.expose_secret(),
                "scope": minted.scopes.to_space_separated(),
            }),
        ))
    }

    fn mint(&self, grant_id: &Arc<str>, scopes: ScopeSet) -> Result<Minted, OAuthError> {
        let now = self.now();
        let access = fresh(ACCESS_TOKEN_PREFIX)?;
        let refresh = fresh(REFRESH_TOKEN_PREFIX)?;
        let record = |text: &SecretString, life| TokenRecord {
            digest: TokenDigest::of(text.expose_secret()),
            grant_id: grant_id.clone(),
            scopes: scopes.clone(),
            expires_at: now + life,
            used: false,
        };
        let pair = IssuedPair {
            access: record(&access, ACCESS_TOKEN_LIFETIME),
            refresh: record(&refresh, REFRESH_TOKEN_LIFETIME),
        };
        self.count_issued();
        Ok(Minted {
            access,
            refresh,
            pair,
            scopes,
        })
    }

    async fn exchange_code(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Minted, OAuthError> {
        let invalid = || OAuthError::invalid_grant("the code is invalid, expired or already used");
        let code_text = params.get("code").unwrap_or_default();
        let verifier = params.get("code_verifier").unwrap_or_default();
        let digest = TokenDigest::of(code_text);
        let code = self.inner.store.code(&digest).await?.ok_or_else(invalid)?;
        if code.client_id != client.id {
            return Err(invalid());
        }
        let redirect_ok = match params.get("redirect_uri") {
            Some(given) => redirect_uri_matches(&code.redirect_uri, given),
            None => !code.redirect_uri_given,
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri must be the one the authorization request used",
            ));
        }
        // A wrong verifier proves nothing about who holds the code: it revokes nothing.
        if !pkce::verifies(&code.challenge, verifier) {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if code.used {
            return Err(self.replayed(&code.grant_id).await);
        }
        let now = self.now();
        if now >= code.expires_at {
            return Err(invalid());
        }
        let grant = GrantRecord {
            id: code.grant_id.clone(),
            client_id: client.id.clone(),
            subject: code.subject.clone(),
            tenant: code.tenant.clone(),
            scopes: code.scopes.clone(),
            created_at: now,
            revoked_at: None,
        };
        let minted = self.mint(&grant.id, code.scopes.clone())?;
        if !self
            .inner
            .store
            .redeem_code(&digest, &grant, &minted.pair)
            .await?
        {
            // Another request redeemed it first.
            return Err(self.replayed(&code.grant_id).await);
        }
        Ok(minted)
    }

    /// A code presented again with its right verifier: someone else has it. Every token
    /// it produced is revoked (RFC 6749 §4.1.2, RFC 9700 §4.2.4).
    async fn replayed(&self, grant_id: &str) -> OAuthError {
        if let Err(error) = self.revoke_grant(grant_id).await {
            return OAuthError::unavailable(&error);
        }
        tracing::warn!(
            grant = grant_id,
            "an authorization code was replayed; its grant is revoked"
        );
        OAuthError::invalid_grant("the code was already used; the tokens it issued are revoked")
    }

    async fn refresh(&self, client: &ClientRecord, params: &Params) -> Result<Minted, OAuthError> {
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let text = params.get("refresh_token").unwrap_or_default();
        let digest = TokenDigest::of(text);
        let (token, grant) = self
            .inner
            .store
            .refresh_token(&digest)
            .await?
            .ok_or_else(invalid)?;
        if grant.client_id != client.id || grant.revoked_at.is_some() {
            return Err(invalid());
        }
        if token.used {
            // A rotated token used again: it leaked, or its holder did. End the family.
            self.revoke_grant(&grant.id).await?;
            tracing::warn!(
                grant = &*grant.id,
                "a rotated refresh token was reused; its grant is revoked"
            );
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of its grant is revoked",
            ));
        }
        if self.now() >= token.expires_at {
            return Err(invalid());
        }
        let scopes = match params.get("scope") {
            None => token.scopes.clone(),
            Some(text) => {
                let asked = ScopeSet::from_space_separated(text).map_err(|_| {
                    OAuthError::invalid_scope("scope is not a valid list of scopes")
                })?;
                if asked.is_empty() || !grant.scopes.covers(&asked) {
                    return Err(OAuthError::invalid_scope(
                        "a refresh cannot widen the scope the user granted",
                    ));
                }
                asked
            }
        };
        let minted = self.mint(&grant.id, scopes)?;
        if !self
            .inner
            .store
            .rotate_refresh_token(&digest, &minted.pair)
            .await?
        {
            // Raced by another use of the same token, or revoked meanwhile.
            self.revoke_grant(&grant.id).await?;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of its grant is revoked",
            ));
        }
        Ok(minted)
    }
}
