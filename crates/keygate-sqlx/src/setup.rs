//! A deployment's first start and every start after it: the database, the pepper and the
//! platform secret, found or created the same way by every program that opens them (the
//! reference platform, the `keygate` command line, your service).
//!
//! ```no_run
//! use keygate_sqlx::setup::{Setup, Start};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let opened = Setup::from_env().open(Start::OpenOrCreate).await?;
//! if let Some(secret) = opened.new_admin_secret() {
//!     // Shown once: only its digest is stored.
//!     println!("admin secret: {}", secret.expose());
//! }
//! let keygate = opened.keygate_builder()?.build()?;
//! # let _ = keygate;
//! # Ok(())
//! # }
//! ```
//!
//! What is found, in order:
//!
//! - **The database**, from the URL (`KEYGATE_DATABASE_URL`, default
//!   `sqlite://keygate.db`). A SQLite file is created when missing; the schema is brought
//!   up to date.
//! - **The pepper**: the text given (`KEYGATE_PEPPER`), else the pepper file: next to the
//!   SQLite file (`keygate.pepper`), or in the working directory for Postgres. On a fresh
//!   database a missing file is generated (mode 0600). On a database that was set up
//!   already (it records a pepper id or a secret digest, or holds keys) a missing pepper is
//!   an error, never a new pepper: every stored key would stop matching. The database
//!   records the pepper's id (never the pepper), and every key names its pepper, so a
//!   wrong pepper is refused at start rather than failing every key. The file is written
//!   atomically (a temporary file, then a link), so a crash never leaves half a pepper.
//! - **The platform secret**: the text given (`KEYGATE_ADMIN_SECRET`), else the digest
//!   stored on first start. A fresh database gets a generated secret whose digest is
//!   stored; [`Opened::new_admin_secret`] hands it back that one time, to be shown to the
//!   operator. A secret is generated only while a database is set up: a service's start
//!   on a database that was set up with a given secret, and is opened without one, is
//!   refused ([`SetupError::AdminSecretMissing`]) rather than mint and print a new admin
//!   credential; [`Start::OpenExisting`] opens it with no platform secret at all.
//! - **The token secret** (`KEYGATE_TOKEN_SECRET`, at least 32 bytes): when absent, tokens
//!   are signed with a key derived from the pepper, so every instance with the pepper
//!   verifies every other's tokens.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keygate_core::key::KeyHasher;
use keygate_core::secret::PepperId;
use keygate_core::store::{CachedKeyStore, KeyCacheConfig};
use keygate_core::token::{TokenIssuer, TokenSecret};
use keygate_core::{Clock, KeygateBuilder, Pepper, PlatformSecret, StoreError, SystemClock};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ConnectError;
use crate::store::SqlStore;

/// The database URL used when none is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keygate.db";
/// The pepper file's name, next to the SQLite file (or in the working directory).
pub const PEPPER_FILE_NAME: &str = "keygate.pepper";

/// How a deployment's database, pepper and platform secret are found. Built from the
/// environment with [`Setup::from_env`] or by hand; nothing happens until
/// [`open`](Setup::open).
#[derive(Clone)]
pub struct Setup {
    database_url: SecretString,
    pepper: Option<SecretString>,
    pepper_file: Option<PathBuf>,
    admin_secret: Option<SecretString>,
    token_secret: Option<SecretString>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password; the rest are secrets.
        f.debug_struct("Setup")
            .field("pepper_file", &self.pepper_file)
            .field("pepper", &self.pepper.as_ref().map(|_| ".."))
            .field("admin_secret", &self.admin_secret.as_ref().map(|_| ".."))
            .field("token_secret", &self.token_secret.as_ref().map(|_| ".."))
            .finish_non_exhaustive()
    }
}

