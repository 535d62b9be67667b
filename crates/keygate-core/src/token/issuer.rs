use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::verified::{DEFAULT_TOKEN_CACHE_CAPACITY, VerifiedTokens};
use super::{CLIENT_TOKEN_PREFIX, Claims, TokenKind, VerifiedToken};
use crate::credentials::MAX_TOKEN_LEN;
use crate::error::AuthError;
use crate::jwt::cache::digest;
use crate::key::KeyId;
use crate::random;
use crate::scope::ScopeSet;
use crate::secret::Pepper;

/// The crypto keygate signs and verifies with. Named here rather than taken from
/// jsonwebtoken's process-wide default, which panics when another crate in the binary
/// enables jsonwebtoken's `aws_lc_rs` feature beside `rust_crypto`.
static PROVIDER: &CryptoProvider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;

/// The `typ` header of every keygate token.
pub(crate) const TYP: &str = "kg+jwt";
/// Issuer and audience of every keygate token.
pub(crate) const ISSUER: &str = "keygate";
/// How far in the future an `iat` may be (clock skew between instances).
const IAT_LEEWAY_SECS: i64 = 60;
/// The fixed PKCS#8 v1 header of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_HEADER: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The HS256 key material for issued tokens (at least 32 bytes). Instances that verify
/// each other's tokens share it. `Debug` prints nothing of it.
pub struct TokenSecret(SecretSlice<u8>);

impl TokenSecret {
    /// A secret from raw bytes; at least 32 of them.
    pub fn new(bytes: Vec<u8>) -> Result<Self, TokenKeyError> {
        if bytes.len() < 32 {
            return Err(TokenKeyError::SecretTooShort);
        }
        Ok(Self(SecretSlice::from(bytes)))
    }

    /// Derives a secret from the pepper (HMAC-SHA256 of a fixed label), so a deployment
    /// that set only a pepper still signs with a key of its own.
    pub fn derive(pepper: &Pepper) -> Self {
        let mut mac = pepper.keyed_mac();
        mac.update(b"keygate/token-secret/v1");
        Self(SecretSlice::from(mac.finalize().into_bytes().to_vec()))
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

/// The 32-byte seed of an Ed25519 signing key, from which
/// [`TokenIssuer::ed25519_seed`] rebuilds the key. Secret: zeroized on drop, and `Debug`
/// prints nothing of it.
///
/// ```
/// use keygate_core::token::{Ed25519Seed, TokenIssuer};
///
/// let seed = Ed25519Seed::generate()?;
/// let saved = seed.to_base64(); // keep it where the other instances can read it
/// let again = Ed25519Seed::from_base64(secrecy::ExposeSecret::expose_secret(&saved))?;
/// let (a, b) = (TokenIssuer::ed25519_seed(&seed)?, TokenIssuer::ed25519_seed(&again)?);
/// assert_eq!(a.kid(), b.kid());
/// assert_eq!(format!("{seed:?}"), "Ed25519Seed(..)");
/// // Exactly 32 bytes, no more, no less.
/// assert!(Ed25519Seed::from_bytes(&[7; 32]).is_ok());
/// assert!(Ed25519Seed::from_bytes(&[7; 31]).is_err());
/// assert!(Ed25519Seed::from_bytes(&[7; 33]).is_err());
/// # Ok::<(), keygate_core::token::TokenKeyError>(())
/// ```
pub struct Ed25519Seed(SecretBox<[u8; 32]>);

impl Ed25519Seed {
    /// 32 fresh bytes from the OS random source.
    pub fn generate() -> Result<Self, TokenKeyError> {
        let mut seed = Box::new([0u8; 32]);
        random::fill(&mut seed[..])?;
        Ok(Self(SecretBox::new(seed)))
    }

    /// A seed from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenKeyError> {
        // Straight into the heap box the secret lives in: no copy left on the stack.
        let mut seed = Box::new([0u8; 32]);
        if bytes.len() != seed.len() {
            return Err(TokenKeyError::Ed25519Key);
        }
        seed.copy_from_slice(bytes);
        Ok(Self(SecretBox::new(seed)))
    }

    /// A seed from its URL-safe base64 text (as [`to_base64`](Self::to_base64) writes it).
    pub fn from_base64(text: &str) -> Result<Self, TokenKeyError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| TokenKeyError::Ed25519Key)?;
        let seed = Self::from_bytes(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        seed
    }

    /// The seed as URL-safe base64 without padding, to store.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(self.0.expose_secret()))
    }
}

impl fmt::Debug for Ed25519Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Seed(..)")
    }
}

