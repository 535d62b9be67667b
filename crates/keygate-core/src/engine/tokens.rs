//! Minting issued tokens, never broader or longer-lived than what mints them.

use super::Keygate;
use crate::access::{AuthMethod, Methods};
use crate::credentials::is_valid_id;
use crate::error::AuthError;
use crate::key::KeyKind;
use crate::principal::Principal;
use crate::random::random_base62;
use crate::scope::{Scope, ScopeSet};
use crate::token::{Claims, IssuedToken, TokenKind, TokenRequest};
use secrecy::SecretString;

/// The scope a token needs to mint further tokens.
pub const TOKEN_CREATE_SCOPE: &str = "token:create";

impl Keygate {
    /// Mints a token for `minter` (the principal of the minting request).
    ///
    /// - The platform secret, an `sk_` key (in `x-client-secret` or as an API key) and,
    ///   for one-time and session tokens, a token with `token:create` may mint.
    /// - The new token carries the minter's tenant, environment and key; its scopes must
    ///   be within the minter's (403 `insufficient_scope` otherwise), and it expires no
    ///   later than the minting token or key (its lifetime is cut to fit).
    /// - A minting token's user reference and catalogue carry over and cannot be changed;
    ///   a one-time token mints one-time tokens only.
    /// - A caller acting under `X-On-Behalf-Of` may not mint (403
    ///   `impersonation_forbidden`), nor a key with an owner (403 `credential_not_accepted`).
    ///
    /// ```
    /// use keygate_core::token::{TokenKind, TokenRequest};
    /// use keygate_core::{Access, Keygate, Pepper, PlatformSecret, ScopeSet};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let secret = PlatformSecret::generate()?;
    /// # let keygate = Keygate::builder().pepper(Pepper::generate()?).platform_secret(&secret).build()?;
    /// # let request = http::Request::builder().header("x-client-secret", secret.expose()).body(())?;
    /// let minter = keygate.authenticate(&request, &Access::admin()).await?.into_principal();
    /// let token = keygate.issue_token(&minter, TokenRequest {
    ///     scopes: Some(ScopeSet::parse(["magic-background:create"])?),
    ///     ..TokenRequest::new(TokenKind::OneTime)
    /// })?;
    /// assert_eq!(token.expires_in(), 300);
    /// # Ok(())
    /// # }
    /// ```
    pub fn issue_token(
        &self,
        minter: &Principal,
        request: TokenRequest,
    ) -> Result<IssuedToken, AuthError> {
        if minter.is_impersonating() {
            return Err(AuthError::ImpersonationForbidden);
        }
        // A key with an owner acts for its owner only: it mints nothing.
        if minter.is_owned() {
            return Err(AuthError::CredentialNotAccepted {
                accepted: if request.kind == TokenKind::Client {
                    Methods::from([AuthMethod::SecretKey, AuthMethod::ApiKey])
                } else {
                    minting_methods()
                },
            });
        }
        let may_mint = match minter.method {
            AuthMethod::SecretKey => true,
            AuthMethod::ApiKey => minter.key_kind == Some(KeyKind::Secret),
            AuthMethod::Token => request.kind != TokenKind::Client,
            _ => false,
        };
        if !may_mint {
            let accepted = if request.kind == TokenKind::Client {
                Methods::from([AuthMethod::SecretKey, AuthMethod::ApiKey])
            } else {
                minting_methods()
            };
            return Err(AuthError::CredentialNotAccepted { accepted });
        }
        if minter.method == AuthMethod::Token {
            let needed = Scope::trusted(TOKEN_CREATE_SCOPE);
            if !minter.allows(&needed) {
                return Err(AuthError::InsufficientScope { required: needed });
            }
            // A single-use credential must not become a reusable one.
            if minter.token_kind == Some(TokenKind::OneTime) && request.kind != TokenKind::OneTime {
                return Err(AuthError::invalid_request(
                    "type: a one-time token mints one-time tokens only",
                ));
            }
        }

        let scopes = request.scopes.unwrap_or_else(|| minter.scopes.clone());
        if scopes.is_empty() {
            return Err(AuthError::invalid_request(
                "scopes: a token needs at least one scope",
            ));
        }
        if let Some(wider) = first_uncovered(minter, &scopes) {
            return Err(AuthError::InsufficientScope {
                required: wider.clone(),
            });
        }

        let (default, shortest, longest) = request.kind.lifetimes();
        let lifetime = request.lifetime.unwrap_or(default);
        if lifetime < shortest || lifetime > longest {
            return Err(AuthError::invalid_request(format!(
                "lifetime: {} to {} seconds for this kind of token",
                shortest.whole_seconds(),
                longest.whole_seconds()
            )));
        }
        // Tokens carry whole seconds; so does everything reported about them.
        let now = whole_second(self.inner.clock.now());
        // Never outlive what mints: a token, or a key with an expiry or rotation grace.
        let expires_at = minter.expires_at.map_or(now + lifetime, |limit| {
            (now + lifetime).min(whole_second(limit))
        });
        if expires_at <= now {
            return Err(AuthError::invalid_request(
                "the minting credential expires within the second; mint with a fresher one",
            ));
        }

        let user_reference = inherit(
            "userReference",
            minter.user_reference.as_deref(),
            request.user_reference,
        )?;
        let catalogue_id = inherit(
            "catalogueId",
            minter.catalogue_id.as_deref(),
            request.catalogue_id,
        )?;
        super::keys::check_metadata(&request.metadata)
            .map_err(|e| AuthError::invalid_request(e.to_string()))?;

        let id = random_base62(22).map_err(|_| {
            AuthError::AuthUnavailable(crate::store::StoreError::corrupt(
                "the OS random source failed",
            ))
        })?;
        let claims = Claims {
            iss: "keygate".to_owned(),
            aud: "keygate".to_owned(),
            jti: id.clone(),
            kgt: request.kind,
            scope: scopes.to_space_separated(),
            sub: minter.key_id.as_ref().map(|k| k.as_str().to_owned()),
            ten: minter.tenant.as_deref().map(str::to_owned),
            env: minter.environment,
            uref: user_reference,
            cat: catalogue_id,
            meta: request.metadata,
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
        };
        let token = self.inner.issuer.sign(&claims).map_err(|_| {
            AuthError::AuthUnavailable(crate::store::StoreError::corrupt(
                "the token could not be signed",
            ))
        })?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            id,
            kind: request.kind,
            scopes,
            issued_at: now,
            expires_at,
        })
    }
}