/// What [`Setup::open`] may do to a database that was never set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Start {
    /// Open it, setting it up on first start (a service's start).
    OpenOrCreate,
    /// Set up a fresh database; refuse one that is set up already (`keygate init`).
    CreateOnly,
    /// Open a database that is set up; refuse a missing or fresh one (the command line's
    /// other commands, which should not leave a stray database behind a typo).
    OpenExisting,
}

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
    /// [`Start::OpenExisting`] and the SQLite file does not exist.
    #[error(
        "there is no database at {0}: run `keygate init` first, or set KEYGATE_DATABASE_URL to the platform's database"
    )]
    DatabaseMissing(PathBuf),
    /// [`Start::OpenExisting`] and the database was never set up.
    #[error(
        "the database is not set up for keygate yet: run `keygate init`, or start the platform once"
    )]
    NotInitialised,
    /// [`Start::CreateOnly`] and the database is set up already.
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

impl Setup {
    /// A setup for the database at `url` (`sqlite://keygate.db`, `sqlite::memory:`,
    /// `postgres://…`), with the pepper file beside it and nothing else given.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: SecretString::from(database_url.into()),
            pepper: None,
            pepper_file: None,
            admin_secret: None,
            token_secret: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A setup from `KEYGATE_DATABASE_URL` (default [`DEFAULT_DATABASE_URL`]),
    /// `KEYGATE_PEPPER`, `KEYGATE_ADMIN_SECRET` and `KEYGATE_TOKEN_SECRET`; unset or
    /// empty variables are absent.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let mut setup = Self::new(
            var("KEYGATE_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        );
        setup.pepper = var("KEYGATE_PEPPER").map(SecretString::from);
        setup.admin_secret = var("KEYGATE_ADMIN_SECRET").map(SecretString::from);
        setup.token_secret = var("KEYGATE_TOKEN_SECRET").map(SecretString::from);
        setup
    }

