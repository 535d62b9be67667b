//! The syntax of credential header values: lengths, character sets and the
//! `Bearer` scheme. A value that breaks these rules is `400 invalid_request`.

use super::RequestHead;
use super::head::HeaderValues;
use super::{MAX_TOKEN_LEN, MAX_USER_ID_LEN};
use crate::error::AuthError;

/// The value of header `name`, if present once, 1 to `max_len` bytes of `allowed`.
///
/// Generic over the byte rule so each call site's rule is inlined into one tight loop
/// (a function pointer costs a call per byte: ~30 instructions per byte of a 1 KB token).
pub(super) fn read<'a, H: RequestHead + ?Sized>(
    head: &'a H,
    name: &http::HeaderName,
    max_len: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<Option<&'a str>, AuthError> {
    let value = match head.header(name) {
        HeaderValues::Absent => return Ok(None),
        HeaderValues::Many => {
            return Err(AuthError::invalid_request(format!(
                "the {name} header appears more than once; send it once"
            )));
        }
        HeaderValues::One(value) => value,
    };
    if value.is_empty() || value.len() > max_len {
        return Err(AuthError::invalid_request(format!(
            "the {name} header must be 1 to {max_len} characters"
        )));
    }
    if !value.iter().all(|&b| allowed(b)) {
        return Err(AuthError::invalid_request(format!(
            "the {name} header contains characters it may not contain"
        )));
    }
    // Every allowed byte is ASCII, so this cannot fail.
    std::str::from_utf8(value)
        .map(Some)
        .map_err(|_| AuthError::invalid_request(format!("the {name} header is not ASCII")))
}

/// `Bearer <token>`: scheme case-insensitive, one or more spaces, then an RFC 6750
/// `b64token` (`[A-Za-z0-9-._~+/]+=*`).
pub(super) fn bearer_token<'a>(
    name: &http::HeaderName,
    value: &'a str,
) -> Result<&'a str, AuthError> {
    let malformed = || {
        AuthError::invalid_request(format!(
            "the {name} header must be `Bearer <token>` with a single token"
        ))
    };
    let (scheme, rest) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let token = rest.trim_start_matches(' ');
    if token.len() > MAX_TOKEN_LEN || !is_b64token(token) {
        return Err(malformed());
    }
    Ok(token)
}

/// Whether `text` is an RFC 6750 `b64token`: `[A-Za-z0-9-._~+/]+=*`. One pass: the
/// body is checked with a table look-up per byte, the padding by a backwards scan.
pub(super) fn is_b64token(text: &str) -> bool {
    let bytes = text.as_bytes();
    let body_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = bytes.get(..body_len).unwrap_or_default();
    !body.is_empty() && body.iter().all(|&b| class(b) & B64TOKEN != 0)
}

/// Byte classes, one table look-up per byte.
const VISIBLE: u8 = 1;
const B64TOKEN: u8 = 2;
const USER_ID: u8 = 4;
/// `[A-Za-z0-9_-]`: base64url without padding (used by `jwt::compact::split`).
pub(crate) const BASE64URL: u8 = 8;

// `b < 256` in the loop and a `u8` index into 256 entries: neither index can panic.
#[allow(clippy::indexing_slicing)]
static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mut class = 0;
        if c.is_ascii_graphic() {
            class |= VISIBLE;
        }
        if alnum || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/') {
            class |= B64TOKEN;
        }
        if alnum || matches!(c, b'.' | b'_' | b':' | b'@' | b'-') {
            class |= USER_ID;
        }
        if alnum || matches!(c, b'-' | b'_') {
            class |= BASE64URL;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// The classes byte `b` belongs to.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // a u8 indexes 256 entries: in bounds by type
pub(crate) fn class(b: u8) -> u8 {
    CLASSES[b as usize]
}

/// `bytes` without leading and trailing spaces and tabs (HTTP's optional whitespace).
pub(super) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |at| at + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[inline]
pub(super) fn is_visible(b: u8) -> bool {
    class(b) & VISIBLE != 0
}

#[inline]
pub(super) fn is_visible_or_space(b: u8) -> bool {
    class(b) & VISIBLE != 0 || b == b' '
}

/// RFC 6750 `b64token` characters, plus `=` (only as padding in bearer tokens).
#[inline]
pub(super) fn is_token_char(b: u8) -> bool {
    class(b) & B64TOKEN != 0 || b == b'='
}

/// `[A-Za-z0-9._:@-]`, the contract's user-id characters.
#[inline]
pub(super) fn is_user_id_char(b: u8) -> bool {
    class(b) & USER_ID != 0
}

/// `[A-Za-z0-9._:@|-]`, the contract's characters for the user id `X-On-Behalf-Of`
/// names: a tenant's, plus `|`, which identity providers put in subjects (Auth0's
/// `auth0|123`).
pub(super) fn is_on_behalf_of_char(b: u8) -> bool {
    is_user_id_char(b) || b == b'|'
}

/// Whether `id` is a valid user id to act as (`X-On-Behalf-Of`): 1 to 128 of
/// `[A-Za-z0-9._:@|-]`, so an identity provider's subject such as `auth0|123` works.
///
/// ```
/// use keygate_core::credentials::{is_valid_id, is_valid_user_id};
///
/// assert!(is_valid_user_id("auth0|123"));
/// assert!(!is_valid_id("auth0|123"), "not a tenant id");
/// assert!(!is_valid_user_id("user 1"));
/// ```
pub fn is_valid_user_id(id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&id.len()) && id.bytes().all(is_on_behalf_of_char)
}

/// Whether `id` is a valid tenant or user id: 1 to 128 of `[A-Za-z0-9._:@-]`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&id.len()) && id.bytes().all(is_user_id_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table agrees with the rules spelled out byte by byte.
    #[test]
    fn classes_match_the_rules() {
        for b in 0..=255u8 {
            let alnum = b.is_ascii_alphanumeric();
            assert_eq!(is_visible(b), b.is_ascii_graphic(), "{b}");
            assert_eq!(is_visible_or_space(b), b.is_ascii_graphic() || b == b' ');
            assert_eq!(
                is_token_char(b),
                alnum || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
            );
            assert_eq!(
                is_user_id_char(b),
                alnum || matches!(b, b'.' | b'_' | b':' | b'@' | b'-')
            );
            assert_eq!(class(b) & BASE64URL != 0, alnum || b == b'-' || b == b'_');
        }
        assert!(is_b64token("abc=="));
        assert!(is_b64token("a.b-c_~+/"));
        for bad in ["", "=", "==", "a=b", "a b", "a=b=", "é"] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }
}
