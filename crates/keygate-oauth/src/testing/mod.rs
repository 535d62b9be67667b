//! The scenarios every [`OAuthStore`] runs, end to end through the
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

use std::any::Any;
use std::sync::Arc;

use crate::OAuthStore;

/// A store for one scenario, and whatever must outlive it (a temp directory, a database
/// schema dropped on drop).
pub struct StoreUnderTest {
    /// The store.
    pub store: Arc<dyn OAuthStore>,
    guard: Option<Box<dyn Any + Send>>,
}

impl StoreUnderTest {
    /// `store`, needing nothing else.
    pub fn new(store: impl OAuthStore) -> Self {
        Self {
            store: Arc::new(store),
            guard: None,
        }
    }

    /// The same, with `guard` kept until the scenario ends.
    pub fn guarded(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUnderTest")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

/// Writes the suite as tests: a module `$name` with one `#[tokio::test]` per scenario of
/// [`scenarios`], each on a fresh store from `$fresh` — an expression whose `.await`
/// gives `Option<`[`StoreUnderTest`]`>` (`None` skips, when the database is not here).
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
            racing_redemptions_issue_tokens_once,
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
                    let fresh: Option<$crate::testing::StoreUnderTest> = $fresh.await;
                    if let Some(under_test) = fresh {
                        $crate::testing::scenarios::$scenario(
                            std::sync::Arc::clone(&under_test.store),
                        )
                        .await;
                        drop(under_test);
                    }
                }
            )+
        }
    };
}
