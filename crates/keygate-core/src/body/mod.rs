//! Request bodies as JSON, refused with a detail that names the field and what it expects,
//! never what the caller sent.
//!
//! serde's messages quote the value they refused (`invalid type: string "sk_test_…",
//! expected u64`), and a caller who pastes a key into the wrong field would see it echoed
//! back, into logs and proxies. [`parse_json`] answers `credits: invalid type, expected
//! u64` instead: the field's path, the kind of mistake, and the expected type, taken from
//! the target type (which the application wrote), not from the body.
//!
//! ```
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct TopUp {
//!     add: u64,
//! }
//!
//! let error = keygate_core::body::parse_json::<TopUp>(br#"{"add": "sk_test_AbCd"}"#)
//!     .err()
//!     .unwrap();
//! assert_eq!(error.to_string(), "add: invalid type, expected u64");
//! assert!(!error.to_string().contains("sk_test"));
//!
//! let error = keygate_core::body::parse_json::<TopUp>(br#"{"sk_live_AbCd": 1}"#)
//!     .err()
//!     .unwrap();
//! assert_eq!(error.to_string(), "body: unknown field, expected `add`");
//!
//! // A field name of the caller's that reads as one is named.
//! let error = keygate_core::body::parse_json::<TopUp>(br#"{"amount": 1}"#)
//!     .err()
//!     .unwrap();
//! assert_eq!(error.to_string(), "amount: unknown field, expected `add`");
//! ```

use std::fmt;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::error::AuthError;

/// Why a request body was refused: its [`Display`](fmt::Display) is `<field>: <what is
/// wrong>` (`body: …` for the body as a whole), and holds nothing of the body's values.
/// Answer it as 400 `invalid_request`, for example with
/// `AuthError::from(error)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    field: String,
    problem: String,
}

impl BodyError {
    /// The field at fault, as a path (`rate_limit.limit`, `scopes[2]`), or `body`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it (`invalid type, expected u64`), without its value.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for AuthError {
    fn from(error: BodyError) -> Self {
        AuthError::invalid_request(error.to_string())
    }
}

/// Parses `body` as one JSON value of type `T`. Trailing characters after the value are
/// refused. A refusal names the field and the expected type, never a value the caller
/// sent ([module docs](self)).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().clone();
        let inner = error.into_inner();
        describe(&path, &inner)
    })?;
    deserializer.end().map_err(|_| BodyError {
        field: "body".to_owned(),
        problem: "trailing characters after the JSON value".to_owned(),
    })?;
    Ok(value)
}

/// The refusal for `error` at `path`.
fn describe(path: &serde_path_to_error::Path, error: &serde_json::Error) -> BodyError {
    use serde_json::error::Category;
    let message = without_position(error);
    match error.classify() {
        // serde_json reports a value of the wrong JSON kind for an enum (`"kind": 7`) as
        // a syntax error at that field: name the field, never the text around it.
        Category::Eof | Category::Io => BodyError {
            field: "body".to_owned(),
            problem: "the body is not valid JSON".to_owned(),
        },
        Category::Syntax => {
            let field = field_of(path, false);
            let problem = if field == "body" {
                "the body is not valid JSON"
            } else {
                "not a valid value here (or the JSON is malformed at this point)"
            };
            BodyError {
                field,
                problem: problem.to_owned(),
            }
        }
        Category::Data => {
            let (problem, key_is_callers) = problem_of(&message);
            BodyError {
                field: field_of(path, key_is_callers),
                problem,
            }
        }
    }
}

/// serde_json's message without its ` at line 1 column 7`.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => message,
    }
}

/// What a serde data error says, without the value it quotes; and whether the last key of
/// the path is the caller's own (an unknown field), which is then not named either.
fn problem_of(message: &str) -> (String, bool) {
    // serde's own messages (serde::de::Error's provided methods): the refused value sits
    // between the kind of mistake and ", expected …", which the target type wrote.
    let expected = |message: &str| {
        message
            .rfind(", expected ")
            .and_then(|at| message.get(at + 2..))
            .map(str::to_owned)
    };
    for (kind, caller_key) in [
        ("invalid type", false),
        ("invalid value", false),
        ("invalid length", false),
        ("unknown variant", false),
        ("unknown field", true),
    ] {
        if message.starts_with(kind) {
            let problem = match expected(message) {
                Some(expected) => format!("{kind}, {expected}"),
                None if message.ends_with(", there are no fields") => {
                    format!("{kind}, there are no fields")
                }
                None if message.ends_with(", there are no variants") => {
                    format!("{kind}, there are no variants")
                }
                None => kind.to_owned(),
            };
            return (problem, caller_key);
        }
    }
    // `missing field `x`` and `duplicate field `x`` name a field of the target type.
    if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        return (message.to_owned(), false);
    }
    // A type's own message (a scope's rule, a timestamp's component): written by the
    // type, so it says the rule; one that quotes anything might quote the value.
    if message.contains(['"', '`']) || message.len() > 200 {
        ("invalid value".to_owned(), false)
    } else {
        (message.to_owned(), false)
    }
}

/// The longest map key named in a field path. Struct fields are short names; keygate's
/// own credentials are all longer (the platform secret at least 24 characters, API keys
/// and tokens far more), so a key-shaped map key is never repeated back.
const MAX_NAMED_KEY: usize = 23;

