//! The adapter glue: the route table as each framework's routes, with keygate's
//! middleware in front of every guarded route. Nothing here decides anything; the
//! decisions are in the handlers ([`App::handle`](crate::App::handle)) and in keygate.

pub mod actix;
pub mod axum;
pub mod tower;
