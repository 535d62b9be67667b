//! A test identity provider: it signs user JWTs the way an issuer such as Firebase does
//! (compact JWS with a `kid`, `iss`, `aud`, `sub`, `iat`, `exp`), with a test Ed25519 key,
//! and gives the platform a [`JwtVerifier`] that trusts its public key.
//!
//! The key is a fixed test key: it signs tokens for these scenarios and nothing else.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keygate_core::jwt::JwtVerifier;
use keygate_core::{Clock, ManualClock};
use serde_json::{Value, json};

/// The issuer the platform trusts in these scenarios.
pub const ISSUER: &str = "https://issuer.keygate.test";
/// The audience of its tokens.
pub const AUDIENCE: &str = "keygate-platform";
/// The `kid` of its key.
pub const KID: &str = "test-key-1";

/// PKCS#8 v1 header of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Signs user JWTs at the time of the platform's manual clock.
#[derive(Clone)]
pub struct Users {
    signing: EncodingKey,
    clock: ManualClock,
}

impl Users {
    /// The provider with the test key `seed`, on `clock`.
    pub fn new(seed: u8, clock: ManualClock) -> Self {
        let mut der = PKCS8_ED25519.to_vec();
        der.extend([seed; 32]);
        Self {
            signing: EncodingKey::from_ed_der(&der),
            clock,
        }
    }

    /// The public key set, as the provider would publish it at its JWKS URL.
    pub fn jwks(&self) -> JwkSet {
        let mut jwk =
            Jwk::from_encoding_key(&self.signing, Algorithm::EdDSA).expect("an Ed25519 JWK");
        jwk.common.key_id = Some(KID.to_owned());
        JwkSet { keys: vec![jwk] }
    }

    /// A verifier that trusts this provider's key, as the platform's
    /// `KEYGATE_JWT_ISSUER`/`KEYGATE_JWT_AUDIENCE` settings configure one.
    pub fn verifier(&self) -> JwtVerifier {
        JwtVerifier::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .static_keys(self.jwks())
            .build()
            .expect("the test verifier")
    }

    /// A token for user `sub`, valid for an hour from now, with `claims` merged over the
    /// standard ones (a `null` removes a claim).
    pub fn jwt(&self, sub: &str, claims: Value) -> String {
        let now = self.clock.now().unix_timestamp();
        let mut all = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub,
            "iat": now, "auth_time": now, "exp": now + 3600,
        });
        let fields = all.as_object_mut().expect("an object");
        for (name, value) in claims.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                fields.remove(&name);
            } else {
                fields.insert(name, value);
            }
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &all, &self.signing).expect("a signed JWT")
    }

    /// A user of `tenant` (the `tenant_id` claim).
    pub fn of_tenant(&self, sub: &str, tenant: &str) -> String {
        self.jwt(sub, json!({ "tenant_id": tenant }))
    }
}
