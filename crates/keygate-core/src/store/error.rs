use std::borrow::Cow;
use std::error::Error;

/// A store or counter backend failed. keygate answers 503 `auth_unavailable` and never
/// lets the request through.
///
/// The message is written by the store and must not contain secrets or connection
/// strings with passwords; the source error is kept for logs.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn Error + Send + Sync>>,
}

/// What kind of store failure this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The backend did not answer (connection refused, timeout, pool exhausted).
    Unavailable,
    /// A uniqueness rule was broken (duplicate id or digest).
    Conflict,
    /// Stored data could not be read back (corrupt or from an unknown schema).
    Corrupt,
    /// The store does not implement this operation (a store written before it existed).
    Unsupported,
}

impl StoreError {
    /// The backend did not answer.
    pub fn unavailable(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A uniqueness rule was broken.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: StoreErrorKind::Conflict,
            message: message.into(),
            source: None,
        }
    }

    /// Stored data could not be read back.
    pub fn corrupt(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: StoreErrorKind::Corrupt,
            message: message.into(),
            source: None,
        }
    }

    /// The store does not implement this operation.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: StoreErrorKind::Unsupported,
            message: message.into(),
            source: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}
