use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

use crate::random::{self, RandomError};

/// Shortest pepper accepted, in bytes.
pub const MIN_PEPPER_LEN: usize = 32;
const MAX_PEPPER_LEN: usize = 1024;

/// The HMAC key under which API keys and the platform secret are hashed.
///
/// A database dump without the pepper cannot be used to test guessed keys. Instances that
/// share a store must share the pepper. Each hash records the [`PepperId`] it was made
/// with, so a pepper can be rotated: hash with the new one, verify with both.
///
/// ```
/// use keygate_core::Pepper;
///
/// let pepper = Pepper::generate()?;
/// let saved = pepper.to_base64();          // keep this somewhere safe
/// let again = Pepper::from_base64(secrecy::ExposeSecret::expose_secret(&saved))?;
/// assert_eq!(pepper.id(), again.id());
/// assert!(!format!("{pepper:?}").contains(secrecy::ExposeSecret::expose_secret(&saved)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pepper {
    bytes: SecretSlice<u8>,
    id: PepperId,
}

/// Why pepper material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PepperError {
    /// Fewer than 32 or more than 1024 bytes.
    #[error(
        "a pepper is {MIN_PEPPER_LEN} to {MAX_PEPPER_LEN} bytes; generate one with Pepper::generate"
    )]
    Length,
    /// Not URL-safe base64 without padding.
    #[error("a pepper is written as URL-safe base64 without padding")]
    Encoding,
    /// The OS random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl Pepper {
    /// 32 fresh random bytes from the OS.
    pub fn generate() -> Result<Self, PepperError> {
        let mut bytes = vec![0u8; MIN_PEPPER_LEN];
        random::fill(&mut bytes)?;
        Self::from_bytes(bytes)
    }

    /// A pepper from raw bytes (32 to 1024 of them).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, PepperError> {
        let bytes = SecretSlice::from(bytes);
        let len = bytes.expose_secret().len();
        if !(MIN_PEPPER_LEN..=MAX_PEPPER_LEN).contains(&len) {
            return Err(PepperError::Length);
        }
        let id = PepperId::of(bytes.expose_secret());
        Ok(Self { bytes, id })
    }

    /// A pepper from its URL-safe base64 text (as [`to_base64`](Self::to_base64) writes it).
    pub fn from_base64(text: &str) -> Result<Self, PepperError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| PepperError::Encoding)?;
        Self::from_bytes(bytes)
    }

    /// The pepper as URL-safe base64, to store in a file or secret manager.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(self.bytes.expose_secret()))
    }

    /// The non-secret identifier recorded beside every hash made with this pepper.
    pub fn id(&self) -> PepperId {
        self.id
    }

    /// An HMAC-SHA256 state keyed with this pepper, ready to be cloned per message.
    pub(crate) fn keyed_mac(&self) -> Hmac<Sha256> {
        keyed_mac(self.bytes.expose_secret())
    }
}

/// An HMAC-SHA256 state keyed with `key`.
#[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
pub(crate) fn keyed_mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Names a pepper without revealing it: 8 hex characters of an HMAC of a fixed label.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PepperId([u8; 8]);

impl PepperId {
    fn of(pepper: &[u8]) -> Self {
        let mut mac = keyed_mac(pepper);
        mac.update(b"keygate/pepper-id/v1");
        let tag = mac.finalize().into_bytes();
        let mut id = [0u8; 8];
        for (i, byte) in tag.iter().take(4).enumerate() {
            let hex = |n: u8| {
                b"0123456789abcdef"
                    .get(usize::from(n))
                    .copied()
                    .unwrap_or(b'0')
            };
            if let Some(pair) = id.get_mut(i * 2..i * 2 + 2) {
                pair.copy_from_slice(&[hex(byte >> 4), hex(byte & 0x0f)]);
            }
        }
        Self(id)
    }

    /// Parses an id as stored (8 lowercase hex characters).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 8] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(Self(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PepperId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peppers_must_be_long_enough_and_well_encoded() {
        assert_eq!(
            Pepper::from_bytes(vec![7; 31]).unwrap_err(),
            PepperError::Length
        );
        assert_eq!(
            Pepper::from_bytes(vec![7; 1025]).unwrap_err(),
            PepperError::Length
        );
        assert_eq!(
            Pepper::from_base64("not base64!").unwrap_err(),
            PepperError::Encoding
        );
        assert!(Pepper::from_bytes(vec![7; 32]).is_ok());
    }

    #[test]
    fn ids_are_stable_distinct_and_parseable() {
        let a = Pepper::from_bytes(vec![1; 32]).unwrap();
        let a2 = Pepper::from_bytes(vec![1; 32]).unwrap();
        let b = Pepper::from_bytes(vec![2; 32]).unwrap();
        assert_eq!(a.id(), a2.id());
        assert_ne!(a.id(), b.id());
        assert_eq!(PepperId::parse(a.id().as_str()), Some(a.id()));
        assert_eq!(PepperId::parse("XYZ"), None);
        assert_eq!(PepperId::parse("0123456g"), None);
    }

    #[test]
    fn debug_hides_the_bytes() {
        let pepper = Pepper::from_bytes(vec![0xAB; 32]).unwrap();
        let shown = format!("{pepper:?}");
        let encoded = pepper.to_base64();
        assert!(!shown.contains(encoded.expose_secret()));
        assert!(!shown.to_lowercase().contains("abab"));
        assert!(!shown.contains("171"));
    }
}
