//! PKCE (RFC 7636), S256 only: `plain` gives an attacker who reads the authorization
//! request everything it needs, so it is refused (RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only `code_challenge_method` accepted.
pub const S256: &str = "S256";

/// Whether `challenge` is an S256 challenge: 43 base64url characters (a SHA-256 digest).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is an RFC 7636 §4.1 verifier: 43 to 128 unreserved characters.
pub fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
///
/// ```
/// use keygate_oauth::pkce::verifies;
///
/// // RFC 7636, appendix B.
/// let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// assert!(verifies("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", verifier));
/// assert!(!verifies("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", verifier));
/// ```
pub fn verifies(challenge: &str, verifier: &str) -> bool {
    if !is_verifier(verifier) || !is_s256_challenge(challenge) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}
