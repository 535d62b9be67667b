//! The revocation endpoint (RFC 7009): a client revokes one of its own tokens, and with
//! it the whole grant (RFC 7009 §2.1: revoking a refresh token ends the access tokens of
//! its grant; revoking an access token here ends the grant's refresh tokens too).

use keygate_core::oauth::ACCESS_TOKEN_PREFIX;

use crate::endpoint::client_auth::EndpointRequest;
use crate::endpoint::token::{REFRESH_TOKEN_PREFIX, form};
use crate::error::OAuthError;
use crate::response::OAuthResponse;
use crate::secret::TokenDigest;
use crate::server::AuthorizationServer;

impl AuthorizationServer {
    /// `POST /oauth/revoke`: 200 for any token the client sent, its own or not, known or
    /// not (RFC 7009 §2.2); errors per RFC 6749 §5.2.
    pub async fn revoke(&self, request: EndpointRequest<'_>) -> OAuthResponse {
        match self.revoke_inner(&request).await {
            Ok(()) => OAuthResponse::empty_ok(),
            Err(error) => OAuthResponse::error(&error),
        }
    }

    async fn revoke_inner(&self, request: &EndpointRequest<'_>) -> Result<(), OAuthError> {
        let params = form(request)?;
        let token = params
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let client = self.authenticate_client(request, &params).await?;
        let digest = TokenDigest::of(token);
        // The prefix says what it is; `token_type_hint` is only a hint (§2.1).
        let found = if token.starts_with(ACCESS_TOKEN_PREFIX) {
            self.inner.store.access_token(&digest).await?
        } else if token.starts_with(REFRESH_TOKEN_PREFIX) {
            self.inner.store.refresh_token(&digest).await?
        } else {
            None
        };
        if let Some((_, grant)) = found
            && grant.client_id == client.id
        {
            self.revoke_grant(&grant.id).await?;
        }
        Ok(())
    }
}