    /// Replaces the database URL.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = SecretString::from(url.into());
        self
    }

    /// Uses this pepper (URL-safe base64, as the pepper file holds) instead of the file.
    pub fn pepper(mut self, text: impl Into<String>) -> Self {
        self.pepper = Some(SecretString::from(text.into()));
        self
    }

    /// Keeps the pepper in this file instead of beside the database.
    pub fn pepper_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pepper_file = Some(path.into());
        self
    }

    /// Uses this platform secret instead of the stored one (nothing is stored).
    pub fn admin_secret(mut self, text: impl Into<String>) -> Self {
        self.admin_secret = Some(SecretString::from(text.into()));
        self
    }

    /// Signs issued tokens with this key material instead of a key derived from the pepper.
    pub fn token_secret(mut self, text: impl Into<String>) -> Self {
        self.token_secret = Some(SecretString::from(text.into()));
        self
    }

    /// Reads the time from `clock` (the store's rows and the engine's checks).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Where the pepper file is for this setup; `None` for an in-memory database, whose
    /// pepper lives and dies with the process.
    pub fn pepper_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.pepper_file {
            return Some(path.clone());
        }
        match sqlite_file(self.database_url.expose_secret()) {
            SqliteFile::Memory => None,
            SqliteFile::Path(db) => Some(
                db.parent()
                    .unwrap_or_else(|| Path::new(""))
                    .join(PEPPER_FILE_NAME),
            ),
            SqliteFile::NotSqlite => Some(PathBuf::from(PEPPER_FILE_NAME)),
        }
    }

    /// Opens the database, then finds (or, on a fresh database, creates) the pepper and
    /// the platform secret.
    pub async fn open(self, start: Start) -> Result<Opened, SetupError> {
        let url = self.database_url.expose_secret();
        let sqlite = sqlite_file(url);
        if let (Start::OpenExisting, SqliteFile::Path(path)) = (start, &sqlite)
            && !path.exists()
        {
            return Err(SetupError::DatabaseMissing(path.clone()));
        }
        // Parse what was given before touching anything.
        let given_pepper = self
            .pepper
            .as_ref()
            .map(|text| Pepper::from_base64(text.expose_secret()))
            .transpose()
            .map_err(|_| SetupError::PepperInvalid)?;
        let given_secret = self
            .admin_secret
            .as_ref()
            .map(|text| {
                PlatformSecret::new(text.expose_secret()).ok_or(SetupError::AdminSecretInvalid)
            })
            .transpose()?;
        let token_secret = self
            .token_secret
            .as_ref()
            .map(|text| {
                TokenSecret::new(text.expose_secret().as_bytes().to_vec())
                    .map_err(|_| SetupError::TokenSecretInvalid)
            })
            .transpose()?;

        let store = SqlStore::connect(url)
            .await?
            .with_clock(ClockHandle(self.clock.clone()));
        let recorded_pepper = store.pepper_id().await.map_err(SetupError::Store)?;
        let stored_digest = store
            .platform_secret_digest()
            .await
            .map_err(SetupError::Store)?;
        // A database that holds keys was set up, even by a program that recorded neither
        // the pepper's id nor a platform secret (a store wired by hand): its keys name
        // their pepper.
        let key_pepper = store.newest_key_pepper().await.map_err(SetupError::Store)?;
        let initialised =
            recorded_pepper.is_some() || stored_digest.is_some() || key_pepper.is_some();
        match (start, initialised) {
            (Start::CreateOnly, true) => return Err(SetupError::AlreadyInitialised),
            (Start::OpenExisting, false) => return Err(SetupError::NotInitialised),
            _ => {}
        }

        let pepper_path = self.pepper_path();
        let mut created_pepper_file = None;
        let pepper = match (given_pepper, &pepper_path) {
            (Some(pepper), _) => pepper,
            (None, None) => Pepper::generate().map_err(|_| SetupError::Random)?,
            (None, Some(path)) => match read_pepper_file(path)? {
                Some(pepper) => pepper,
                None if initialised => return Err(SetupError::PepperMissing(path.clone())),
                None => {
                    let (pepper, created) = create_pepper_file(path)?;
                    if created {
                        created_pepper_file = Some(path.clone());
                    }
                    pepper
                }
            },
        };

        // The database remembers which pepper it was set up with; a stored digest made
        // with another pepper would be just as wrong. Both are checked before anything is
        // recorded, so a wrong pepper leaves no trace.
        let expected = recorded_pepper
            .or(stored_digest.as_ref().map(|digest| digest.pepper))
            .or(key_pepper);
        if let Some(expected) = expected
            && expected != pepper.id()
        {
            return Err(SetupError::PepperMismatch {
                expected,
                found: pepper.id(),
            });
        }
        let hasher = KeyHasher::new(&pepper);
        let admin = match (given_secret, stored_digest) {
            (Some(secret), _) => AdminSecret::Given(secret),
            (None, Some(digest)) => AdminSecret::Stored(digest),
            // A database set up with a given secret stores none. A tool that opens it
            // (the command line) must not generate one behind the operator's back: the
            // engine then opens no admin route, and the tool needs none.
            (None, None) if start == Start::OpenExisting => AdminSecret::Absent,
            // Set up earlier with a given secret (none stored): a start without it must not
            // mint a new admin credential and print it to whatever collects stdout.
            (None, None) if initialised => return Err(SetupError::AdminSecretMissing),
            (None, None) => {
                let secret = PlatformSecret::generate().map_err(|_| SetupError::Random)?;
                let stored = store
                    .init_platform_secret_digest(hasher.digest(secret.expose()))
                    .await
                    .map_err(SetupError::Store)?;
                if stored.inserted {
                    AdminSecret::Generated(secret, stored.value)
                } else {
                    // Another instance set up the same database at the same moment: its
                    // secret is the one, and this one opens nothing.
                    AdminSecret::Stored(stored.value)
                }
            }
        };

        // The digest goes in before the pepper's id: a start that finds the id recorded
        // also finds the digest (unless the database was set up with a given secret), so
        // a second instance starting at the same moment never mistakes a half set-up
        // database for one set up with a given secret.
        let stored_pepper = match &admin {
            AdminSecret::Stored(digest) | AdminSecret::Generated(_, digest) => Some(digest.pepper),
            AdminSecret::Given(_) | AdminSecret::Absent => None,
        };
        let recorded = match stored_pepper {
            Some(theirs) if theirs != pepper.id() => theirs,
            _ => {
                store
                    .init_pepper_id(pepper.id())
                    .await
                    .map_err(SetupError::Store)?
                    .value
            }
        };
        if recorded != pepper.id() {
            // Another instance set the database up with its own pepper a moment ago. The
            // file this start wrote holds a pepper nobody uses: leave no trace of it, so
            // the next start reports the missing pepper rather than this wrong one.
            if let Some(path) = &created_pepper_file {
                let _ = std::fs::remove_file(path);
            }
            return Err(SetupError::PepperMismatch {
                expected: recorded,
                found: pepper.id(),
            });
        }

        Ok(Opened {
            store,
            pepper,
            admin,
            token_secret,
            clock: self.clock,
            created_pepper_file,
            initialised_now: !initialised,
        })
    }
}

