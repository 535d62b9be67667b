//! How SQL failures become keygate errors. Messages are fixed text: no SQL, no values,
//! no connection string.

use keygate_core::StoreError;

/// A query failed: rows that do not decode are corrupt, anything else means the database
/// did not answer (503, fail closed).
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => {
            StoreError::corrupt("a stored row does not match the keygate schema")
        }
        other => StoreError::unavailable("the SQL store did not answer", other),
    }
}

/// Whether `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("a database URL starts with sqlite: or postgres: (got scheme {0:?})")]
    UnsupportedScheme(String),
    /// The URL names a backend this build of keygate-sqlx leaves out.
    #[error("keygate-sqlx was built without its {0:?} feature")]
    FeatureDisabled(&'static str),
    /// The URL could not be parsed. (The URL itself is not repeated: it may hold a password.)
    #[error("the database URL is malformed")]
    Url(#[source] sqlx::Error),
    /// The database did not answer.
    #[error("could not connect to the database")]
    Connect(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("could not apply keygate's migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A background listener needs a Tokio runtime, and none is running.
    #[error("keygate-sqlx needs a Tokio runtime here (call it from within one)")]
    NoRuntime,
}