/// Whether a map key reads as a field name, and may be repeated in a detail: short, of
/// `A-Z a-z 0-9 _ -`, and not shaped like the start of a keygate key or token.
fn is_name(key: &str) -> bool {
    let key_shaped = key.contains("_live_")
        || key.contains("_test_")
        || ["sk_", "pk_", "rk_", "ek_"]
            .iter()
            .any(|prefix| key.starts_with(prefix));
    (1..=MAX_NAMED_KEY).contains(&key.len())
        && !key_shaped
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// The path as `a.b[0].c`, or `body` for the whole body. A map key is named only when it
/// reads as a field name ([`is_name`]); with `unknown_last_key` (an unknown field: the
/// last key is the caller's own), a last key that does not is left out altogether.
fn field_of(path: &serde_path_to_error::Path, unknown_last_key: bool) -> String {
    let mut segments: Vec<&Segment> = path.iter().collect();
    if unknown_last_key && matches!(segments.last(), Some(Segment::Map { key }) if !is_name(key)) {
        segments.pop();
    }
    let mut field = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(if is_name(key) { key } else { "<key>" });
            }
            Segment::Enum { variant } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(variant);
            }
            // Somewhere serde_path_to_error could not follow: says nothing to the caller.
            Segment::Unknown => {}
        }
    }
    if field.is_empty() || field.starts_with('[') {
        field.insert_str(0, "body");
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        name: String,
        count: Option<u32>,
        #[serde(default)]
        tags: Vec<u8>,
        kind: Option<Kind>,
        #[serde(default)]
        limits: std::collections::BTreeMap<String, u8>,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Secret,
        Restricted,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        limit: u32,
    }

    const SECRET: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dcAbCdEf";

    fn refused(body: &str) -> String {
        let error = parse_json::<Example>(body.as_bytes()).unwrap_err();
        let text = error.to_string();
        assert!(!text.contains("sk_"), "echoed a value: {text}");
        assert!(!text.contains("4eC39"), "echoed a value: {text}");
        text
    }

    #[test]
    fn values_the_caller_sent_are_never_repeated() {
        let cases = [
            (
                format!(r#"{{"name": "a", "count": "{SECRET}"}}"#),
                "count: invalid type, expected u32",
            ),
            (
                format!(r#"{{"name": "{SECRET}", "count": 1, "kind": "{SECRET}"}}"#),
                "kind: unknown variant, expected `secret` or `restricted`",
            ),
            (
                format!(r#"{{"name": "a", "{SECRET}": 1}}"#),
                "body: unknown field, expected one of `name`, `count`, `tags`, `kind`, `limits`, `nested`",
            ),
            (
                r#"{"name": "a", "colour": 1}"#.to_owned(),
                "colour: unknown field, expected one of `name`, `count`, `tags`, `kind`, `limits`, `nested`",
            ),
            (
                r#"{"name": "a", "kind": 7}"#.to_owned(),
                "kind: not a valid value here (or the JSON is malformed at this point)",
            ),
            (
                format!(r#"{{"name": "a", "nested": {{"{SECRET}": 1}}}}"#),
                "nested: unknown field, expected `limit`",
            ),
            (
                format!(r#"{{"name": "a", "limits": {{"{SECRET}": "x"}}}}"#),
                "limits.<key>: invalid type, expected u8",
            ),
            (
                r#"{"name": "a", "limits": {"short": 300}}"#.to_owned(),
                "limits.short: invalid value, expected u8",
            ),
            (
                r#"{"name": "a", "tags": [1, "x, expected nothing"]}"#.to_owned(),
                "tags[1]: invalid type, expected u8",
            ),
            (
                r#"{"name": "a", "count": -1}"#.to_owned(),
                "count: invalid value, expected u32",
            ),
            (
                format!(r#"{{"name": "a", "count": 1 "{SECRET}"}}"#),
                "body: the body is not valid JSON",
            ),
            (r#"{"count": 1}"#.to_owned(), "body: missing field `name`"),
            (
                r#"{"name": "a", "name": "b"}"#.to_owned(),
                "body: duplicate field `name`",
            ),
            (
                format!(r#"[{{"{SECRET}": 1}}]"#),
                "body[0]: invalid type, expected a string",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(refused(&body), expected, "{body}");
        }
    }

    #[test]
    fn the_body_as_a_whole() {
        assert_eq!(refused("{"), "body: the body is not valid JSON");
        assert_eq!(refused(""), "body: the body is not valid JSON");
        assert_eq!(refused(r#"{"name": "#), "body: the body is not valid JSON");
        assert_eq!(
            refused(r#"{"name": "a"} x"#),
            "body: trailing characters after the JSON value"
        );
        assert!(parse_json::<Example>(br#"{"name": "a"}"#).is_ok());
    }

    #[test]
    fn a_types_own_message_is_kept_unless_it_quotes() {
        assert_eq!(
            problem_of("a scope must be 1 to 128 bytes long").0,
            "a scope must be 1 to 128 bytes long"
        );
        assert_eq!(problem_of(r#"bad "sk_live_x""#).0, "invalid value");
        assert_eq!(problem_of("bad `sk_live_x`").0, "invalid value");
    }

    #[test]
    fn a_refusal_is_an_invalid_request() {
        let error = parse_json::<Example>(b"{").unwrap_err();
        let refusal = AuthError::from(error);
        assert_eq!(refusal.code(), "invalid_request");
    }
}