/// Why token key material was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenKeyError {
    /// An HS256 secret shorter than 32 bytes.
    #[error("a token secret is at least 32 bytes; generate one with `openssl rand -base64 32`")]
    SecretTooShort,
    /// The PEM is not an Ed25519 private key in PKCS#8 v1.
    #[error("expected an Ed25519 private key as PKCS#8 PEM (`openssl genpkey -algorithm ed25519`)")]
    Ed25519Key,
    /// The OS random source failed.
    #[error(transparent)]
    Random(#[from] random::RandomError),
    /// The token could not be signed.
    #[error("the token could not be signed")]
    Signing,
}

/// Signs keygate's tokens and verifies them.
///
/// HS256 (the default) costs a few microseconds per verification and suits tokens that
/// only keygate instances verify. EdDSA costs more but lets others verify with the public
/// keys of [`jwks`](Self::jwks). Every token names its key by `kid`; during a rotation,
/// [`with_previous`](Self::with_previous) keeps accepting tokens of the old key.
///
/// ```
/// use keygate_core::token::{TokenIssuer, TokenSecret};
///
/// let old = TokenIssuer::hs256(&TokenSecret::new(vec![1; 32])?);
/// let new = TokenIssuer::ed25519_generate()?.with_previous(&old);
/// assert_eq!(new.jwks().keys.len(), 1); // only public keys are published
/// assert_ne!(new.kid(), old.kid());
/// # Ok::<(), keygate_core::token::TokenKeyError>(())
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    /// The key tokens are signed with, and how to verify them.
    signing: EncodingKey,
    own: Verifying,
    /// Keys of earlier issuers whose tokens are still accepted (a rotation).
    previous: Vec<Verifying>,
    /// The public keys of `own` and `previous`.
    jwks: JwkSet,
    /// Tokens these keys verified, until they expire. A new set of keys (another
    /// `Inner`) starts with an empty cache.
    pub(super) verified: VerifiedTokens,
}

impl Inner {
    fn new(
        signing: EncodingKey,
        own: Verifying,
        previous: Vec<Verifying>,
        cache_capacity: usize,
    ) -> Self {
        let mut inner = Self {
            signing,
            own,
            previous,
            jwks: JwkSet { keys: Vec::new() },
            verified: VerifiedTokens::new(cache_capacity),
        };
        inner.jwks.keys = inner.keys().filter_map(|k| k.public.clone()).collect();
        inner
    }

    /// Every key that verifies, the signing key's first.
    fn keys(&self) -> impl Iterator<Item = &Verifying> {
        std::iter::once(&self.own).chain(&self.previous)
    }
}

#[derive(Clone)]
struct Verifying {
    kid: String,
    /// The exact first segment of every token this key signs: keygate writes its own
    /// headers, so a token is matched to its key by this segment, without parsing it.
    header_segment: String,
    alg: Algorithm,
    key: DecodingKey,
    public: Option<Jwk>,
}

impl TokenIssuer {
    /// Signs and verifies with HS256 under `secret`.
    pub fn hs256(secret: &TokenSecret) -> Self {
        let bytes = secret.0.expose_secret();
        let mut mac = crate::secret::keyed_mac(bytes);
        mac.update(b"keygate/kid/v1");
        let tag = mac.finalize().into_bytes();
        let kid: String = tag.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let kid = format!("hs-{kid}");
        Self::assemble(
            kid,
            Algorithm::HS256,
            EncodingKey::from_secret(bytes),
            DecodingKey::from_secret(bytes),
            None,
        )
    }

