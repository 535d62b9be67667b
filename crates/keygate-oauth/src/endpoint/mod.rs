//! The endpoints: authorization, token, revocation. Each takes a framework-neutral view
//! of the request and returns an [`OAuthResponse`](crate::OAuthResponse).

pub mod authorize;
pub mod client_auth;
mod revoke;
pub mod token;
