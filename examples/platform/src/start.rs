//! Start-up, shared by the three binaries: logs, settings, the deployment (database,
//! pepper, admin secret: first start creates them and prints the secret once), the
//! engine, the listener, and the shutdown signal.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};

use keygate_redis::RedisConnection;
use keygate_sqlx::setup::{Opened, Setup, SetupError, Start};

use crate::app::App;
use crate::config::{Config, ConfigError};

/// What a binary serves: the app and a bound listener.
#[derive(Debug)]
pub struct Started {
    /// The app.
    pub app: App,
    /// The bound listener (non-blocking, for Tokio).
    pub listener: TcpListener,
    /// Its address.
    pub addr: SocketAddr,
}

/// Why the platform could not start. Each message says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting does not parse.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database, pepper or secrets could not be opened.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The Redis URL is not usable.
    #[error(transparent)]
    Redis(#[from] keygate_redis::ConnectError),
    /// The engine could not be built.
    #[error("the engine could not be built: {0}")]
    Build(#[from] keygate_core::BuildError),
    /// The platform's own table could not be created.
    #[error("the database failed while the platform created its tables: {0}")]
    Store(#[from] keygate_core::StoreError),
    /// The first start's admin secret could not be printed. Its hash is stored, so it is
    /// lost: the way back in is a secret of the operator's own.
    #[error(
        "the admin secret of this first start could not be printed ({0}) and cannot be shown again: start with KEYGATE_ADMIN_SECRET set to a secret of your own (24 to 255 characters)"
    )]
    Banner(#[source] std::io::Error),
    /// The address is taken or not ours.
    #[error("could not listen on {addr}: {source} (set KEYGATE_ADDR to another address)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Logs to stderr (stdout carries the first-start banner): readable lines, or one JSON
/// object per line with `KEYGATE_LOG_FORMAT=json`. `RUST_LOG` filters, default
/// `info,sqlx=warn`. Calling it twice is harmless.
pub fn init_logging() {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let _ = if std::env::var("KEYGATE_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

/// Opens the deployment from the environment, builds the app and binds the listener;
/// on first start prints the admin secret once, with a curl line that creates a key.
pub async fn start() -> Result<Started, StartError> {
    init_logging();
    let config = Config::from_env()?;
    // Settings are checked before anything is created: a bad one must not cost a
    // first start its only showing of the admin secret.
    let jwt = config
        .jwt
        .as_ref()
        .map(crate::config::JwtSettings::verifier)
        .transpose()?;
    // Bind first: a start that fails after the admin secret was generated would lose it
    // for good (only its hash is stored), and a taken port is the likeliest failure.
    let listener = TcpListener::bind(config.addr)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.addr,
        source,
    })?;
    let issuer = config.issuer.clone().unwrap_or_else(|| base_url(addr));
    // Checked before the deployment is created, like every other setting.
    crate::oauth::server(&issuer, None, None).map_err(ConfigError::Issuer)?;
    let opened = Setup::from_env().open(Start::OpenOrCreate).await?;
    let oauth =
        crate::oauth::server(&issuer, Some(opened.store()), None).map_err(ConfigError::Issuer)?;
    // Shown at once, before anything else can fail; a secret that cannot be shown stops
    // the start, loudly, rather than leave an admin API nobody can open.
    announce_first_start(&opened, addr).map_err(StartError::Banner)?;
    let redis = config
        .redis
        .map(RedisConnection::connect_lazy)
        .transpose()?;
    // The key cache hears of other instances' key changes over SQL (Postgres NOTIFY, or
    // the SQLite change table other processes on the file append to) and, with Redis,
    // over pub/sub too: it serves only while both listen. Every key change this
    // instance makes (revoke, rotate) goes through the publisher in front of the cache.
    let cache = opened.cached_store().map_err(SetupError::from)?;
    let builder = match &redis {
        Some(redis) => {
            redis.listen(&cache)?;
            opened.keygate_builder_with(redis.publisher(cache))?
        }
        None => opened.keygate_builder_with(cache)?,
    };
    let mut builder = builder
        .credential_sources(crate::realtime::credential_sources())
        .require_https(config.require_https)
        .trusted_proxies(config.trusted_proxies.clone())
        .oauth_tokens(oauth.access_tokens());
    if config.require_https && config.trusted_proxies.is_empty() {
        // The binaries listen on plain HTTP: only a proxy can vouch for HTTPS.
        tracing::warn!(
            "KEYGATE_REQUIRE_HTTPS is on and KEYGATE_TRUSTED_PROXIES is empty: this server listens on plain HTTP, so every request with a credential is refused (403 https_required); list the TLS-terminating proxy in KEYGATE_TRUSTED_PROXIES"
        );
    } else if config.require_https {
        tracing::info!(trusted_proxies = ?config.trusted_proxies, "credentials are accepted over HTTPS only");
    }
    if let Some(verifier) = jwt {
        builder = builder.jwt_verifier(verifier);
    }
    // With Redis, the counters every instance shares live there; credits stay in SQL.
    if let Some(redis) = &redis {
        if let Err(error) = redis.ping().await {
            tracing::warn!(%error, "Redis does not answer yet: metered requests get 503 until it does");
        }
        builder = builder.meter(redis.meter(opened.store().meter()));
    }
    let keygate = builder.build()?;
    let app = App::new(keygate, opened.store().clone())
        .await?
        .with_proxy(config.proxy)
        .with_redis(redis)
        .with_oauth(oauth);
    announce_listening(addr);
    Ok(Started {
        app,
        listener,
        addr,
    })
}

/// On first start, the admin secret (shown once) and a curl line, on stdout.
fn announce_first_start(opened: &Opened, addr: SocketAddr) -> std::io::Result<()> {
    let Some(secret) = opened.new_admin_secret() else {
        return Ok(());
    };
    let base = base_url(addr);
    let mut out = String::from("keygate platform: first start\n");
    if let Some(path) = opened.created_pepper_file() {
        out.push_str(&format!(
            "  pepper written to {} (mode 0600): back it up; without it no stored key can be checked\n",
            path.display()
        ));
    }
    out.push_str(
        "  only a hash of the admin secret is stored: copy it now, it is not shown again\n\n",
    );
    out.push_str(&format!("admin secret: {}\n\n", secret.expose()));
    out.push_str("create a first key:\n");
    out.push_str(&format!(
        "  curl -s -X POST {base}/api/v1/admin/keys \\\n    -H 'x-client-secret: {}' \\\n    -H 'content-type: application/json' \\\n    -d '{{\"kind\": \"secret\", \"environment\": \"test\", \"tenant\": \"acme\"}}'\n\n",
        secret.expose()
    ));
    print(&out)
}

/// `listening on http://…`, the last line of the banner.
fn announce_listening(addr: SocketAddr) {
    // Nothing secret: a failure to print it is not worth stopping for.
    let _ = print(&format!("listening on {}\n", base_url(addr)));
    tracing::info!(%addr, "listening");
}

/// Writes to stdout (the banner is the one thing this program writes there) and says
/// whether it arrived.
fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// `http://addr`, with a wildcard address shown as loopback (what curl can reach).
fn base_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Reports a failed start on stderr; the exit code is 1.
pub fn fail(error: &StartError) -> std::process::ExitCode {
    tracing::error!(%error, "the platform could not start");
    let _ = writeln!(std::io::stderr(), "error: {error}");
    std::process::ExitCode::FAILURE
}

/// After the server stopped: closes the store (SQLite checkpoints its journal) and turns
/// the outcome into the exit code.
pub async fn stop(app: &App, served: std::io::Result<()>) -> std::process::ExitCode {
    app.store().close().await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the server failed");
            std::process::ExitCode::FAILURE
        }
    }
}
