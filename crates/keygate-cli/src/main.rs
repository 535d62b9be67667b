//! # keygate
//!
//! The `keygate` command line: set up a deployment, manage its API keys and mint tokens,
//! on the same SQLite file or Postgres database as the platform it serves. A key created
//! here works on the platform at once; a key revoked here is refused by every running
//! instance within a second (SQLite) or at once (Postgres).
//!
//! ```text
//! keygate init                                              # database, pepper, admin secret (shown once)
//! keygate keys create --kind secret --environment live --tenant acme
//! keygate keys create --kind restricted --tenant acme --scope read:users --rate-limit 100/60s --credits 500
//! keygate keys list --tenant acme                           # never shows a key's text
//! keygate keys show key_…
//! keygate keys rotate key_… --grace 1h                      # the new text, shown once
//! keygate keys revoke key_…
//! keygate keys credits key_… --add 1000
//! keygate keys create --kind secret --environment live --tenant acme --owner 'auth0|abc'
//! keygate accounts show 'acme/auth0|abc'                    # balance, refill, active keys
//! keygate accounts credits acme/user_42 --add 1000          # shared by the account's keys
//! keygate accounts refill acme/user_42 --amount 500 --interval daily   # or --clear
//! keygate tokens mint --resource lens --action create [--type session --duration 60]
//! keygate oauth clients create --name "Acme CRM" --redirect-uri https://crm.acme.example/cb --scope read:users
//! keygate oauth clients list [--tenant acme]                # never shows a secret
//! keygate oauth clients remove cl_…                         # revokes the client's grants
//! keygate --json keys list                                  # the admin API's JSON, for scripts
//! ```
//!
//! ## Where the deployment is
//!
//! The deployment is opened exactly as the platform opens it
//! ([`keygate_sqlx::setup`]): `KEYGATE_DATABASE_URL` (default `sqlite://keygate.db`),
//! `KEYGATE_PEPPER` or the pepper file beside the SQLite file (in the working directory
//! for Postgres), `KEYGATE_TOKEN_SECRET` when the platform signs tokens with one, and
//! `KEYGATE_ADMIN_SECRET` for `init`. `--database-url` and `--pepper-file` override the
//! environment. Every command but `init` refuses a database that is not set up, so a typo
//! in a path never leaves a stray database behind.
//!
//! The pepper is taken from the environment or a file, never from a flag: a command
//! line can be read by every user of the machine (`ps`, `/proc`) and lands in shell
//! history.
//!
//! ## Output
//!
//! Tables and `name value` lines for people; with `--json`, the admin API's shapes
//! (`keygate_core::key::KeyView` for a key, `{"keys": [...]}` for a list,
//! `keygate_core::account::AccountView` for an account, the body of
//! `POST /api/v1/token` for a token). A key's text is printed only by `keys create` and
//! `keys rotate`, with a line saying it is shown once; `init` prints the admin secret the
//! same way. Text from the database (a key's name) is printed with control characters
//! replaced, so a name cannot rewrite the operator's terminal.
//!
//! ## Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | it could not be done: no database, not set up, set up already (`init`), wrong pepper, unknown key, a revoked key rotated, the database unreachable; the message says what to do |
//! | 2 | the command line is wrong: an unknown option or value, or a value keygate refuses (bad prefix, scope, tenant, rate limit, negative credits, metadata that is not a JSON object, an expiry in the past); nothing was changed: fix it and rerun |
//!
//! Errors go to standard error, start with `error:`, and never show a secret or the
//! database URL.
//!
//! See `docs/cli.md` for the guide.

#![forbid(unsafe_code)]
// What a command prints is collected in `output::Output` and written once, with the error
// of a closed pipe handled (`println!` would panic on it), so there is no print macro to
// allow here: the workspace's `print_stdout` and `print_stderr` lints hold as they are.

mod args;
mod commands;
mod failure;
mod oauth_clients;
mod output;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::args::Cli;
use crate::failure::{Failure, Redactions};
use crate::output::Output;

fn main() -> ExitCode {
    // clap prints help and version (exit 0) and usage errors (exit 2) itself.
    let cli = Cli::try_parse().unwrap_or_else(|err| err.exit());
    // `init` prints the admin secret, which exists nowhere else: its output must arrive.
    let shows_client_secret = matches!(
        cli.command,
        args::Command::Oauth(args::OauthCommand::Clients(args::ClientsCommand::Create(_)))
    );
    let shows_a_secret = matches!(cli.command, args::Command::Init) || shows_client_secret;
    let mut out = Output::new(cli.global.json);
    let mut redactions = Redactions::default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return report(
                &Failure::failed(format!("could not start the async runtime: {err}")),
                &redactions,
            );
        }
    };
    let result = runtime.block_on(commands::run(
        &cli.global,
        cli.command,
        &mut out,
        &mut redactions,
    ));
    // Background tasks (the key cache's listener) end with the runtime, before the
    // output is written.
    drop(runtime);
    match result {
        Ok(()) => match out.write() {
            Ok(()) => ExitCode::SUCCESS,
            // The reader went away (`keygate keys list | head -1`): nothing left to say.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe && !shows_a_secret => {
                ExitCode::SUCCESS
            }
            Err(_) if shows_client_secret => report(
                &Failure::failed(
                    "the client is registered, but its secret could not be printed and is lost \
                     (only its hash is stored): remove it with `keygate oauth clients remove` \
                     and create another",
                ),
                &redactions,
            ),
            Err(_) if shows_a_secret => report(
                &Failure::failed(
                    "the database is set up, but its admin secret could not be printed and is \
                     lost (only its hash is stored): start the platform with \
                     KEYGATE_ADMIN_SECRET set to a secret of your own",
                ),
                &redactions,
            ),
            Err(err) => report(
                &Failure::failed(format!("could not write to standard output: {err}")),
                &redactions,
            ),
        },
        Err(failure) => report(&failure, &redactions),
    }
}

/// Prints `failure` to standard error and returns its exit code.
fn report(failure: &Failure, redactions: &Redactions) -> ExitCode {
    let text = match failure {
        Failure::Usage(err) => err.render().to_string(),
        Failure::Failed(message) => format!("error: {message}\n"),
    };
    let text = redactions.apply(&text);
    // Nothing more can be said when standard error is closed too.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    ExitCode::from(failure.exit_code())
}
