//! The store axis of the platform suite: where the deployment's database is.

use std::any::Any;
use std::future::Future;

use keygate_sqlx::setup::Setup;

/// A fresh database for one test.
pub trait Database: 'static {
    /// The database's name, as in the test names (`platform::postgres::…`).
    const NAME: &'static str;

    /// The platform's setup on a fresh database (and its pepper file in a fresh
    /// directory), with a guard that cleans both up when dropped; `None` (and a note on
    /// stderr) when the database is not available on this machine.
    fn setup() -> impl Future<Output = Option<(Setup, Box<dyn Any + Send>)>>;
}

/// A fresh SQLite file in a temporary directory, the pepper file beside it: the
/// platform's default `sqlite://keygate.db`, elsewhere.
#[derive(Debug)]
pub struct Sqlite;

impl Database for Sqlite {
    const NAME: &'static str = "sqlite";

    async fn setup() -> Option<(Setup, Box<dyn Any + Send>)> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
        Some((Setup::new(url), Box::new(dir)))
    }
}

/// A fresh schema of the Postgres at `KEYGATE_TEST_POSTGRES_URL` (dropped afterwards),
/// reached through the URL's `options` (`-c search_path=…`), the pepper file in a
/// temporary directory.
#[derive(Debug)]
pub struct Postgres;

impl Database for Postgres {
    const NAME: &'static str = "postgres";

    async fn setup() -> Option<(Setup, Box<dyn Any + Send>)> {
        let (url, schema, drop_schema) = crate::stores::fresh_schema().await?;
        let joiner = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{joiner}options=-c%20search_path%3D{schema}");
        let dir = tempfile::tempdir().expect("a temp dir");
        let setup = Setup::new(url).pepper_file(dir.path().join("keygate.pepper"));
        // Dropped in order: the schema, then the directory.
        Some((setup, Box::new((drop_schema, dir))))
    }
}
