//! What each command does: open the deployment as the platform does, ask the engine, and
//! say what happened. `keys`, `accounts` and `tokens` hold those commands; this file opens the
//! deployment and runs `init`.

mod accounts;
mod keys;
mod tokens;

use std::path::{Path, PathBuf};

use keygate_core::Keygate;
use keygate_redis::{RedisConfig, RedisConnection};
use keygate_sqlx::setup::{DEFAULT_DATABASE_URL, Opened, Setup, SetupError, Start};
use serde::Serialize;
use zeroize::Zeroize as _;

use crate::args::{Command, Global, OauthCommand, TokensCommand};
use crate::failure::{Failure, Redactions, chain};
use crate::output::Output;

/// Where the platform listens in the curl line `init` prints.
const PLATFORM_URL: &str = "http://127.0.0.1:8080";

/// Where the deployment is, from the flags and the environment (flags win).
struct Deployment {
    setup: Setup,
    url: String,
    /// `KEYGATE_REDIS_URL`: key changes are published there too, for the caches of
    /// platforms that listen on Redis.
    redis_url: Option<String>,
    pepper_from_env: bool,
    admin_secret_from_env: bool,
}

impl Deployment {
    fn new(global: &Global, redactions: &mut Redactions) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let url = global
            .database_url
            .clone()
            .or_else(|| var("KEYGATE_DATABASE_URL"))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        redactions.add_url(&url);
        let mut setup = Setup::new(url.clone());
        let mut pepper_from_env = false;
        match (&global.pepper_file, var("KEYGATE_PEPPER")) {
            (Some(path), pepper) => {
                if let Some(pepper) = pepper {
                    redactions.add(&pepper);
                }
                setup = setup.pepper_file(path);
            }
            (None, Some(pepper)) => {
                redactions.add(&pepper);
                setup = setup.pepper(pepper);
                pepper_from_env = true;
            }
            (None, None) => {}
        }
        let admin_secret = var("KEYGATE_ADMIN_SECRET");
        if let Some(secret) = &admin_secret {
            redactions.add(secret);
            setup = setup.admin_secret(secret.as_str());
        }
        if let Some(secret) = var("KEYGATE_TOKEN_SECRET") {
            redactions.add(&secret);
            setup = setup.token_secret(secret);
        }
        let redis_url = var("KEYGATE_REDIS_URL");
        if let Some(redis_url) = &redis_url {
            redactions.add_url(redis_url);
        }
        Self {
            setup,
            url,
            redis_url,
            pepper_from_env,
            admin_secret_from_env: admin_secret.is_some(),
        }
    }

    /// Opens a deployment that is set up, and the engine on it.
    async fn open(self) -> Result<(Opened, Keygate), Failure> {
        let opened = self.setup.open(Start::OpenExisting).await?;
        let keygate = match engine_builder(&opened, self.redis_url.as_deref()) {
            Ok(builder) => builder.build().map_err(|err| Failure::failed(chain(&err))),
            Err(err) => Err(err),
        };
        match keygate {
            Ok(keygate) => Ok((opened, keygate)),
            Err(err) => {
                opened.store().close().await;
                Err(err)
            }
        }
    }
}

/// The engine's builder on `opened`; with Redis, every key change (revoke, rotate) is
/// published there as well as on the SQL channel (Postgres `NOTIFY`, SQLite's change
/// table), so platforms listening on Redis drop the key at once. Nothing is sent to Redis
/// before a change: a command that changes no key works while Redis is down.
fn engine_builder(
    opened: &Opened,
    redis_url: Option<&str>,
) -> Result<keygate_core::KeygateBuilder, Failure> {
    let cache = opened.cached_store().map_err(SetupError::from)?;
    let Some(redis_url) = redis_url else {
        return Ok(opened.keygate_builder_with(cache)?);
    };
    let redis = RedisConnection::connect_lazy(RedisConfig::new(redis_url)).map_err(|err| {
        Failure::failed(format!(
            "{err}: fix KEYGATE_REDIS_URL (redis://[:password@]host:port[/db], or \
             redis+cluster://host:port,host:port), or unset it"
        ))
    })?;
    Ok(opened.keygate_builder_with(redis.publisher(cache))?)
}

/// Runs `command`, writing what it prints to `out`.
pub(crate) async fn run(
    global: &Global,
    command: Command,
    out: &mut Output,
    redactions: &mut Redactions,
) -> Result<(), Failure> {
    let deployment = Deployment::new(global, redactions);
    match command {
        Command::Init => init(deployment, out).await,
        Command::Keys(command) => {
            let (opened, keygate) = deployment.open().await?;
            let result = keys::run(&keygate, command, out).await;
            opened.store().close().await;
            result
        }
        Command::Accounts(command) => {
            let (opened, keygate) = deployment.open().await?;
            let result = accounts::run(&keygate, command, out).await;
            opened.store().close().await;
            result
        }
        Command::Tokens(TokensCommand::Mint(args)) => {
            // Checked before the database is opened: a wrong command line opens nothing.
            let request = tokens::request(&args)?;
            let (opened, keygate) = deployment.open().await?;
            let result = tokens::mint(&keygate, &args, request, out);
            opened.store().close().await;
            result
        }
        Command::Oauth(OauthCommand::Clients(command)) => {
            let (opened, _) = deployment.open().await?;
            let result = crate::oauth_clients::run(opened.store(), command, out).await;
            opened.store().close().await;
            result
        }
    }
}

