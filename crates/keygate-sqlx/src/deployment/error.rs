//! [`SetupError`]: why a deployment could not be opened, each with what to change.

use std::path::PathBuf;

use keygate_core::StoreError;
use keygate_core::secret::PepperId;

use crate::error::ConnectError;

/// Why a deployment could not be opened. Every message says what to change; none repeats
/// a secret or the database URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database answered with an error.
    #[error("the database failed while keygate read its settings")]
    Store(#[source] StoreError),
    /// [`Start::OpenExisting`](super::Start::OpenExisting) and the SQLite file does not exist.
    #[error(
        "there is no database at {0}: run `keygate init` first, or set KEYGATE_DATABASE_URL to the platform's database"
    )]
    DatabaseMissing(PathBuf),
    /// [`Start::OpenExisting`](super::Start::OpenExisting) and the database was never set up.
    #[error(
        "the database is not set up for keygate yet: run `keygate init`, or start the platform once"
    )]
    NotInitialised,
    /// [`Start::CreateOnly`](super::Start::CreateOnly) and the database is set up already.
    #[error(
        "the database is set up already (its admin secret was shown when it was set up); nothing was changed"
    )]
    AlreadyInitialised,
    /// The pepper text given is not a pepper.
    #[error(
        "KEYGATE_PEPPER is not a pepper: it is URL-safe base64 (no padding) of 32 to 1024 random bytes, as keygate.pepper holds"
    )]
    PepperInvalid,
    /// The pepper file is not a pepper.
    #[error(
        "{0} is not a pepper file: it holds URL-safe base64 (no padding) of 32 to 1024 random bytes"
    )]
    PepperFileInvalid(PathBuf),
    /// The pepper file could not be read or written.
    #[error("could not use the pepper file {path}: {source}")]
    PepperFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The pepper file can be read by other users.
    #[error(
        "the pepper file {path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`"
    )]
    PepperFileExposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The database was set up, and no pepper is given or found.
    #[error(
        "this database was set up with a pepper that is not here: restore {0}, or set KEYGATE_PEPPER to the pepper it was set up with"
    )]
    PepperMissing(PathBuf),
    /// The pepper given is not the one the database was set up with.
    #[error(
        "this database was set up with pepper {expected}, but the pepper given is {found}: set KEYGATE_PEPPER (or the pepper file) to the pepper the database was set up with"
    )]
    PepperMismatch {
        /// The id the database records.
        expected: PepperId,
        /// The id of the pepper given.
        found: PepperId,
    },
    /// The database was set up with a given admin secret, and none is given now.
    #[error(
        "this database stores no admin secret (it was set up with KEYGATE_ADMIN_SECRET): set KEYGATE_ADMIN_SECRET again"
    )]
    AdminSecretMissing,
    /// The admin secret text given is not usable.
    #[error("KEYGATE_ADMIN_SECRET must be 24 to 255 printable ASCII characters")]
    AdminSecretInvalid,
    /// The token secret text given is too short.
    #[error(
        "KEYGATE_TOKEN_SECRET must be at least 32 bytes (for example the output of `openssl rand -hex 32`)"
    )]
    TokenSecretInvalid,
    /// The OS random source failed.
    #[error("the operating system's random source failed")]
    Random,
}
