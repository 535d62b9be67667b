//! The scenarios every [`OAuthStore`](crate::OAuthStore) passes: the flows of RFC 6749,
//! 7636, 9700 and 7009 end to end, through the server and the engine. One file per part
//! of the protocol; each scenario takes a fresh store.

mod clients;
mod codes;
mod refresh;
mod token_requests;

pub use clients::{
    a_tenant_client_refuses_other_tenants_users,
    clients_list_by_tenant_and_expired_state_is_purged, removing_a_client_revokes_its_grants,
};
pub use codes::{
    a_replayed_code_revokes_what_it_issued, a_wrong_verifier_fails_and_revokes_nothing,
    an_expired_code_is_invalid_grant, pkce_response_type_and_scope_errors_redirect,
    racing_redemptions_issue_tokens_once, redirect_mismatches_and_unknown_clients_get_a_page,
    the_code_flow_issues_tokens_the_engine_accepts,
};
pub use refresh::{a_refresh_cannot_widen_scope, refresh_reuse_revokes_the_family};
pub use token_requests::{
    bad_client_secrets_are_401_then_throttled, confidential_clients_authenticate_by_basic_or_post,
    malformed_token_requests_are_refused, revocation_ends_the_grant_everywhere,
};
