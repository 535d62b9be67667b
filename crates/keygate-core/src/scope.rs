//! Permissions: [`Scope`] and [`ScopeSet`].
//!
//! A scope is one or more segments separated by `:` (`read:users`,
//! `magic-background:create`). A granted scope *allows* a required one when both have the
//! same number of segments and every granted segment is `*` or equal to the required one.
//! The scope made of the single segment `*` allows everything.
//!
//! ```
//! use keygate_core::Scope;
//!
//! let granted = Scope::new("magic-background:*").unwrap();
//! assert!(granted.allows(&Scope::new("magic-background:create").unwrap()));
//! assert!(!granted.allows(&Scope::new("lens:create").unwrap()));
//! assert!(Scope::any().allows(&Scope::new("read:users").unwrap()));
//! ```

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest scope accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 128;
/// Most segments a scope may have.
pub const MAX_SEGMENTS: usize = 8;
/// Most scopes one key or token may carry.
pub const MAX_SCOPES: usize = 64;

/// A `:`-separated permission; `*` in a granted scope matches any segment in its place.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Arc<str>);

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The scope is empty or longer than [`MAX_SCOPE_LEN`].
    #[error("a scope must be 1 to {MAX_SCOPE_LEN} bytes long")]
    Length,
    /// The scope has an empty segment or more than [`MAX_SEGMENTS`].
    #[error("a scope is 1 to {MAX_SEGMENTS} non-empty segments separated by ':'")]
    Segments,
    /// A segment has a character outside `A-Z a-z 0-9 _ . -`, or mixes `*` with others.
    #[error("a scope segment is made of A-Z a-z 0-9 _ . - or is exactly '*'")]
    Character,
    /// More than [`MAX_SCOPES`] scopes.
    #[error("at most {MAX_SCOPES} scopes are allowed")]
    TooMany,
}

impl Scope {
    /// Parses and validates a scope.
    pub fn new(scope: &str) -> Result<Self, ScopeError> {
        validate(scope)?;
        Ok(Self(Arc::from(scope)))
    }

    /// A scope from a constant known to be valid (checked by a unit test).
    pub(crate) fn trusted(scope: &'static str) -> Self {
        debug_assert!(validate(scope).is_ok(), "{scope}");
        Self(Arc::from(scope))
    }

    /// The scope `*`, which allows every other scope.
    pub fn any() -> Self {
        Self(Arc::from("*"))
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments of the scope.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split(':')
    }

    /// Whether this scope, granted to a caller, allows the `required` one.
    ///
    /// The relation is reflexive and transitive: `a.allows(a)`, and `a.allows(b)` with
    /// `b.allows(c)` implies `a.allows(c)`.
    pub fn allows(&self, required: &Scope) -> bool {
        if &*self.0 == "*" {
            return true;
        }
        let mut granted = self.segments();
        let mut needed = required.segments();
        loop {
            match (granted.next(), needed.next()) {
                (None, None) => return true,
                (Some(g), Some(n)) if g == "*" || g == n => continue,
                _ => return false,
            }
        }
    }
}

fn validate(scope: &str) -> Result<(), ScopeError> {
    if scope.is_empty() || scope.len() > MAX_SCOPE_LEN {
        return Err(ScopeError::Length);
    }
    let mut segments = 0;
    for segment in scope.split(':') {
        segments += 1;
        if segment.is_empty() || segments > MAX_SEGMENTS {
            return Err(ScopeError::Segments);
        }
        let plain = segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if segment != "*" && !plain {
            return Err(ScopeError::Character);
        }
    }
    Ok(())
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", &*self.0)
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Scope::new(&text).map_err(serde::de::Error::custom)
    }
}

/// The scopes a key, token or principal holds. Cheap to clone.
///
/// ```
/// use keygate_core::{Scope, ScopeSet};
///
/// let set = ScopeSet::parse(["read:users", "write:*"]).unwrap();
/// assert!(set.allows(&Scope::new("write:orders").unwrap()));
/// assert!(!set.allows(&Scope::new("read:orders").unwrap()));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ScopeSet(Arc<[Scope]>);

impl Default for ScopeSet {
    /// The empty set.
    fn default() -> Self {
        Self::none()
    }
}

/// Built once and shared: every `sk_` key and operator request holds one of these.
static ALL: LazyLock<ScopeSet> = LazyLock::new(|| ScopeSet(Arc::from([Scope::any()])));
static NONE: LazyLock<ScopeSet> = LazyLock::new(|| ScopeSet(Arc::from([])));

