//! One column per adapter: each serves [`routes`](crate::routes::routes) with its
//! framework's own middleware, extractors and server.

pub mod actix;
pub mod axum;
pub mod tower;

use std::any::Any;
use std::marker::PhantomData;
use std::net::TcpListener;

use keygate_core::Keygate;

use crate::stores::Store;

/// An adapter under test.
pub trait Adapter {
    /// The adapter's name, as in the test names (`axum::one_time_token_replay`).
    const NAME: &'static str;

    /// The name of the adapter's middleware, which a misconfigured route's message names.
    const MIDDLEWARE: &'static str;

    /// Where the engine keeps its state ([`Memory`](crate::stores::Memory) for the bare
    /// adapters; [`On`] pairs an adapter with another store).
    type Store: Store;

    /// Serves the test app with `keygate` on `listener` (already bound, non-blocking)
    /// until the returned guard is dropped. Called inside a tokio runtime.
    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send>;
}

/// Adapter `A` with its engine on store `S`: the store axis of the suite.
#[derive(Debug)]
pub struct On<A, S>(PhantomData<(A, S)>);

impl<A: Adapter, S: Store> Adapter for On<A, S> {
    const NAME: &'static str = A::NAME;
    const MIDDLEWARE: &'static str = A::MIDDLEWARE;
    type Store = S;

    fn serve(keygate: Keygate, listener: TcpListener) -> Box<dyn Any + Send> {
        A::serve(keygate, listener)
    }
}

/// Aborts a tokio task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