/// A deployment, opened: its store, pepper and platform secret, ready to build an engine.
pub struct Opened {
    store: SqlStore,
    pepper: Pepper,
    admin: AdminSecret,
    token_secret: Option<TokenSecret>,
    clock: Arc<dyn Clock>,
    created_pepper_file: Option<PathBuf>,
    initialised_now: bool,
}

enum AdminSecret {
    Absent,
    Given(PlatformSecret),
    Stored(keygate_core::key::KeyDigest),
    Generated(PlatformSecret, keygate_core::key::KeyDigest),
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("store", &self.store)
            .field("pepper", &self.pepper)
            .field("created_pepper_file", &self.created_pepper_file)
            .field("initialised_now", &self.initialised_now)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The store.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// The pepper.
    pub fn pepper(&self) -> &Pepper {
        &self.pepper
    }

    /// The platform secret generated by this start, if it generated one: show it to the
    /// operator now; it cannot be shown again.
    pub fn new_admin_secret(&self) -> Option<&PlatformSecret> {
        match &self.admin {
            AdminSecret::Generated(secret, _) => Some(secret),
            _ => None,
        }
    }

    /// Whether the platform secret was given as text (`KEYGATE_ADMIN_SECRET`) rather than
    /// stored.
    pub fn admin_secret_given(&self) -> bool {
        matches!(self.admin, AdminSecret::Given(_))
    }

    /// The pepper file this start created, if it created one.
    pub fn created_pepper_file(&self) -> Option<&Path> {
        self.created_pepper_file.as_deref()
    }

    /// Whether this start set the database up.
    pub fn initialised_now(&self) -> bool {
        self.initialised_now
    }

    /// The store behind a key cache that follows other instances' revocations (see
    /// [`SqlStore::cached_with`]). Needs a Tokio runtime.
    pub fn cached_store(&self) -> Result<CachedKeyStore<SqlStore>, ConnectError> {
        self.store
            .cached_with(KeyCacheConfig::default(), ClockHandle(self.clock.clone()))
    }

    /// An engine builder with everything this deployment holds: the pepper, the platform
    /// secret, the token key, the cached store, the SQL meter and the clock. Needs a Tokio
    /// runtime (the cache's listener).
    pub fn keygate_builder(&self) -> Result<KeygateBuilder, SetupError> {
        // `Pepper` is deliberately not `Clone`; a second copy is made from its text.
        let pepper = Pepper::from_base64(self.pepper.to_base64().expose_secret())
            .map_err(|_| SetupError::PepperInvalid)?;
        let builder = keygate_core::Keygate::builder()
            .pepper(pepper)
            .key_store(self.cached_store()?)
            .meter(self.store.meter())
            .clock(ClockHandle(self.clock.clone()));
        let builder = match &self.admin {
            AdminSecret::Absent => builder,
            AdminSecret::Given(secret) => builder.platform_secret(secret),
            AdminSecret::Stored(digest) | AdminSecret::Generated(_, digest) => {
                builder.platform_secret_digest(*digest)
            }
        };
        Ok(match &self.token_secret {
            Some(secret) => builder.token_issuer(TokenIssuer::hs256(secret)),
            None => builder,
        })
    }
}

/// A shared clock, handed to the store and the engine.
#[derive(Debug, Clone)]
struct ClockHandle(Arc<dyn Clock>);

impl Clock for ClockHandle {
    fn now(&self) -> time::OffsetDateTime {
        self.0.now()
    }
}

enum SqliteFile {
    Memory,
    Path(PathBuf),
    NotSqlite,
}

/// The file a `sqlite:` URL names.
fn sqlite_file(url: &str) -> SqliteFile {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return SqliteFile::NotSqlite;
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        SqliteFile::Memory
    } else {
        SqliteFile::Path(PathBuf::from(path))
    }
}