impl ScopeSet {
    /// The set holding only `*`: every scope. Shared, so it costs no allocation.
    pub fn all() -> Self {
        ALL.clone()
    }

    /// The empty set: no scope at all. Shared, so it costs no allocation.
    pub fn none() -> Self {
        NONE.clone()
    }

    /// Builds a set from scopes, dropping duplicates.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Result<Self, ScopeError> {
        let mut list: Vec<Scope> = scopes.into_iter().collect();
        list.sort();
        list.dedup();
        if list.len() > MAX_SCOPES {
            return Err(ScopeError::TooMany);
        }
        Ok(Self(Arc::from(list)))
    }

    /// Parses and validates every scope, dropping duplicates.
    pub fn parse<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parsed = scopes
            .into_iter()
            .map(|s| Scope::new(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(parsed)
    }

    /// Whether any scope in the set allows `required`.
    pub fn allows(&self, required: &Scope) -> bool {
        self.0.iter().any(|granted| granted.allows(required))
    }

    /// Whether the set lists `scope` itself, not through a wildcard: for permissions that
    /// must be granted by name, such as [`users:impersonate`](crate::IMPERSONATE_SCOPE),
    /// which neither `*` nor `users:*` grants.
    ///
    /// ```
    /// use keygate_core::{Scope, ScopeSet};
    ///
    /// let impersonate = Scope::new("users:impersonate").unwrap();
    /// assert!(ScopeSet::parse(["users:impersonate"]).unwrap().lists(&impersonate));
    /// assert!(!ScopeSet::parse(["users:*"]).unwrap().lists(&impersonate));
    /// assert!(!ScopeSet::all().lists(&impersonate));
    /// ```
    pub fn lists(&self, scope: &Scope) -> bool {
        self.0.iter().any(|listed| listed == scope)
    }

    /// Whether every scope of `other` is allowed by this set (this set is at least as
    /// broad as `other`).
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.iter().all(|scope| self.allows(scope))
    }

    /// Whether this is the set of every scope.
    pub fn is_all(&self) -> bool {
        self.0.iter().any(|s| s.as_str() == "*")
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes joined by spaces, as in an OAuth `scope` parameter.
    pub fn to_space_separated(&self) -> String {
        let mut out = String::new();
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(scope.as_str());
        }
        out
    }

    /// Parses a space-separated list (the inverse of [`to_space_separated`](Self::to_space_separated)).
    pub fn from_space_separated(text: &str) -> Result<Self, ScopeError> {
        Self::parse(text.split(' ').filter(|s| !s.is_empty()))
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<Scope>::deserialize(deserializer)?;
        ScopeSet::new(list).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scope {
        Scope::new(text).unwrap()
    }

    #[test]
    fn validation_rejects_malformed_scopes() {
        for bad in ["", ":", "a:", ":a", "a::b", "a b", "a:b*", "é", "a/b"] {
            assert!(Scope::new(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Scope::new(&"a".repeat(129)), Err(ScopeError::Length));
        assert_eq!(Scope::new("a:b:c:d:e:f:g:h:i"), Err(ScopeError::Segments));
        for good in ["*", "read:users", "2d-to-3d:create", "*:*", "a.b_c-d:*"] {
            assert!(Scope::new(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn wildcards_match_one_segment_in_place() {
        assert!(s("read:*").allows(&s("read:users")));
        assert!(s("*:create").allows(&s("lens:create")));
        assert!(!s("*:create").allows(&s("lens:read")));
        assert!(!s("read:*").allows(&s("read:users:all")));
        assert!(!s("read:users").allows(&s("read:*")));
        assert!(s("read:*").allows(&s("read:*")));
        assert!(s("*").allows(&s("anything:at:all")));
        assert!(!s("read").allows(&s("*")));
    }

    #[test]
    fn scope_sets_cover_and_round_trip() {
        let set = ScopeSet::parse(["write:*", "read:users", "read:users"]).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.covers(&ScopeSet::parse(["write:orders"]).unwrap()));
        assert!(!set.covers(&ScopeSet::parse(["read:orders"]).unwrap()));
        let text = set.to_space_separated();
        assert_eq!(ScopeSet::from_space_separated(&text).unwrap(), set);
        assert!(ScopeSet::all().is_all());
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["read:users","write:*"]"#);
        assert!(serde_json::from_str::<ScopeSet>(r#"["bad scope"]"#).is_err());
    }
}
