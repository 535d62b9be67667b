//! # keygate-conformance
//!
//! contract.md as scenarios, spoken over HTTP to a real listener on `127.0.0.1:0` with a
//! real client, once per adapter. The [`routes`] module is the test app as data; each
//! module of [`adapters`] serves it with its framework; each function of [`scenarios`] is
//! one rule of the contract. [`conformance_suite!`] writes one `#[tokio::test]` per
//! scenario for an adapter, so adding an adapter adds a column, not new tests:
//!
//! ```text
//! cargo test -p keygate-conformance
//! test axum::one_time_token_replay ... ok
//! test actix::one_time_token_replay ... ok
//! test tower::one_time_token_replay ... ok
//! ```
//!
//! The [`stores`] axis runs every scenario again with the engine on keygate-sqlx, as the
//! reference platform runs it: `sqlite::axum::…` on a fresh SQLite file and
//! `postgres::axum::…` on a fresh schema of `KEYGATE_TEST_POSTGRES_URL` (skipped with a
//! note when unset; `.ci/run` sets it). A differential test sends one set of requests to
//! all three adapters and compares the answers byte for byte.
//!
//! Time comes from the engine's manual clock; no scenario sleeps.

// A test-support crate: a failed expectation here is a failed test.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod adapters;
pub mod harness;
pub mod routes;
pub mod scenarios;
pub mod stores;

pub use down::DownStore;

mod down;

/// One `#[tokio::test]` per scenario, for the adapter type given.
///
/// ```ignore
/// mod axum {
///     keygate_conformance::conformance_suite!(keygate_conformance::adapters::axum::Axum);
/// }
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($adapter:ty) => {
        $crate::conformance_suite!(@tests $adapter;
            admin_with_platform_secret,
            admin_with_tenant_secret_key,
            admin_with_token_is_refused_and_not_consumed,
            admin_with_api_key_is_refused,
            admin_with_nothing,
            admin_with_wrong_secret,
            query_string_credentials_are_ignored,
            scoped_token_allowed,
            scoped_token_refused,
            wildcard_scope,
            one_time_token_replay,
            one_time_token_not_consumed_by_refused_request,
            session_token_reuse,
            token_expiry,
            malformed_token,
            api_key_kinds,
            invalid_api_key,
            revoked_key,
            expired_key,
            rotated_key_grace,
            rate_limit_headers_and_429,
            no_rate_limit_headers_without_a_limit,
            credits_run_out,
            rejected_requests_cost_no_credits,
            refund_on_handler_5xx,
            duplicate_authorization,
            problem_json_shape,
            every_credential_is_verified,
            secret_with_token_acts_with_the_token,
            optional_authentication,
            extractor_without_middleware_fails_loudly,
            tenant_extractor,
            impersonation,
            store_down_fails_closed,
            unmatched_requests_leave_one_time_tokens_unused,
            metering_problem_shapes,
        );
    };
    (@tests $adapter:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                $crate::scenarios::$scenario::<$adapter>().await;
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    /// A scenario written but not listed in `conformance_suite!` would silently never
    /// run: every `pub async fn` of `scenarios.rs` must be listed, and only those.
    #[test]
    fn every_scenario_is_in_the_suite() {
        let scenarios: Vec<&str> = include_str!("scenarios.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter(|rest| rest.ends_with("<A: Adapter>() {"))
            .filter_map(|rest| rest.split('<').next())
            .collect();
        let lib = include_str!("lib.rs");
        let start = lib.find("@tests $adapter;").expect("the macro's list");
        let end = lib[start..].find(");").expect("its end") + start;
        let listed: Vec<&str> = lib[start..end]
            .lines()
            .skip(1)
            .map(|line| line.trim().trim_end_matches(','))
            .filter(|line| !line.is_empty())
            .collect();
        assert!(scenarios.len() > 30, "found {} scenarios", scenarios.len());
        assert_eq!(
            scenarios, listed,
            "scenarios.rs and conformance_suite! disagree"
        );
    }
}
