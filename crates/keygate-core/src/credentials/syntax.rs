//! The syntax of credential header values: lengths, character sets and the
//! `Bearer` scheme. A value that breaks these rules is `400 invalid_request`.

use super::RequestHead;
use super::head::HeaderValues;
use super::{MAX_TOKEN_LEN, MAX_USER_ID_LEN};
use crate::error::AuthError;

pub(super) fn read<'a, H: RequestHead + ?Sized>(
    head: &'a H,
    name: &'static str,
    max_len: usize,
    allowed: fn(u8) -> bool,
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
pub(super) fn bearer_token(value: &str) -> Result<&str, AuthError> {
    let malformed = || {
        AuthError::invalid_request(
            "the authorization header must be `Bearer <token>` with a single token",
        )
    };
    let (scheme, rest) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let token = rest.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = |b: u8| b != b'=' && is_token_char(b);
    if body.is_empty() || token.len() > MAX_TOKEN_LEN || !body.bytes().all(b64token) {
        return Err(malformed());
    }
    Ok(token)
}

pub(super) fn is_visible(b: u8) -> bool {
    b.is_ascii_graphic()
}

pub(super) fn is_visible_or_space(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' '
}

/// RFC 6750 `b64token` characters, plus `=` (only as padding in bearer tokens).
pub(super) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `[A-Za-z0-9._:@-]`, the contract's user-id characters.
pub(super) fn is_user_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-')
}

/// Whether `id` is a valid tenant or user id: 1 to 128 of `[A-Za-z0-9._:@-]`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&id.len()) && id.bytes().all(is_user_id_char)
}
