//! Step 2, continued: what the presented credentials are, by syntax alone. Nothing here
//! touches a store or checks a signature; [`classify`] only decides which verifier each
//! value goes to, and refuses what no verifier could accept.

use crate::access::AuthMethod;
use crate::error::AuthError;
use crate::key::{KeyFormatError, KeyKind, ParsedKey};
use crate::oauth::ACCESS_TOKEN_PREFIX;
use crate::token::{CLIENT_TOKEN_PREFIX, TokenIssuer};

/// What `x-client-secret` carried, by syntax.
pub(crate) enum SecretCredential<'a> {
    Platform(&'a str),
    TenantKey(ParsedKey<'a>),
}

/// What `Authorization` and `X-API-Key` carried, by syntax.
pub(crate) enum Presented<'a> {
    ApiKey(ParsedKey<'a>),
    Token(&'a str),
    ClientToken(&'a str),
    OAuthAccess(&'a str),
    UserJwt(&'a str),
    PublishableWithJwt { key: ParsedKey<'a>, jwt: &'a str },
}

impl Presented<'_> {
    /// Whether this is a key of another kind than secret, by its prefix (nothing is
    /// verified yet). Tokens and JWTs are not keys: the route's methods decide on them.
    pub(crate) fn is_non_secret_key(&self) -> bool {
        match self {
            Self::ApiKey(key) => key.kind() != KeyKind::Secret,
            Self::PublishableWithJwt { .. } => true,
            Self::Token(_) | Self::ClientToken(_) | Self::OAuthAccess(_) | Self::UserJwt(_) => {
                false
            }
        }
    }

    pub(crate) fn method(&self) -> AuthMethod {
        match self {
            Self::ApiKey(_) => AuthMethod::ApiKey,
            Self::Token(_) => AuthMethod::Token,
            Self::ClientToken(_) => AuthMethod::ClientToken,
            Self::OAuthAccess(_) => AuthMethod::OAuth,
            Self::UserJwt(_) => AuthMethod::Jwt,
            Self::PublishableWithJwt { .. } => AuthMethod::PublishableKeyJwt,
        }
    }
}

/// `x-client-secret` holds the platform secret or a tenant's `sk_` key. A well-formed
/// `pk_` or `rk_` key there is refused as not a secret, unverified; anything else is
/// taken for the platform secret (which is never shaped like those keys).
pub(crate) fn classify_secret(text: &str) -> Result<SecretCredential<'_>, AuthError> {
    if text.starts_with("sk_") {
        return ParsedKey::parse(text)
            .map(SecretCredential::TenantKey)
            .map_err(|_| AuthError::InvalidSecretKey);
    }
    // Only text starting like those keys is parsed: the platform secret never does, so
    // the admin check does no more work than it did.
    let key_shaped = text.starts_with("pk_") || text.starts_with("rk_");
    if key_shaped && ParsedKey::parse(text).is_ok() {
        return Err(AuthError::SecretKeyRequired);
    }
    Ok(SecretCredential::Platform(text))
}

/// What `Authorization` and `X-API-Key` carried together: one credential, a publishable
/// key paired with a user JWT, or a refusal.
pub(crate) fn classify<'a>(
    issuer: &TokenIssuer,
    bearer: Option<&'a str>,
    api_key: Option<&'a str>,
) -> Result<Option<Presented<'a>>, AuthError> {
    Ok(match (bearer, api_key) {
        (None, None) => None,
        (Some(bearer), None) => Some(classify_bearer(issuer, bearer)?),
        (None, Some(key)) => Some(classify_api_key(key)?),
        // One value in both headers is one credential; the bearer rules read it whole.
        (Some(bearer), Some(key)) if bearer == key => Some(classify_bearer(issuer, bearer)?),
        (Some(bearer), Some(key)) => {
            match (classify_bearer(issuer, bearer)?, classify_api_key(key)?) {
                (Presented::UserJwt(jwt), Presented::ApiKey(key))
                    if key.kind() == KeyKind::Publishable =>
                {
                    Some(Presented::PublishableWithJwt { key, jwt })
                }
                _ => {
                    return Err(AuthError::invalid_request(
                        "present one credential in Authorization or X-API-Key, or a publishable \
                     key in X-API-Key with a user token in Authorization",
                    ));
                }
            }
        }
    })
}

fn classify_bearer<'a>(issuer: &TokenIssuer, text: &'a str) -> Result<Presented<'a>, AuthError> {
    if text.starts_with(CLIENT_TOKEN_PREFIX) {
        Ok(Presented::ClientToken(text))
    } else if text.starts_with(ACCESS_TOKEN_PREFIX) {
        Ok(Presented::OAuthAccess(text))
    } else if text.contains('.') {
        Ok(if issuer.recognizes(text) {
            Presented::Token(text)
        } else {
            Presented::UserJwt(text)
        })
    } else {
        // The HTTP contract: a bearer value that is not a well-formed key, token or JWT is
        // `invalid_token`. Only a value shaped like a key whose checksum fails is
        // answered as a key: it was one, mistyped.
        ParsedKey::parse(text)
            .map(Presented::ApiKey)
            .map_err(|error| match error {
                KeyFormatError::Checksum => AuthError::InvalidApiKey,
                _ => AuthError::InvalidToken,
            })
    }
}

fn classify_api_key(text: &str) -> Result<Presented<'_>, AuthError> {
    if text.starts_with(CLIENT_TOKEN_PREFIX) {
        Ok(Presented::ClientToken(text))
    } else {
        ParsedKey::parse(text)
            .map(Presented::ApiKey)
            .map_err(|_| AuthError::InvalidApiKey)
    }
}
