//! The text form of an API key: `<prefix><random><checksum>`.
//!
//! - `prefix`: `sk_live_`, `sk_test_`, `pk_live_`, `pk_test_`, `rk_live_`, `rk_test_`, or a
//!   custom `[a-z0-9]{1,16}_` (`sk_`, `pk_`, `rk_` and `ek_` are reserved);
//! - `random`: 32 base62 characters from the OS CSPRNG (about 190 bits);
//! - `checksum`: 6 base62 characters of CRC32 over prefix and random part, so a mistyped
//!   or truncated key is refused before any store is asked.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::{Environment, KeyKind};
use crate::random::{RandomError, random_base62};

/// Length of the random part.
pub const RANDOM_LEN: usize = 32;
/// Length of the checksum.
pub const CHECKSUM_LEN: usize = 6;
/// Longest text accepted as an API key, in bytes.
pub const MAX_KEY_LEN: usize = 255;
/// Longest custom prefix, without its trailing `_`.
pub const MAX_CUSTOM_PREFIX: usize = 16;
/// Characters of the random part shown in a key's `start` preview.
pub const START_CHARS: usize = 4;

const TAIL_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// `oat_` marks OAuth access tokens ([`ACCESS_TOKEN_PREFIX`](crate::oauth::ACCESS_TOKEN_PREFIX)).
const RESERVED_PREFIXES: [&str; 5] = ["sk_", "pk_", "rk_", "ek_", "oat_"];

/// Why a string is not a well-formed API key. Never contains the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFormatError {
    /// Too short or longer than [`MAX_KEY_LEN`].
    #[error("an API key is a prefix followed by 38 characters, at most {MAX_KEY_LEN} in all")]
    Length,
    /// A character outside `A-Z a-z 0-9 _`, or a random part of the wrong length.
    #[error("an API key is made of a prefix ending in '_' and 38 base62 characters")]
    Shape,
    /// The prefix is neither a standard one nor a valid custom one.
    #[error(
        "an API key prefix is sk_live_, sk_test_, pk_live_, pk_test_, rk_live_, rk_test_ \
         or [a-z0-9]{{1,16}}_ (not sk_, pk_, rk_, ek_ or oat_)"
    )]
    Prefix,
    /// The checksum does not match: the key was mistyped or cut.
    #[error("the API key checksum does not match; check that the key was copied whole")]
    Checksum,
}

/// What a key's prefix says about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPrefix {
    /// One of the six standard prefixes (`sk_live_` …).
    Standard {
        /// `sk`, `pk` or `rk`.
        kind: KeyKind,
        /// `live` or `test`.
        environment: Environment,
    },
    /// A custom prefix such as `bijou_`.
    Custom(String),
}

impl KeyPrefix {
    /// The standard prefix of `kind` in `environment`; `None` for [`KeyKind::Custom`].
    pub fn standard(kind: KeyKind, environment: Environment) -> Option<Self> {
        (kind != KeyKind::Custom).then_some(Self::Standard { kind, environment })
    }

    /// A custom prefix: `[a-z0-9]{1,16}_`, not one of the reserved `sk_ pk_ rk_ ek_`.
    pub fn custom(prefix: &str) -> Result<Self, KeyFormatError> {
        validate_custom(prefix)?;
        Ok(Self::Custom(prefix.to_owned()))
    }

    /// The prefix text, ending in `_`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Standard { kind, environment } => standard_text(*kind, *environment),
            Self::Custom(text) => text,
        }
    }

    /// The kind of key this prefix marks.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Standard { kind, .. } => *kind,
            Self::Custom(_) => KeyKind::Custom,
        }
    }

    /// The environment the prefix names (custom prefixes name none).
    pub fn environment(&self) -> Option<Environment> {
        match self {
            Self::Standard { environment, .. } => Some(*environment),
            Self::Custom(_) => None,
        }
    }
}

fn standard_text(kind: KeyKind, environment: Environment) -> &'static str {
    match (kind, environment) {
        (KeyKind::Secret, Environment::Live) => "sk_live_",
        (KeyKind::Secret, Environment::Test) => "sk_test_",
        (KeyKind::Publishable, Environment::Live) => "pk_live_",
        (KeyKind::Publishable, Environment::Test) => "pk_test_",
        (KeyKind::Restricted, Environment::Live) => "rk_live_",
        (KeyKind::Restricted, Environment::Test) => "rk_test_",
        (KeyKind::Custom, _) => "",
    }
}

fn parse_standard(prefix: &str) -> Option<(KeyKind, Environment)> {
    Some(match prefix {
        "sk_live_" => (KeyKind::Secret, Environment::Live),
        "sk_test_" => (KeyKind::Secret, Environment::Test),
        "pk_live_" => (KeyKind::Publishable, Environment::Live),
        "pk_test_" => (KeyKind::Publishable, Environment::Test),
        "rk_live_" => (KeyKind::Restricted, Environment::Live),
        "rk_test_" => (KeyKind::Restricted, Environment::Test),
        _ => return None,
    })
}