async fn init(deployment: Deployment, out: &mut Output) -> Result<(), Failure> {
    let pepper_path = deployment.setup.pepper_path();
    let opened = deployment.setup.open(Start::CreateOnly).await?;
    let database = describe_database(&deployment.url);
    let pepper_file = pepper_path.as_deref().map(absolute);
    let (pepper_source, pepper_line) = match (opened.created_pepper_file(), &pepper_file) {
        _ if deployment.pepper_from_env => (
            "KEYGATE_PEPPER",
            "from KEYGATE_PEPPER (no file written; keep it with the database's backups)".to_owned(),
        ),
        (Some(_), Some(path)) => (
            "created",
            format!(
                "{} (new, readable by you only: back it up with the database, every key's hash depends on it)",
                path.display()
            ),
        ),
        (None, Some(path)) => (
            "existing",
            format!(
                "{} (was there already, and is used as it is)",
                path.display()
            ),
        ),
        (_, None) => (
            "memory",
            "generated for this in-memory database; gone when keygate exits".to_owned(),
        ),
    };
    let secret = opened.new_admin_secret().map(|secret| secret.expose());

    if out.json() {
        out.json_value(&InitReport {
            database: &database,
            pepper_file: pepper_file
                .as_ref()
                .filter(|_| !deployment.pepper_from_env)
                .map(|path| path.display().to_string()),
            pepper_source,
            admin_secret: secret,
            admin_secret_source: match secret {
                _ if deployment.admin_secret_from_env => "KEYGATE_ADMIN_SECRET",
                Some(_) => "generated",
                None => "stored",
            },
        });
    } else {
        out.line("keygate is set up.");
        out.line("");
        out.fields(&[("database", database), ("pepper", pepper_line)]);
        out.line("");
        let mut header = match secret {
            Some(secret) => {
                out.line("Admin secret (the platform secret for x-client-secret). It is shown this once:");
                out.line("keygate keeps only its hash. Store it in your secret manager now.");
                out.line("");
                out.line(format!("    {secret}"));
                format!("x-client-secret: {secret}")
            }
            None if deployment.admin_secret_from_env => {
                out.line(
                    "Admin secret: the one in KEYGATE_ADMIN_SECRET (nothing was stored; give the",
                );
                out.line("platform the same variable).");
                "x-client-secret: $KEYGATE_ADMIN_SECRET".to_owned()
            }
            None => {
                // Another process set the database up at the same moment: its secret won.
                out.line("Admin secret: another process set this database up at the same moment;");
                out.line("its secret is the one, and was shown there.");
                "x-client-secret: <the admin secret>".to_owned()
            }
        };
        // The variable's value is read by the shell, so it goes in double quotes.
        let quote = if secret.is_none() && deployment.admin_secret_from_env {
            '"'
        } else {
            '\''
        };
        out.line("");
        out.line(format!(
            "Create a first key on the platform ({PLATFORM_URL}):"
        ));
        out.line("");
        out.line(format!(
            "    curl -X POST {PLATFORM_URL}/api/v1/admin/keys \\"
        ));
        out.line(format!("      -H {quote}{header}{quote} \\"));
        out.line("      -H 'content-type: application/json' \\");
        out.line(r#"      -d '{"kind": "secret", "environment": "test", "tenant": "acme"}'"#);
        out.line("");
        out.line("or here:");
        out.line("");
        out.line("    keygate keys create --kind secret --environment test --tenant acme");
        header.zeroize();
    }
    opened.store().close().await;
    Ok(())
}

/// `init --json`.
#[derive(Serialize)]
struct InitReport<'a> {
    database: &'a str,
    pepper_file: Option<String>,
    pepper_source: &'static str,
    admin_secret: Option<&'a str>,
    admin_secret_source: &'static str,
}

/// Where the database is, for people: a SQLite file's absolute path, or a Postgres URL
/// without its user, password and parameters.
fn describe_database(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
            return "SQLite, in memory (gone when keygate exits)".to_owned();
        }
        return format!("SQLite, {}", absolute(Path::new(path)).display());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database at --database-url (or KEYGATE_DATABASE_URL)".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("Postgres, {scheme}://{host}/{path}")
}

/// `path`, absolute when the working directory is known.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_are_described_without_credentials() {
        assert_eq!(
            describe_database(
                "postgres://kg:hunter2@db.internal:5432/keygate?sslmode=require&password=x"
            ),
            "Postgres, postgres://db.internal:5432/keygate"
        );
        assert_eq!(
            describe_database("sqlite:///var/lib/keygate/keygate.db?mode=rwc"),
            "SQLite, /var/lib/keygate/keygate.db"
        );
        assert!(describe_database("sqlite::memory:").contains("in memory"));
    }
}
