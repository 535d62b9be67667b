//! # platform
//!
//! The reference API platform of keygate's HTTP contract, built on keygate: admin routes that only
//! the platform secret opens, API keys with rotation, rate limits and credits, one-time
//! and session tokens, and the routes they open.
//!
//! The app is here, framework-free: the [route table](routes), the [handlers](App::handle)
//! and [start-up](mod@start). The three binaries differ only in [adapter glue](adapters):
//!
//! | binary | serves with |
//! |---|---|
//! | `platform` (the default `cargo run -p platform`) | axum |
//! | `platform-actix` | actix-web |
//! | `platform-tower` | tower services on hyper, no framework |
//!
//! Every setting comes from the environment (`KEYGATE_ADDR`, `KEYGATE_DATABASE_URL`,
//! `KEYGATE_PEPPER`, `KEYGATE_ADMIN_SECRET`, `KEYGATE_TOKEN_SECRET`,
//! `KEYGATE_UPSTREAM_URL`, `KEYGATE_UPSTREAM_KEY`, `KEYGATE_REQUIRE_HTTPS`,
//! `KEYGATE_TRUSTED_PROXIES`); see `docs/platform.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// A refusal is the handler's answer (`Result<T, Reply>`): it ends the request, so boxing
// the response to shrink the `Err` variant would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod access_log;
pub mod adapters;
mod app;
pub mod body;
pub mod catalogues;
pub mod config;
mod handlers;
pub mod oauth;
pub mod realtime;
pub mod reply;
pub mod request_checks;
pub mod routes;
pub mod start;

pub use app::{App, Call};

/// The platform's HTTP API as an OpenAPI 3.1 document (`GET /openapi.json`): every route
/// of [`routes`], and the proxy's, with its methods, parameters and answers.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
pub use start::{StartError, Started, start};