/// The pepper in `path`; `None` when there is no such file.
fn read_pepper_file(path: &Path) -> Result<Option<Pepper>, SetupError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => zeroize::Zeroizing::new(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SetupError::PepperFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    check_private(path)?;
    Pepper::from_base64(&text)
        .map(Some)
        .map_err(|_| SetupError::PepperFileInvalid(path.to_owned()))
}

/// Writes a new pepper to `path`, readable by its owner only, atomically: the pepper goes
/// to a temporary file beside it, which is then linked to `path` only if `path` does not
/// exist. A crash leaves no half-written pepper file, and of two processes starting at
/// once exactly one file wins; the other reads it. The flag says whether this call wrote
/// it.
fn create_pepper_file(path: &Path) -> Result<(Pepper, bool), SetupError> {
    let pepper = Pepper::generate().map_err(|_| SetupError::Random)?;
    let io_error = |source| SetupError::PepperFile {
        path: path.to_owned(),
        source,
    };
    // Unique per process and moment; `create_new` refuses a clash rather than share.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let temporary = path.with_file_name(format!(
        ".{PEPPER_FILE_NAME}.{}.{nanos}.tmp",
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(pepper.to_base64().expose_secret().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    // A filesystem without hard links (some network and FUSE mounts) gets the plain
    // exclusive create: not crash-atomic, still never an overwrite.
    let linked = match linked {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
            write_exclusively(path, &pepper)
        }
        other => other,
    };
    match linked {
        Ok(()) => {
            sync_directory_of(path);
            Ok((pepper, true))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = read_pepper_file(path)?
                .ok_or_else(|| io_error(std::io::ErrorKind::NotFound.into()))?;
            Ok((theirs, false))
        }
        Err(err) => Err(io_error(err)),
    }
}

/// Writes `pepper` to a new file at `path` (mode 0600), refusing an existing one.
fn write_exclusively(path: &Path, pepper: &Pepper) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pepper.to_base64().expose_secret().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Makes the new directory entry of `path` durable before the database records the
/// pepper's id: otherwise a crash could keep the record and lose the file.
fn sync_directory_of(path: &Path) {
    #[cfg(unix)]
    {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if let Err(error) = std::fs::File::open(directory).and_then(|dir| dir.sync_all()) {
            tracing::warn!(%error, "could not sync the pepper file's directory");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Refuses a pepper file that other users can read.
fn check_private(path: &Path) -> Result<(), SetupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|source| SetupError::PepperFile {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SetupError::PepperFileExposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let path = |url| match sqlite_file(url) {
            SqliteFile::Path(path) => Some(path),
            _ => None,
        };
        assert_eq!(
            path("sqlite://keygate.db"),
            Some(PathBuf::from("keygate.db"))
        );
        assert_eq!(
            path("sqlite:data/k.db?mode=rwc"),
            Some(PathBuf::from("data/k.db"))
        );
        assert_eq!(
            path("sqlite:///var/lib/k.db"),
            Some(PathBuf::from("/var/lib/k.db"))
        );
        assert!(matches!(sqlite_file("sqlite::memory:"), SqliteFile::Memory));
        assert!(matches!(
            sqlite_file("sqlite://x.db?mode=memory"),
            SqliteFile::Memory
        ));
        assert!(matches!(
            sqlite_file("postgres://localhost/db"),
            SqliteFile::NotSqlite
        ));
    }

    #[test]
    fn the_pepper_file_sits_beside_the_database() {
        assert_eq!(
            Setup::new("sqlite:///var/lib/keygate/k.db").pepper_path(),
            Some(PathBuf::from("/var/lib/keygate/keygate.pepper"))
        );
        assert_eq!(
            Setup::new("sqlite://keygate.db").pepper_path(),
            Some(PathBuf::from("keygate.pepper"))
        );
        assert_eq!(
            Setup::new("postgres://db/x").pepper_path(),
            Some(PathBuf::from("keygate.pepper"))
        );
        assert_eq!(Setup::new("sqlite::memory:").pepper_path(), None);
        let debug = format!("{:?}", Setup::new("postgres://u:hunter2@db/x").pepper("p"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
