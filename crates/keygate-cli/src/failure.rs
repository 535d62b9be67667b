//! Why a command did not do its work, and the exit code that says so: 2 when the command
//! line is wrong (rerun it fixed), 1 when it could not be done (the message says why and
//! what to do). Messages never hold a secret or the database URL.

use std::error::Error as StdError;
use std::fmt::Display;

use clap::CommandFactory as _;
use clap::error::ErrorKind;
use keygate_core::AdminError;
use keygate_core::key::KeyId;
use keygate_sqlx::ConnectError;
use keygate_sqlx::setup::SetupError;

use crate::args::Cli;

/// A command's failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line is wrong: clap renders it with the command's usage; exit code 2.
    Usage(Box<clap::Error>),
    /// The command could not be done; exit code 1. The text says why and what to do.
    Failed(String),
}

impl Failure {
    /// A failure (exit code 1) with `message`.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// A usage error (exit code 2) of the command at `path` (`["keys", "create"]`), shown
    /// with that command's usage line.
    pub(crate) fn usage(path: &[&str], message: impl Display) -> Self {
        let mut root = Cli::command();
        // Building sets every subcommand's full name ("keygate keys create") for its usage.
        root.build();
        Self::Usage(Box::new(subcommand_error(&mut root, path, message)))
    }

    /// The exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

/// A usage error of the subcommand of `command` at `path`.
fn subcommand_error(
    command: &mut clap::Command,
    path: &[&str],
    message: impl Display,
) -> clap::Error {
    if let Some((name, rest)) = path.split_first()
        && let Some(sub) = command.find_subcommand_mut(name)
    {
        return subcommand_error(sub, rest, message);
    }
    command.error(ErrorKind::ValueValidation, message)
}

/// A deployment that could not be opened or set up.
impl From<SetupError> for Failure {
    fn from(err: SetupError) -> Self {
        let what_to_do = match &err {
            SetupError::Connect(ConnectError::Connect(_) | ConnectError::Migrate(_)) => Some(
                "check that the database is running and that --database-url (or KEYGATE_DATABASE_URL) names it",
            ),
            SetupError::Connect(ConnectError::Url(_)) => Some(
                "give --database-url (or KEYGATE_DATABASE_URL) as sqlite://path/to/keygate.db or postgres://user@host/database",
            ),
            SetupError::Store(_) => {
                Some("check that the database is reachable, then run the command again")
            }
            SetupError::AlreadyInitialised => Some(
                "use it with `keygate keys ...`, or give init another --database-url for a new deployment",
            ),
            _ => None,
        };
        let mut message = chain(&err);
        if let Some(what_to_do) = what_to_do {
            message.push_str(": ");
            message.push_str(what_to_do);
        }
        Self::Failed(message)
    }
}

/// A key operation the engine refused or could not do. `id` is the key the command named.
pub(crate) fn admin_failure(err: AdminError, id: Option<&KeyId>) -> Failure {
    match (&err, id) {
        (AdminError::NotFound, Some(id)) => Failure::failed(format!(
            "no key has the id {id}: `keygate keys list` shows the keys (and check that \
             --database-url or KEYGATE_DATABASE_URL names the platform's database)"
        )),
        (AdminError::Unavailable(_), _) => Failure::failed(format!(
            "{}: check that the database is reachable, then run the command again",
            chain(&err)
        )),
        (AdminError::Conflict(_), _) => {
            Failure::failed(format!("{}: run the command again", chain(&err)))
        }
        _ => Failure::failed(chain(&err)),
    }
}

/// `err` and its sources, `: `-separated, each said once.
pub(crate) fn chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// Texts an error message must never show: the database URL and its password, and the
/// secrets given in the environment. Whatever a library puts in an error, these are
/// replaced before it reaches the terminal.
#[derive(Default)]
pub(crate) struct Redactions {
    texts: Vec<zeroize::Zeroizing<String>>,
}

impl Redactions {
    /// Adds `text` (ignored when too short to be told apart from ordinary words).
    pub(crate) fn add(&mut self, text: &str) {
        if text.len() >= 6 {
            self.texts.push(zeroize::Zeroizing::new(text.to_owned()));
        }
    }

    /// Adds a database URL and the password it may hold.
    pub(crate) fn add_url(&mut self, url: &str) {
        self.add(url);
        if let Some(password) = url_password(url) {
            self.add(password);
        }
    }

    /// `message` with every redacted text replaced.
    pub(crate) fn apply(&self, message: &str) -> String {
        let mut message = message.to_owned();
        for text in &self.texts {
            if message.contains(text.as_str()) {
                message = message.replace(text.as_str(), "[redacted]");
            }
        }
        message
    }
}

/// The password of `scheme://user:password@host/…`.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_urls_are_redacted() {
        let mut redactions = Redactions::default();
        redactions.add_url("postgres://kg:hunter22@db:5432/kg?sslmode=require");
        let shown = redactions.apply(
            "could not connect to postgres://kg:hunter22@db:5432/kg?sslmode=require (hunter22)",
        );
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(!shown.contains("db:5432"), "{shown}");
        assert_eq!(url_password("postgres://kg@db/kg"), None);
        assert_eq!(url_password("sqlite://keygate.db"), None);
    }

    #[test]
    fn usage_errors_name_the_command() {
        let Failure::Usage(err) = Failure::usage(&["keys", "create"], "prefix: nope") else {
            unreachable!("a usage error");
        };
        let text = err.render().to_string();
        assert!(text.contains("keygate keys create"), "{text}");
        assert!(text.starts_with("error: "), "{text}");
        assert_eq!(err.exit_code(), 2);
    }
}
