//! The reference platform on plain tower and hyper: `cargo run -p platform --bin platform-tower`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let started = match platform::start().await {
        Ok(started) => started,
        Err(error) => return platform::start::fail(&error),
    };
    let service = platform::adapters::tower::service(&started.app);
    let served = platform::adapters::tower::serve(service, started.listener).await;
    platform::start::stop(&started.app, served).await
}
