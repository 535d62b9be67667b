//! A deployment's first start and every start after it: the database, the pepper and the
//! platform secret, found or created the same way by every program that opens them (the
//! reference platform, the `keygate` command line, your service).
//!
//! ```no_run
//! use keygate_sqlx::deployment::{Setup, Start};
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
//!
//! `keygate_sqlx::setup` is the same module under its older name.

mod error;
mod opened;
mod pepper_file;
mod setup;
mod sqlite_file;

pub use error::SetupError;
pub use opened::Opened;
pub use pepper_file::PEPPER_FILE_NAME;
pub use setup::{DEFAULT_DATABASE_URL, Setup, Start};