fn validate_custom(prefix: &str) -> Result<(), KeyFormatError> {
    let Some(name) = prefix.strip_suffix('_') else {
        return Err(KeyFormatError::Prefix);
    };
    let well_formed = (1..=MAX_CUSTOM_PREFIX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !well_formed || RESERVED_PREFIXES.contains(&prefix) {
        return Err(KeyFormatError::Prefix);
    }
    Ok(())
}

/// A well-formed API key borrowed from a request: shape and checksum already checked,
/// not yet looked up. `Debug` shows only the non-secret `start`.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    text: &'a str,
    prefix_len: usize,
    kind: KeyKind,
    environment: Option<Environment>,
}

impl<'a> ParsedKey<'a> {
    /// Checks the shape, prefix and checksum of `text` without allocating.
    ///
    /// ```
    /// use keygate_core::key::{ApiKey, KeyFormatError, KeyKind, KeyPrefix, ParsedKey};
    /// use keygate_core::Environment;
    ///
    /// let key = ApiKey::generate(&KeyPrefix::standard(KeyKind::Secret, Environment::Live).unwrap())?;
    /// let parsed = ParsedKey::parse(key.expose())?;
    /// assert_eq!(parsed.kind(), KeyKind::Secret);
    /// assert_eq!(ParsedKey::parse("sk_live_nope").unwrap_err(), KeyFormatError::Length);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, KeyFormatError> {
        if text.len() > MAX_KEY_LEN || text.len() < TAIL_LEN + 2 {
            return Err(KeyFormatError::Length);
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(KeyFormatError::Shape);
        }
        let Some(last_underscore) = text.rfind('_') else {
            return Err(KeyFormatError::Shape);
        };
        let (prefix, tail) = text.split_at(last_underscore + 1);
        if tail.len() != TAIL_LEN {
            return Err(KeyFormatError::Shape);
        }
        let (kind, environment) = match parse_standard(prefix) {
            Some((kind, environment)) => (kind, Some(environment)),
            None => {
                validate_custom(prefix)?;
                (KeyKind::Custom, None)
            }
        };
        let (body, checksum) = text.split_at(text.len() - CHECKSUM_LEN);
        if encode_checksum(body) != checksum.as_bytes() {
            return Err(KeyFormatError::Checksum);
        }
        Ok(Self {
            text,
            prefix_len: prefix.len(),
            kind,
            environment,
        })
    }

    /// The whole key text. It is secret: hash it, never log it.
    pub fn expose(&self) -> &'a str {
        self.text
    }

    /// The prefix, ending in `_`.
    pub fn prefix(&self) -> &'a str {
        self.text.get(..self.prefix_len).unwrap_or_default()
    }

    /// The kind named by the prefix.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The environment named by the prefix; `None` for custom prefixes.
    pub fn environment(&self) -> Option<Environment> {
        self.environment
    }

    /// The non-secret preview: prefix and the first four random characters.
    pub fn start(&self) -> &'a str {
        self.text
            .get(..self.prefix_len + START_CHARS)
            .unwrap_or_default()
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("start", &self.start())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A newly generated API key. Its plaintext is shown to the caller once and never stored;
/// `Debug` shows only the `start` preview, and the text is zeroized on drop.
pub struct ApiKey {
    text: SecretString,
    prefix_len: usize,
}

impl ApiKey {
    /// Generates a key with `prefix` from the OS random source.
    pub fn generate(prefix: &KeyPrefix) -> Result<Self, RandomError> {
        let prefix = prefix.as_str();
        let mut text = String::with_capacity(prefix.len() + TAIL_LEN);
        text.push_str(prefix);
        text.push_str(&random_base62(RANDOM_LEN)?);
        let checksum = encode_checksum(&text);
        text.extend(checksum.iter().map(|&b| char::from(b)));
        Ok(Self {
            text: SecretString::from(text),
            prefix_len: prefix.len(),
        })
    }

    /// The key text, to hand to its owner once.
    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }

    /// The non-secret preview stored beside the hash: prefix plus four characters.
    pub fn start(&self) -> &str {
        self.expose()
            .get(..self.prefix_len + START_CHARS)
            .unwrap_or_default()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("start", &self.start())
            .finish_non_exhaustive()
    }
}

