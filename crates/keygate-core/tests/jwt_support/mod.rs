//! Helpers for the user-JWT tests: the test keys of `fixtures/jwt/`, Firebase-shaped
//! claims, and a signer that writes any header, forged ones included.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);
pub const PROJECT: &str = "keygate-test";
pub const ISSUER: &str = "https://securetoken.google.com/keygate-test";

/// A test signing key (private PEM under `tests/fixtures/jwt/`) and its `kid`.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub pem: &'static [u8],
    pub encoding: EncodingKey,
}

impl TestKey {
    pub fn rsa1() -> Self {
        Self::rsa("rsa-1", include_bytes!("../fixtures/jwt/rsa-1.pem"))
    }

    pub fn rsa2() -> Self {
        Self::rsa("rsa-2", include_bytes!("../fixtures/jwt/rsa-2.pem"))
    }

    fn rsa(kid: &str, pem: &'static [u8]) -> Self {
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            pem,
            encoding: EncodingKey::from_rsa_pem(pem).unwrap(),
        }
    }

    pub fn es256() -> Self {
        let pem = include_bytes!("../fixtures/jwt/ec-p256.pem");
        Self {
            kid: "ec-1".into(),
            alg: Algorithm::ES256,
            pem,
            encoding: EncodingKey::from_ec_pem(pem).unwrap(),
        }
    }

    pub fn ed25519() -> Self {
        let pem = include_bytes!("../fixtures/jwt/ed25519.pem");
        Self {
            kid: "ed-1".into(),
            alg: Algorithm::EdDSA,
            pem,
            encoding: EncodingKey::from_ed_pem(pem).unwrap(),
        }
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: &str) -> Self {
        self.kid = kid.into();
        self
    }

    /// The public JWK, as an issuer publishes it (`use: sig`, `alg`, `kid`).
    pub fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        jwk
    }

    /// The usual header: `alg`, `kid`, `typ: JWT`.
    pub fn header(&self) -> Value {
        json!({"alg": format!("{:?}", self.alg), "kid": self.kid, "typ": "JWT"})
    }

    /// Signs `claims` under the usual header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    /// Signs `claims` under any `header` (forged ones too), with this key's algorithm.
    pub fn sign_with(&self, header: &Value, claims: &Value) -> String {
        sign_raw(header, claims, |message| {
            jsonwebtoken::crypto::sign(message, &self.encoding, self.alg).unwrap()
        })
    }
}

/// `base64url(header).base64url(claims).<signature of the two>`.
pub fn sign_raw(header: &Value, claims: &Value, signer: impl FnOnce(&[u8]) -> String) -> String {
    let message = format!("{}.{}", encode(header), encode(claims));
    let signature = signer(message.as_bytes());
    format!("{message}.{signature}")
}

pub fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

pub fn jwks(keys: &[&TestKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|k| k.jwk()).collect(),
    }
}

/// The claims of a Firebase ID token issued at `now` for an hour.
pub fn firebase_claims(now: OffsetDateTime) -> Value {
    let now = now.unix_timestamp();
    json!({
        "iss": ISSUER,
        "aud": PROJECT,
        "auth_time": now - 60,
        "user_id": "user_1",
        "sub": "user_1",
        "iat": now - 30,
        "exp": now + 3600,
        "email": "user@example.com",
        "email_verified": true,
        "firebase": {
            "identities": {"email": ["user@example.com"]},
            "sign_in_provider": "password"
        }
    })
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

pub fn code<T: std::fmt::Debug>(result: Result<T, keygate_core::AuthError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

pub mod jwks_server;
