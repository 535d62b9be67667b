use std::sync::LazyLock;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use keygate_core::jwt::JwtVerifier;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);
const ISSUER: &str = "https://issuer.fuzz";
const AUDIENCE: &str = "fuzz";

/// The test key of keygate-core's JWT tests (public test material).
static SIGNING: LazyLock<EncodingKey> = LazyLock::new(|| {
    EncodingKey::from_ed_pem(include_bytes!(
        "../../../crates/keygate-core/tests/fixtures/jwt/ed25519.pem"
    ))
    .unwrap()
});

static VERIFIER: LazyLock<JwtVerifier> = LazyLock::new(|| {
    let mut jwk = Jwk::from_encoding_key(&SIGNING, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some("k1".into());
    JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .static_keys(JwkSet { keys: vec![jwk] })
        // Every input is checked, not answered from the cache.
        .cache_capacity(0)
        .build()
        .unwrap()
});

const HEADER: &str = r#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#;

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload` signed with the trusted key.
fn signed(header: &[u8], payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &SIGNING, Algorithm::EdDSA).unwrap();
    format!("{message}.{signature}")
}

pub(crate) static GENUINE: LazyLock<String> = LazyLock::new(|| {
    let claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"user_1","iat":{now},"exp":{exp}}}"#,
        now = NOW.unix_timestamp(),
        exp = NOW.unix_timestamp() + 3600,
    );
    signed(HEADER.as_bytes(), claims.as_bytes())
});

fn verify(token: &str) -> bool {
    crate::runtime()
        .block_on(VERIFIER.verify(token, NOW))
        .is_ok()
}

/// `JwtVerifier::verify` on any text, on a genuine token with fuzzed parts, and on tokens
/// *signed* by the trusted key over a fuzzed header and payload, so the header and claims
/// parsers behind the signature check see arbitrary input too. Nothing panics; only the
/// genuine token (and signed tokens whose claims happen to be valid) verify.
pub fn user_jwt(data: &[u8]) {
    assert!(verify(&GENUINE));
    if let Ok(text) = std::str::from_utf8(data) {
        if text != GENUINE.as_str() {
            assert!(!verify(text), "arbitrary text verified");
        }
        // The genuine header and payload with a fuzzed signature.
        let (message, _) = GENUINE.rsplit_once('.').unwrap();
        let forged = format!("{message}.{text}");
        if forged != *GENUINE {
            assert!(!verify(&forged), "forged signature verified");
        }
    }
    // Signed by the trusted key: the claims parser sees arbitrary bytes (a result either
    // way, never a panic), and so does the header parser.
    let _ = verify(&signed(HEADER.as_bytes(), data));
    let _ = verify(&signed(data, br#"{"sub":"x"}"#));
}