/// CRC32 of `body`, as exactly six base62 digits (62^6 > 2^32), most significant first.
fn encode_checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62.get((value % 62) as usize).copied().unwrap_or(b'0');
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: KeyKind, env: Environment) -> ApiKey {
        ApiKey::generate(&KeyPrefix::standard(kind, env).unwrap()).unwrap()
    }

    #[test]
    fn generated_keys_round_trip_for_every_prefix() {
        for kind in [KeyKind::Secret, KeyKind::Publishable, KeyKind::Restricted] {
            for env in [Environment::Live, Environment::Test] {
                let key = key(kind, env);
                let parsed = ParsedKey::parse(key.expose()).unwrap();
                assert_eq!(parsed.kind(), kind);
                assert_eq!(parsed.environment(), Some(env));
                assert_eq!(parsed.prefix(), standard_text(kind, env));
                assert_eq!(parsed.start(), key.start());
                assert_eq!(key.expose().len(), 8 + 32 + 6);
            }
        }
        let custom = ApiKey::generate(&KeyPrefix::custom("bijou_").unwrap()).unwrap();
        let parsed = ParsedKey::parse(custom.expose()).unwrap();
        assert_eq!(parsed.kind(), KeyKind::Custom);
        assert_eq!(parsed.prefix(), "bijou_");
        assert_eq!(parsed.environment(), None);
        assert_eq!(parsed.start().len(), "bijou_".len() + 4);
    }

    #[test]
    fn two_keys_differ() {
        let a = key(KeyKind::Secret, Environment::Live);
        let b = key(KeyKind::Secret, Environment::Live);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn malformed_keys_are_refused_with_their_reason() {
        let good = key(KeyKind::Secret, Environment::Live);
        let text = good.expose();
        let cases: Vec<(String, KeyFormatError)> = vec![
            (String::new(), KeyFormatError::Length),
            ("sk_live_".into(), KeyFormatError::Length),
            (format!("{text}{}", "a".repeat(250)), KeyFormatError::Length),
            (text[..text.len() - 1].to_owned(), KeyFormatError::Shape),
            (format!("{text}a"), KeyFormatError::Shape),
            (text.replacen('_', "-", 1), KeyFormatError::Shape),
            (
                format!("{}é{}", &text[..10], &text[12..]),
                KeyFormatError::Shape,
            ),
            (format!("sk live {}", &text[8..]), KeyFormatError::Shape),
            (text.replace("sk_live_", "sk_prod_"), KeyFormatError::Prefix),
            (text.replace("sk_live_", "sk_"), KeyFormatError::Prefix),
            (text.replace("sk_live_", "ek_"), KeyFormatError::Prefix),
            (text.replace("sk_live_", "Bijou_"), KeyFormatError::Prefix),
            (text.replace("sk_live_", "_"), KeyFormatError::Length),
            (text.replace("sk_live_", "__"), KeyFormatError::Prefix),
            (
                text.replace("sk_live_", "abcdefghijklmnopq_"),
                KeyFormatError::Prefix,
            ),
            (
                text.replace("sk_live_", "sk_test_"),
                KeyFormatError::Checksum,
            ),
            (
                text.replace("sk_live_", "rk_live_"),
                KeyFormatError::Checksum,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ParsedKey::parse(&input).map(|_| ()),
                Err(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn custom_prefix_rules() {
        assert!(KeyPrefix::custom("bijou_").is_ok());
        assert!(KeyPrefix::custom("a1_").is_ok());
        assert!(KeyPrefix::custom(&format!("{}_", "a".repeat(16))).is_ok());
        for bad in [
            "", "_", "bijou", "Bijou_", "bi_jou_", "sk_", "ek_", "bij-ou_",
        ] {
            assert!(KeyPrefix::custom(bad).is_err(), "{bad:?}");
        }
        assert!(KeyPrefix::custom(&format!("{}_", "a".repeat(17))).is_err());
        assert_eq!(
            KeyPrefix::standard(KeyKind::Custom, Environment::Live),
            None
        );
    }

    #[test]
    fn checksum_is_crc32_in_six_base62_digits() {
        // Expected values computed independently (Python's zlib.crc32).
        assert_eq!(&encode_checksum(""), b"000000");
        let body = format!("sk_live_{}", "A".repeat(32));
        assert_eq!(&encode_checksum(&body), b"2S1Cje");
        let whole = format!("{body}2S1Cje");
        let parsed = ParsedKey::parse(&whole).unwrap();
        assert_eq!(parsed.start(), "sk_live_AAAA");
    }

    #[test]
    fn debug_shows_only_the_preview() {
        let key = key(KeyKind::Secret, Environment::Live);
        let random = &key.expose()[12..];
        for shown in [
            format!("{key:?}"),
            format!("{:?}", ParsedKey::parse(key.expose()).unwrap()),
        ] {
            assert!(shown.contains(key.start()), "{shown}");
            assert!(!shown.contains(random), "{shown}");
        }
    }
}
