//! A deployment per test: a SQLite file in a temp dir, or a fresh schema on the Postgres
//! of `KEYGATE_TEST_POSTGRES_URL` (those tests are skipped, with a note, when it is
//! unset). Commands run in the deployment's temp dir with every `KEYGATE_` variable
//! removed, so nothing reads or writes outside it.

use std::path::PathBuf;
use std::str::FromStr as _;

use assert_cmd::cargo::cargo_bin_cmd;
use keygate_core::key::KeyId;
use keygate_core::{Access, Keygate};
use keygate_sqlx::setup::{Setup, Start};
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

pub const POSTGRES_URL: &str = "KEYGATE_TEST_POSTGRES_URL";

/// The variables the command line reads; removed from every command's environment.
const VARS: [&str; 5] = [
    "KEYGATE_DATABASE_URL",
    "KEYGATE_REDIS_URL",
    "KEYGATE_PEPPER",
    "KEYGATE_ADMIN_SECRET",
    "KEYGATE_TOKEN_SECRET",
];

/// Runs one test function against SQLite and against Postgres: a module per function,
/// with a test per store.
macro_rules! on_every_store {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(&$crate::common::Deployment::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(deployment) = $crate::common::Deployment::postgres(concat!(
                        module_path!(),
                        "::postgres"
                    ))
                    .await
                    else {
                        return;
                    };
                    super::$name(&deployment).await;
                }
            }
        )+
    };
}
pub(crate) use on_every_store;

/// Where a test's deployment lives.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub postgres: bool,
    _schema: Option<PgSchema>,
}

/// What a command did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Panics unless the command succeeded; returns its output.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "{self:#?}");
        assert!(self.stderr.is_empty(), "{self:#?}");
        self.stdout
    }

    /// Panics unless the command failed with `code` and an `error:` line containing
    /// every one of `needles`, and printed nothing on stdout.
    pub fn refused(self, code: i32, needles: &[&str]) -> String {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        for needle in needles {
            assert!(self.stderr.contains(needle), "{needle:?} in {self:#?}");
        }
        self.stderr
    }

    /// stdout as JSON.
    pub fn json(self) -> serde_json::Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
    }
}

impl Deployment {
    /// An empty temp dir; the database will be `keygate.db` in it.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keygate.db").display());
        Self {
            dir,
            url,
            postgres: false,
            _schema: None,
        }
    }

    /// A fresh schema on the test Postgres, and a temp dir for the pepper file.
    pub async fn postgres(test: &str) -> Option<Self> {
        let schema = PgSchema::new(test).await?;
        let url = format!(
            "{}{}options=-c%20search_path%3D{}",
            schema.url,
            if schema.url.contains('?') { '&' } else { '?' },
            schema.name
        );
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            url,
            postgres: true,
            _schema: Some(schema),
        })
    }

    /// The pepper file: beside the SQLite file, or named by --pepper-file for Postgres.
    pub fn pepper_file(&self) -> PathBuf {
        self.dir.path().join("keygate.pepper")
    }

    /// `keygate --database-url … [--pepper-file …]`, in the temp dir, with no `KEYGATE_`
    /// variable set.
    pub fn keygate(&self) -> assert_cmd::Command {
        let mut command = bare();
        command
            .current_dir(self.dir.path())
            .arg("--database-url")
            .arg(&self.url);
        if self.postgres {
            command.arg("--pepper-file").arg(self.pepper_file());
        }
        command
    }

    /// Runs `keygate <global flags> args…`.
    pub fn run(&self, args: &[&str]) -> Ran {
        ran(self.keygate().args(args))
    }

    /// `keygate init`; returns the admin secret.
    pub fn init(&self) -> String {
        let shown = self.run(&["--json", "init"]).json();
        shown["admin_secret"].as_str().unwrap().to_owned()
    }

    /// `keygate keys create args…`; returns the key's id and text.
    pub fn create(&self, args: &[&str]) -> (String, String) {
        let shown = self
            .run(&[&["--json", "keys", "create"], args].concat())
            .json();
        (
            shown["id"].as_str().unwrap().to_owned(),
            shown["key"].as_str().unwrap().to_owned(),
        )
    }

    /// An engine on this deployment, opened as the platform opens it.
    pub async fn engine(&self) -> Keygate {
        let opened = Setup::new(&self.url)
            .pepper_file(self.pepper_file())
            .open(Start::OpenExisting)
            .await
            .unwrap();
        opened.keygate_builder().unwrap().build().unwrap()
    }
}

/// `keygate` with no `KEYGATE_` variable set.
pub fn bare() -> assert_cmd::Command {
    let mut command = cargo_bin_cmd!("keygate");
    for var in VARS {
        command.env_remove(var);
    }
    command
}

/// Runs `command` and collects what it did.
pub fn ran(command: &mut assert_cmd::Command) -> Ran {
    let output = command.output().unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// How the engine answers a request with `credential` (an API key or a token) as a bearer
/// token, on a route that needs `scope`: `Ok` or the error's code.
pub async fn call(keygate: &Keygate, credential: &str, scope: &str) -> Result<(), &'static str> {
    let request = http::Request::post("/")
        .header("authorization", format!("Bearer {credential}"))
        .body(())
        .unwrap();
    keygate
        .authenticate(&request, &Access::scoped(scope).unwrap())
        .await
        .map(|_| ())
        .map_err(|err| err.code())
}

/// Whether the platform secret `secret` opens admin routes.
pub async fn admits(keygate: &Keygate, secret: &str) -> bool {
    let request = http::Request::get("/")
        .header("x-client-secret", secret)
        .body(())
        .unwrap();
    keygate
        .authenticate(&request, &Access::admin())
        .await
        .is_ok()
}

/// A fresh, empty schema on the test Postgres, dropped with the value (even when the test
/// panicked); `None`, with a note on stderr, when `KEYGATE_TEST_POSTGRES_URL` is unset.
pub struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    async fn new(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var(POSTGRES_URL) else {
            eprintln!("skipping {test}: set {POSTGRES_URL} to run the Postgres tests");
            return None;
        };
        let id = KeyId::generate().unwrap();
        let name = format!("kg_cli_{}", id.as_str()[4..].to_lowercase());
        let options = PgConnectOptions::from_str(&url).unwrap();
        let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Some(Self { url, name })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let Ok(options) = PgConnectOptions::from_str(&self.url) else {
            return;
        };
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside the test's runtime, which cannot block on a future: a thread
        // with a runtime of its own does the clean-up.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?;
            runtime.block_on(async move {
                let mut conn = sqlx::PgConnection::connect_with(&options)
                    .await
                    .map_err(|err| err.to_string())?;
                sqlx::query(&sql)
                    .execute(&mut conn)
                    .await
                    .map_err(|err| err.to_string())?;
                conn.close().await.map_err(|err| err.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}
