use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::random::{RandomError, random_base62};

const GENERATED_PREFIX: &str = "kgsec_";
const GENERATED_RANDOM: usize = 40;
/// Shortest platform secret accepted when an operator chooses their own.
pub const MIN_PLATFORM_SECRET_LEN: usize = 24;
/// Longest platform secret accepted.
pub const MAX_PLATFORM_SECRET_LEN: usize = 255;

/// The operator's secret for `x-client-secret`: opens every route of every tenant.
///
/// keygate stores only its HMAC digest (see
/// [`KeygateBuilder::platform_secret`](crate::KeygateBuilder::platform_secret)); the
/// plaintext is shown once when generated. `Debug` prints nothing of it.
///
/// ```
/// use keygate_core::PlatformSecret;
///
/// let secret = PlatformSecret::generate()?;
/// assert!(secret.expose().starts_with("kgsec_"));
/// assert_eq!(format!("{secret:?}"), "PlatformSecret(..)");
/// assert!(PlatformSecret::new("too short").is_none());
/// # Ok::<(), keygate_core::RandomError>(())
/// ```
pub struct PlatformSecret(SecretString);

impl PlatformSecret {
    /// A fresh secret: `kgsec_` and 40 base62 characters (about 238 bits).
    pub fn generate() -> Result<Self, RandomError> {
        let mut text = String::from(GENERATED_PREFIX);
        text.push_str(&random_base62(GENERATED_RANDOM)?);
        Ok(Self(SecretString::from(text)))
    }

    /// An operator-chosen secret: 24 to 255 visible ASCII characters, and not starting
    /// like an API key (`sk_`, `pk_`, `rk_`: in `x-client-secret` those mean a tenant key,
    /// or a key that is not a secret). `None` otherwise.
    pub fn new(text: &str) -> Option<Self> {
        let visible = text.bytes().all(|b| b.is_ascii_graphic());
        let len_ok = (MIN_PLATFORM_SECRET_LEN..=MAX_PLATFORM_SECRET_LEN).contains(&text.len());
        let key_shaped = ["sk_", "pk_", "rk_"].iter().any(|p| text.starts_with(p));
        (visible && len_ok && !key_shaped).then(|| Self(SecretString::from(text)))
    }

    /// The secret text, to show the operator once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PlatformSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlatformSecret(..)")
    }
}
