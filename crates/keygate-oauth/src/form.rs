//! `application/x-www-form-urlencoded` parameters, as RFC 6749 §3.1 and §3.2 read them:
//! a parameter sent without a value is treated as omitted, and one sent twice is refused.
//! Pure and bounded, so it is fuzzed (`fuzz/fuzz_targets/oauth_form.rs`).

use std::borrow::Cow;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 32;
/// Longest encoded request accepted, in bytes (a form body or a query string).
pub const MAX_ENCODED_LEN: usize = 16 * 1024;

/// Decoded parameters, each name once. Its `Debug` names the parameters, never their
/// values (a client secret, a code verifier, a refresh token).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.pairs.iter().map(|(name, _)| name))
            .finish()
    }
}

/// Why a form or query was refused. Names only parameter names, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A parameter appears more than once.
    #[error("the parameter {0} appears more than once; send it once")]
    Repeated(String),
    /// More than [`MAX_PARAMS`] parameters, or more than [`MAX_ENCODED_LEN`] bytes.
    #[error("the request has too many parameters or is too long")]
    TooLarge,
    /// A decoded value is not UTF-8 text, or holds control characters.
    #[error("the parameter {0} is not valid text")]
    NotText(String),
}

impl Params {
    /// Parses `input`. Empty values count as omitted; a name seen twice (with values) is
    /// [`FormError::Repeated`], even if its values agree.
    ///
    /// ```
    /// use keygate_oauth::form::{FormError, Params};
    ///
    /// let params = Params::parse(b"grant_type=authorization_code&code=abc&state=")?;
    /// assert_eq!(params.get("code"), Some("abc"));
    /// assert_eq!(params.get("state"), None);
    /// assert!(matches!(Params::parse(b"code=a&code=a"), Err(FormError::Repeated(_))));
    /// # Ok::<(), FormError>(())
    /// ```
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        if input.len() > MAX_ENCODED_LEN {
            return Err(FormError::TooLarge);
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen = 0usize;
        for (name, value) in form_urlencoded::parse(input) {
            seen += 1;
            if seen > MAX_PARAMS {
                return Err(FormError::TooLarge);
            }
            if value.is_empty() {
                continue;
            }
            let name = text(name)?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(printable_name(&name)));
            }
            if value.chars().any(char::is_control) {
                return Err(FormError::NotText(printable_name(&name)));
            }
            pairs.push((name, value.into_owned()));
        }
        Ok(Self { pairs })
    }

    /// The value of `name`, if sent with one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was sent with a value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names sent, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }
}

fn text(name: Cow<'_, str>) -> Result<String, FormError> {
    if name.chars().any(char::is_control) {
        return Err(FormError::NotText(printable_name(&name)));
    }
    Ok(name.into_owned())
}

/// A parameter name for an error message: RFC 6749's names are short ASCII words, so
/// anything else is not echoed.
fn printable_name(name: &str) -> String {
    if name.len() <= 32 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name.to_owned()
    } else {
        "(unnamed)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_parameters_never_values() {
        let params = Params::parse(b"grant_type=refresh_token&client_secret=cs_s3cret").unwrap();
        let shown = format!("{params:?}");
        assert!(shown.contains("client_secret"), "{shown}");
        assert!(
            !shown.contains("cs_s3cret") && !shown.contains("refresh_token"),
            "{shown}"
        );
    }

    #[test]
    fn values_are_percent_decoded_and_plus_is_a_space() {
        let params = Params::parse(b"scope=read%3Ausers+write%3Ausers&state=a%2Bb").unwrap();
        assert_eq!(params.get("scope"), Some("read:users write:users"));
        assert_eq!(params.get("state"), Some("a+b"));
    }

    #[test]
    fn repeated_and_oversized_requests_are_refused() {
        assert_eq!(
            Params::parse(b"code=a&code=b"),
            Err(FormError::Repeated("code".into()))
        );
        // An empty repeat is an omission, not a repeat.
        assert!(Params::parse(b"code=a&code=").is_ok());
        let many = (0..=MAX_PARAMS)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()),
            Err(FormError::TooLarge)
        );
        assert_eq!(
            Params::parse(&vec![b'a'; MAX_ENCODED_LEN + 1]),
            Err(FormError::TooLarge)
        );
        assert!(matches!(
            Params::parse(b"state=a%0Ab"),
            Err(FormError::NotText(_))
        ));
    }

    #[test]
    fn error_messages_never_echo_odd_names() {
        let err = Params::parse(b"%3Csecret%3E=a&%3Csecret%3E=b").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
