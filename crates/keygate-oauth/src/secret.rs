//! Random material, token digests, and client secrets under argon2id.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Argon2id memory cost, KiB (OWASP's minimum for argon2id).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Argon2id passes.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

/// `len` uniformly random base62 characters from the OS CSPRNG.
pub(crate) fn random_base62(len: usize) -> Result<String, OsRandomError> {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        getrandom::getrandom(&mut pool).map_err(|_| OsRandomError)?;
        for &byte in &pool {
            // 248 = 4 × 62: bytes above are redrawn so every character is equally likely.
            if byte < 248 && out.len() < len {
                out.push(char::from(
                    BASE62.get(usize::from(byte % 62)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
    Ok(out)
}

/// The operating system's random source failed; nothing was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct OsRandomError;

/// SHA-256 of a code or token: what the store keeps instead of the text. The text holds
/// 256 random bits, so a plain hash is enough (no pepper, no slow hash).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest of `text`.
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// Lowercase hex, for SQL stores.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`to_hex`](Self::to_hex)'s output.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        write!(f, "TokenDigest({}..)", hex.get(..8).unwrap_or_default())
    }
}

/// A fresh secret with `prefix`: `prefix` then 43 base62 characters (256 bits).
pub(crate) fn fresh_secret(prefix: &str) -> Result<SecretString, OsRandomError> {
    let mut text = String::with_capacity(prefix.len() + 43);
    text.push_str(prefix);
    text.push_str(&random_base62(43)?);
    Ok(SecretString::from(text))
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds, so this cannot fail; the
    // fallback is argon2's own default (argon2id, same memory and passes).
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        None,
    )
    .unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a client secret as an argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_client_secret(secret: &SecretString) -> Result<String, SecretHashError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|_| SecretHashError)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| SecretHashError)?;
    argon2()
        .hash_password(secret.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| SecretHashError)
}

/// Whether `secret` matches the PHC string `stored` (argon2 compares in constant time).
/// CPU-bound (~16 ms): call it from the blocking pool, as the server does.
pub fn verify_client_secret(secret: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    argon2().verify_password(secret.as_bytes(), &hash).is_ok()
}

/// A client secret could not be hashed (the random source or argon2 failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client secret could not be hashed (random source or argon2 failed)")]
pub struct SecretHashError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_as_argon2id_with_the_owasp_parameters_and_verify() {
        let secret = SecretString::from("cs_example".to_owned());
        let stored = hash_client_secret(&secret).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify_client_secret("cs_example", &stored));
        assert!(!verify_client_secret("cs_examplf", &stored));
        assert!(!verify_client_secret("cs_example", "not a hash"));
    }

    #[test]
    fn digests_round_trip_through_hex_and_debug_shows_a_prefix_only() {
        let digest = TokenDigest::of("oat_x");
        assert_eq!(TokenDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(TokenDigest::from_hex("zz"), None);
        assert!(format!("{digest:?}").len() < 30);
    }
}
