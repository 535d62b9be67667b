//! The `keygate` binary, run as an operator runs it, on SQLite and on Postgres: every
//! command, its output in both forms, its exit codes, and what the platform's engine
//! makes of the keys and tokens it hands out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    unreachable_pub
)]

mod common;

mod accounts;
mod init;
mod keys;
mod oauth;
mod platform;
mod redis;
mod refusals;
mod tokens;
