//! The reference platform on axum: `cargo run -p platform`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let started = match platform::start().await {
        Ok(started) => started,
        Err(error) => return platform::start::fail(&error),
    };
    let router = platform::adapters::axum::router(&started.app);
    let served = platform::adapters::axum::serve(router, started.listener).await;
    platform::start::stop(&started.app, served).await
}
