//! The scenarios every [`OAuthStore`](crate::OAuthStore) runs, end to end through the
//! server and the keygate engine ([`oauth_store_suite!`](crate::oauth_store_suite)), and
//! the harness they use. For dev-dependencies (feature `testing`).

// Test code: a failed expectation panics, which is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod harness;
pub mod scenarios;

#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

/// Writes the suite as tests: a module `$name` with one `#[tokio::test]` per scenario of
/// [`scenarios`], each on a fresh store from `$fresh` — an expression whose `.await`
/// gives `Option<Arc<dyn OAuthStore>>` (`None` skips, when the database is not here).
#[macro_export]
macro_rules! oauth_store_suite {
    ($name:ident, $fresh:expr $(,)?) => {
        $crate::oauth_store_suite!(@module $name, $fresh;
            the_code_flow_issues_tokens_the_engine_accepts,
            confidential_clients_authenticate_by_basic_or_post,
            redirect_mismatches_and_unknown_clients_get_a_page,
            pkce_response_type_and_scope_errors_redirect,
            a_wrong_verifier_fails_and_revokes_nothing,
            a_replayed_code_revokes_what_it_issued,
            an_expired_code_is_invalid_grant,
            refresh_reuse_revokes_the_family,
            a_refresh_cannot_widen_scope,
            bad_client_secrets_are_401_then_throttled,
            malformed_token_requests_are_refused,
            revocation_ends_the_grant_everywhere,
            a_tenant_client_refuses_other_tenants_users,
            removing_a_client_revokes_its_grants,
            clients_list_by_tenant_and_expired_state_is_purged,
        );
    };
    (@module $name:ident, $fresh:expr; $($scenario:ident),+ $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;
            use $crate::testing::__private::tokio;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let fresh: Option<std::sync::Arc<dyn $crate::OAuthStore>> = $fresh.await;
                    if let Some(store) = fresh {
                        $crate::testing::scenarios::$scenario(store).await;
                    }
                }
            )+
        }
    };
}
