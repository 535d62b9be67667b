//! The reference platform on actix-web: `cargo run -p platform --bin platform-actix`.

use std::process::ExitCode;

fn main() -> ExitCode {
    actix_web::rt::System::new().block_on(async {
        let started = match platform::start().await {
            Ok(started) => started,
            Err(error) => return platform::start::fail(&error),
        };
        let served = platform::adapters::actix::serve(&started.app, started.listener).await;
        platform::start::stop(&started.app, served).await
    })
}