/// A minting token's context carries over; a different value is refused.
fn inherit(
    field: &'static str,
    from_minter: Option<&str>,
    requested: Option<String>,
) -> Result<Option<String>, AuthError> {
    if let Some(value) = &requested
        && !is_valid_id(value)
    {
        return Err(AuthError::invalid_request(format!(
            "{field}: 1 to 128 of A-Z a-z 0-9 . _ : @ -"
        )));
    }
    match (from_minter, requested) {
        (Some(minter), Some(requested)) if minter != requested => Err(AuthError::invalid_request(
            format!("{field}: must match the minting token's"),
        )),
        (Some(minter), _) => Ok(Some(minter.to_owned())),
        (None, requested) => Ok(requested),
    }
}

/// The methods that may mint tokens (used in errors).
fn minting_methods() -> Methods {
    Methods::from([AuthMethod::SecretKey, AuthMethod::ApiKey, AuthMethod::Token])
}

/// Whether `scopes` is within what `principal` holds; the first scope that is not.
fn first_uncovered<'a>(principal: &Principal, scopes: &'a ScopeSet) -> Option<&'a Scope> {
    scopes.iter().find(|scope| !principal.allows(scope))
}

/// `at` without its fraction of a second: tokens carry whole seconds.
fn whole_second(at: time::OffsetDateTime) -> time::OffsetDateTime {
    at - time::Duration::nanoseconds(i64::from(at.nanosecond()))
}