    /// Signs with EdDSA (Ed25519) under a PKCS#8 PEM private key, as
    /// `openssl genpkey -algorithm ed25519` writes it.
    pub fn ed25519_pem(pem: &[u8]) -> Result<Self, TokenKeyError> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|_| TokenKeyError::Ed25519Key)?;
        Self::ed25519(key)
    }

    /// Signs with a fresh Ed25519 key from the OS random source.
    pub fn ed25519_generate() -> Result<Self, TokenKeyError> {
        Self::ed25519_seed(&Ed25519Seed::generate()?)
    }

    /// Signs with the Ed25519 key grown from `seed`: instances that share the seed (kept
    /// in a secret manager, or in a shared database) sign and verify alike.
    pub fn ed25519_seed(seed: &Ed25519Seed) -> Result<Self, TokenKeyError> {
        let mut der = [0u8; 48];
        der[..16].copy_from_slice(&ED25519_PKCS8_HEADER);
        der[16..].copy_from_slice(seed.0.expose_secret());
        let issuer = Self::ed25519(EncodingKey::from_ed_der(&der));
        zeroize::Zeroize::zeroize(&mut der);
        issuer
    }

    fn ed25519(signing: EncodingKey) -> Result<Self, TokenKeyError> {
        // A PKCS#8 v1 Ed25519 key is 48 bytes: the fixed header and the seed.
        if signing.as_bytes().len() != 48 {
            return Err(TokenKeyError::Ed25519Key);
        }
        let x = (PROVIDER.key_utils.ed_pub_components_from_private_key)(
            signing.as_bytes(),
            &EllipticCurve::Ed25519,
        )
        .map_err(|_| TokenKeyError::Ed25519Key)?;
        let x = URL_SAFE_NO_PAD.encode(x);
        // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
        let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()));
        let public = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: x.clone(),
            }),
        };
        let key = DecodingKey::from_ed_components(&x).map_err(|_| TokenKeyError::Ed25519Key)?;
        Ok(Self::assemble(
            kid,
            Algorithm::EdDSA,
            signing,
            key,
            Some(public),
        ))
    }

    fn assemble(
        kid: String,
        alg: Algorithm,
        signing: EncodingKey,
        key: DecodingKey,
        public: Option<Jwk>,
    ) -> Self {
        let mut header = Header::new(alg);
        header.kid = Some(kid.clone());
        header.typ = Some(TYP.to_owned());
        // Exactly what `jsonwebtoken::encode` writes as the first segment.
        let header_segment =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let own = Verifying {
            kid,
            header_segment,
            alg,
            key,
            public,
        };
        Self {
            inner: Arc::new(Inner::new(
                signing,
                own,
                Vec::new(),
                DEFAULT_TOKEN_CACHE_CAPACITY,
            )),
        }
    }

    /// Also accepts tokens signed by `previous`'s keys (during a key rotation); signs
    /// only with this issuer's key.
    pub fn with_previous(self, previous: &TokenIssuer) -> Self {
        let mut accepted = self.inner.previous.clone();
        for key in previous.inner.keys() {
            if !self.inner.keys().chain(&accepted).any(|k| k.kid == key.kid) {
                accepted.push(key.clone());
            }
        }
        self.rebuilt(accepted, self.inner.verified.capacity())
    }

    /// How many verified tokens to remember until they expire (default
    /// [`DEFAULT_TOKEN_CACHE_CAPACITY`]); 0 turns the cache off, so every request checks
    /// its token's signature and decodes its claims.
    ///
    /// A hit is the very token verified before (found by a keyed fast hash, confirmed by a
    /// constant-time compare of the stored text), and is still checked against the
    /// request's clock. Whether a one-time token was used and whether its minting key was
    /// revoked are never cached: the engine asks the meter and the key store on every
    /// request. An entry holds the token (at most 4 KiB) and its claims (metadata up to
    /// 4 KiB), typically under 1 KiB.
    ///
    /// ```
    /// use keygate_core::token::{TokenIssuer, TokenSecret};
    ///
    /// let issuer = TokenIssuer::hs256(&TokenSecret::new(vec![1; 32])?).cache_capacity(0);
    /// # let _ = issuer;
    /// # Ok::<(), keygate_core::token::TokenKeyError>(())
    /// ```
    pub fn cache_capacity(self, capacity: usize) -> Self {
        let previous = self.inner.previous.clone();
        self.rebuilt(previous, capacity)
    }

    /// The same signing key with these accepted keys and an empty cache of `capacity`.
    fn rebuilt(&self, previous: Vec<Verifying>, capacity: usize) -> Self {
        let (signing, own) = (self.inner.signing.clone(), self.inner.own.clone());
        Self {
            inner: Arc::new(Inner::new(signing, own, previous, capacity)),
        }
    }

    #[cfg(test)]
    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The `kid` of the signing key.
    pub fn kid(&self) -> &str {
        &self.inner.own.kid
    }

    /// The public keys (EdDSA only) that verify this issuer's tokens, for a
    /// `/.well-known/jwks.json`. Empty for HS256.
    pub fn jwks(&self) -> &JwkSet {
        &self.inner.jwks
    }

    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, TokenKeyError> {
        let own = &self.inner.own;
        let payload = serde_json::to_vec(claims).map_err(|_| TokenKeyError::Signing)?;
        let prefix = match claims.kgt {
            TokenKind::Client => CLIENT_TOKEN_PREFIX,
            _ => "",
        };
        let mut token = format!("{prefix}{}.", own.header_segment);
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signer = (PROVIDER.signer_factory)(&own.alg, &self.inner.signing)
            .map_err(|_| TokenKeyError::Signing)?;
        let signed = token.get(prefix.len()..).ok_or(TokenKeyError::Signing)?;
        let signature = signer
            .try_sign(signed.as_bytes())
            .map_err(|_| TokenKeyError::Signing)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Whether `token` (without any `ek_` prefix) carries the header of one of this
    /// issuer's keys: it is meant for [`verify`](Self::verify), not for a user-JWT
    /// verifier. Says nothing of its validity.
    pub fn recognizes(&self, token: &str) -> bool {
        token
            .split_once('.')
            .is_some_and(|(header, _)| self.key_for(header).is_some())
    }

    fn key_for(&self, header_segment: &str) -> Option<&Verifying> {
        self.inner
            .keys()
            .find(|key| key.header_segment == header_segment)
    }

    /// Verifies `token` as presented (with its `ek_` prefix for client tokens) at `now`:
    /// signature, `typ`, issuer, audience, kind against prefix, and expiry.
    ///
    /// Errors: [`AuthError::TokenExpired`] past `exp`, [`AuthError::InvalidToken`] for
    /// anything else. Whether a one-time token was already used is the meter's to say.
    ///
    /// A token verified before and still cached costs a hash, a look-up and a compare;
    /// see [`cache_capacity`](Self::cache_capacity).
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<VerifiedToken, AuthError> {
        let (jws, client) = match token.strip_prefix(CLIENT_TOKEN_PREFIX) {
            Some(rest) => (rest, true),
            None => (token, false),
        };
        // Bounded before it is hashed; `split` would refuse it anyway.
        if jws.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidToken);
        }
        let digest = digest(token);
        if let Some(cached) = self.inner.verified.lookup(&digest, token, now) {
            return cached;
        }
        let verified = self.verify_uncached(jws, client, now)?;
        self.inner.verified.insert(digest, token, &verified);
        Ok(verified)
    }

    /// The whole check of [`verify`](Self::verify), without the cache.
    fn verify_uncached(
        &self,
        jws: &str,
        client: bool,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, AuthError> {
        // The same shape rules as user JWTs: at most MAX_TOKEN_LEN bytes, three non-empty
        // base64url segments.
        let crate::jwt::compact::Compact {
            header,
            payload,
            signature,
            signed,
        } = crate::jwt::compact::split(jws)?;
        // The header must be byte for byte one this issuer writes: that fixes `typ`,
        // `kid` and `alg` together, so no algorithm can be swapped in.
        let key = self.key_for(header).ok_or(AuthError::InvalidToken)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AuthError::InvalidToken)?;
        let verifier =
            (PROVIDER.verifier_factory)(&key.alg, &key.key).map_err(|_| AuthError::InvalidToken)?;
        if verifier.verify(signed.as_bytes(), &signature).is_err() {
            return Err(AuthError::InvalidToken);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::InvalidToken)?;
        let claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| AuthError::InvalidToken)?;
        if claims.iss != ISSUER
            || claims.aud != ISSUER
            || client != (claims.kgt == TokenKind::Client)
        {
            return Err(AuthError::InvalidToken);
        }
        let issued_at =
            OffsetDateTime::from_unix_timestamp(claims.iat).map_err(|_| AuthError::InvalidToken)?;
        let expires_at =
            OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| AuthError::InvalidToken)?;
        check_lifetime(issued_at, expires_at, now)?;
        let scopes =
            ScopeSet::from_space_separated(&claims.scope).map_err(|_| AuthError::InvalidToken)?;
        Ok(VerifiedToken {
            id: claims.jti,
            kind: claims.kgt,
            scopes,
            tenant: claims.ten.map(Arc::from),
            key_id: claims.sub.map(KeyId::new),
            environment: claims.env,
            user_reference: claims.uref.map(Arc::from),
            catalogue_id: claims.cat.map(Arc::from),
            metadata: if claims.meta.is_empty() {
                crate::key::empty_metadata()
            } else {
                Arc::new(claims.meta)
            },
            issued_at,
            expires_at,
        })
    }
}

/// Whether a token issued at `issued_at` and expiring at `expires_at` is valid at `now`:
/// not issued in the future (beyond the clock skew allowed between instances), and not
/// expired. Checked on every verification, cached or not.
pub(super) fn check_lifetime(
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    if issued_at.unix_timestamp() > now.unix_timestamp() + IAT_LEEWAY_SECS || expires_at < issued_at
    {
        return Err(AuthError::InvalidToken);
    }
    if now >= expires_at {
        return Err(AuthError::TokenExpired);
    }
    Ok(())
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.inner.own.kid)
            .field("alg", &self.inner.own.alg)
            .field(
                "verifies",
                &self.inner.keys().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("cached_tokens", &self.inner.verified.len())
            .finish()
    }
}
