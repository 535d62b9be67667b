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
//! The [`platform`] axis runs the reference platform (`examples/platform`) itself, as its
//! three binaries serve it, through the scenarios of [`platform::scenarios`]:
//! `platform::sqlite::axum::admin_key_rotate_with_grace`, `platform::postgres::tower::…`,
//! one test per scenario per adapter per database ([`platform_suite!`]), and a
//! differential test per database that sends one long sequence to all three adapters.
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
pub mod platform;
pub mod routes;
pub mod scenarios;
pub mod stores;
pub mod transport;

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
            operator_only_routes,
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
            one_time_token_given_back_by_a_handler_4xx,
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

/// One `#[tokio::test]` per platform scenario, for a column of the reference platform:
/// one of its adapters on one database.
///
/// ```ignore
/// mod axum {
///     keygate_conformance::platform_suite!(
///         keygate_conformance::platform::Axum,
///         keygate_conformance::platform::Sqlite
///     );
/// }
/// ```
#[macro_export]
macro_rules! platform_suite {
    ($adapter:ty, $database:ty) => {
        $crate::platform_suite!(@tests $adapter, $database;
            healthz_always_answers,
            readyz_follows_the_store,
            odd_http_is_answered_alike,
            closed_store_fails_closed,
            problem_documents_are_rfc9457,
            admin_with_nothing,
            admin_with_wrong_secret,
            admin_with_token_is_refused_and_not_consumed,
            admin_with_api_key_is_refused,
            query_string_credentials_are_ignored,
            duplicate_credential_headers,
            every_credential_is_verified,
            secret_with_token_acts_with_the_token,
            unknown_path_is_404,
            wrong_method_is_405_with_allow,
            later_routes_do_not_exist,
            body_over_64_kib_is_413,
            bad_json_bodies_name_the_field,
            bad_json_bodies_never_echo_values,
            head_and_encoded_paths_before_routing,
            admin_key_create_every_kind,
            admin_key_fields_round_trip,
            admin_key_create_validation,
            admin_key_list_and_tenant_filter,
            admin_key_list_pages,
            admin_key_show_has_live_credits,
            admin_key_revoke,
            admin_key_rotate_with_grace,
            admin_key_rotate_validation,
            admin_key_credits_top_up,
            admin_keys_tenant_isolation,
            admin_with_other_key_kinds_in_client_secret,
            tenant_test_keys_cannot_touch_live_keys,
            expiring_tenant_keys_cannot_outlive_themselves,
            rotated_keys_make_no_admin_change,
            only_the_platform_secret_creates_credits,
            catalogue_crud,
            catalogue_validation,
            catalogue_tenant_isolation,
            rotated_keys_change_no_catalogue,
            token_endpoint_one_time,
            token_lifetimes,
            token_endpoint_validation,
            token_endpoint_credentials,
            token_minted_from_a_token,
            minted_token_cannot_outlive_its_minter,
            one_time_minter_is_used_up,
            refused_mint_leaves_one_time_minter_unused,
            minted_token_carries_its_context,
            token_routes_need_their_scope,
            catalogue_read_needs_its_scope,
            catalogue_tokens_read_only_their_catalogue,
            refused_one_time_token_is_not_consumed,
            token_route_refusal_leaves_one_time_token_unused,
            wildcard_scopes,
            token_routes_take_client_secrets,
            malformed_tokens_are_invalid,
            rate_limit_headers_and_429,
            credits_run_out,
            refused_requests_cost_no_credits,
            unmetered_key_has_no_metering_headers,
            metered_routes_take_any_api_key,
            account_keys_share_one_balance,
            owner_keys_act_for_their_owner,
            owner_key_creation_rules,
            admin_account_routes,
            account_paths_name_one_account_or_none,
            account_credits_at_the_edges,
            refills_set_the_balance_back,
            self_service_keys_end_to_end,
            self_service_keys_are_the_users_own,
            self_service_key_limit,
            self_service_takes_signed_in_users_only,
            self_service_refuses_subjects_that_are_no_user_id,
            users_me_with_keys,
            users_me_needs_read_users,
            gateway_with_user_jwt,
            gateway_needs_a_tenant,
            gateway_with_secret_key,
            gateway_refuses_bad_user_jwts,
            user_jwts_and_issued_tokens_do_not_mix,
            orgs_create_takes_any_user,
            detect_quota_per_user_per_day,
            detect_takes_user_jwts_only,
            publishable_key_with_user_jwt,
            publishable_key_alone_is_not_enough,
            impersonation_by_keys,
            impersonation_refused,
            impersonation_needs_the_scope_by_name,
            gateway_with_client_token,
            client_token_minting,
            client_token_validation,
            client_token_minters,
            client_token_expiry,
            client_token_no_wider_than_its_key,
            client_token_dies_with_its_key,
            client_token_charged_to_its_key,
            client_token_refused_on_admin_and_minting,
            proxy_forwards_with_the_upstream_key,
            proxy_returns_the_upstream_answer,
            proxy_needs_a_client_token,
            proxy_is_metered_on_the_tokens_key,
            proxy_upstream_unavailable_is_502,
            proxy_paths_stay_below_the_upstream_base,
            proxy_takes_a_user_jwt,
            proxy_refuses_impersonation_and_trace,
            realtime_echoes_with_a_client_token,
            realtime_refusals_are_problem_answers,
            realtime_subprotocol_is_ignored_without_upgrade,
            realtime_closes_when_the_parent_key_is_revoked,
            realtime_closes_when_the_token_expires,
            oauth_metadata_names_the_issuer,
            oauth_client_registration,
            oauth_code_flow_over_http,
            oauth_authorize_refusals,
            oauth_token_refusals,
            oauth_code_replay_and_expiry,
            oauth_refresh_rotation_and_reuse,
            oauth_fails_closed_without_its_store,
            oauth_endpoints_refuse_plain_http,
            oauth_throttle_counts_clients_behind_a_proxy,
        );
    };
    (@tests $adapter:ty, $database:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                $crate::platform::scenarios::$scenario::<$adapter, $database>().await;
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

    /// The same for the platform suite: every `pub async fn` of `platform/scenarios/`
    /// is listed in `platform_suite!`, once, and nothing else is.
    #[test]
    fn every_platform_scenario_is_in_the_suite() {
        let mut scenarios: Vec<&str> = crate::platform::scenarios::FILES
            .iter()
            .flat_map(|file| file.lines())
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter(|rest| rest.ends_with("<A: PlatformAdapter, D: Database>() {"))
            .filter_map(|rest| rest.split('<').next())
            .collect();
        let lib = include_str!("lib.rs");
        let start = lib
            .find("@tests $adapter, $database;")
            .expect("the macro's list");
        let end = lib[start..].find(");").expect("its end") + start;
        let mut listed: Vec<&str> = lib[start..end]
            .lines()
            .skip(1)
            .map(|line| line.trim().trim_end_matches(','))
            .filter(|line| !line.is_empty())
            .collect();
        let total = crate::platform::scenarios::FILES
            .iter()
            .map(|file| file.matches("pub async fn ").count())
            .sum::<usize>();
        assert_eq!(
            scenarios.len(),
            total,
            "every scenario has the scenario signature"
        );
        assert!(scenarios.len() > 40, "found {} scenarios", scenarios.len());
        scenarios.sort_unstable();
        listed.sort_unstable();
        let unique = {
            let mut unique = listed.clone();
            unique.dedup();
            unique.len()
        };
        assert_eq!(unique, listed.len(), "a scenario is listed twice");
        assert_eq!(
            scenarios, listed,
            "platform/scenarios/ and platform_suite! disagree"
        );
    }
}
