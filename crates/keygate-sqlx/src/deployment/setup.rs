//! [`Setup`]: how a deployment's database, pepper and secrets are found, and
//! [`Setup::open`], the first start and every start after it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keygate_core::key::KeyHasher;
use keygate_core::token::TokenSecret;
use keygate_core::{Clock, Pepper, PlatformSecret, SystemClock};
use secrecy::{ExposeSecret, SecretString};

use super::error::SetupError;
use super::opened::{AdminSecret, ClockHandle, Opened};
use super::pepper_file::{PEPPER_FILE_NAME, create_pepper_file, read_pepper_file};
use super::sqlite_file::{SqliteFile, sqlite_file};
use crate::store::SqlStore;

/// The database URL used when none is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keygate.db";

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

#[cfg(test)]
mod tests {
    use super::*;

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
