//! Random material from the operating system's CSPRNG.

use std::fmt;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Largest multiple of 62 that fits in a byte: bytes at or above it are redrawn, so every
/// base62 character is equally likely.
const ACCEPT_BELOW: u8 = 62 * 4;

/// The operating system's random source failed. Nothing was generated.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

impl fmt::Debug for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RandomError({})", self.0)
    }
}

/// Fills `buf` from the OS CSPRNG.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(buf).map_err(RandomError)
}

/// `len` uniformly random base62 characters.
pub(crate) fn random_base62(len: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        fill(&mut pool)?;
        for &byte in &pool {
            if byte < ACCEPT_BELOW && out.len() < len {
                let index = usize::from(byte % 62);
                out.push(char::from(BASE62.get(index).copied().unwrap_or(b'0')));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_output_has_the_asked_length_and_alphabet() {
        for len in [0, 1, 32, 100] {
            let text = random_base62(len).unwrap();
            assert_eq!(text.len(), len);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn base62_output_uses_the_whole_alphabet_evenly() {
        let text = random_base62(62_000).unwrap();
        let mut counts = [0u32; 62];
        for b in text.bytes() {
            let i = BASE62.iter().position(|&c| c == b).unwrap();
            counts[i] += 1;
        }
        // Expected 1000 each; a biased mapping (byte % 62 without rejection) skews the
        // first 8 characters by about 25%. Bounds are ±20%, > 6 sigma.
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
