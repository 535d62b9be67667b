//! Tools for the transport tests (`tests/transport.rs`): a TLS certificate made in the
//! test, each adapter's test app served over plain TCP or TLS, and a raw HTTP/1.1
//! client, so a request says exactly what the test wrote (forwarding headers included).

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use keygate_core::Keygate;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::adapters::{self, HyperService};

/// The three adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// keygate-axum on axum (over hyper-util for TLS).
    Axum,
    /// keygate-actix on actix-web's own server (its rustls listener for TLS).
    Actix,
    /// keygate-tower on hyper.
    Tower,
}

/// A self-signed certificate for `localhost`, made now, and the TLS configurations of a
/// server that presents it and of a client that trusts only it.
#[derive(Clone)]
pub struct TestTls {
    /// The server side.
    pub server: Arc<rustls::ServerConfig>,
    /// The client side.
    pub client: Arc<rustls::ClientConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestTls {
    /// Generates the certificate and both configurations.
    pub fn new() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }
}

impl Default for TestTls {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `column`'s test app with `keygate` on 127.0.0.1 (over TLS with `tls`) until the
/// returned guard is dropped; its address.
pub fn serve(
    column: Column,
    keygate: &Keygate,
    tls: Option<&TestTls>,
) -> (SocketAddr, Box<dyn Any + Send>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address");
    let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server)));
    let guard: Box<dyn Any + Send> = match column {
        Column::Tower => Box::new(adapters::serve_hyper_on(
            adapters::tower::app(keygate),
            listener,
            acceptor,
        )),
        Column::Axum => {
            // Over plain TCP, as axum::serve runs it (ConnectInfo, keygate-axum's
            // `connect_info`); over TLS, in an accept loop of our own.
            let app = adapters::axum::app(keygate);
            match acceptor {
                None => {
                    let service = app
                        .layer(keygate_axum::connect_info())
                        .into_make_service_with_connect_info::<SocketAddr>();
                    Box::new(adapters::AbortOnDrop(tokio::spawn(async move {
                        if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                            let _ = axum::serve(listener, service).await;
                        }
                    })))
                }
                Some(acceptor) => {
                    let service: HyperService<axum::body::Body> =
                        tower::util::BoxCloneSyncService::new(app);
                    Box::new(adapters::serve_hyper_on(service, listener, Some(acceptor)))
                }
            }
        }
        Column::Actix => {
            let keygate = keygate.clone();
            let config = tls.map(|tls| (*tls.server).clone());
            let factory = move || {
                let keygate = keygate.clone();
                actix_web::App::new()
                    .configure(move |config| adapters::actix::configure(&keygate, config))
            };
            let start = move |listener: TcpListener| {
                let server = actix_web::HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0);
                let server = match config {
                    Some(config) => server.listen_rustls_0_23(listener, config)?,
                    None => server.listen(listener)?,
                };
                Ok(server.run())
            };
            Box::new(adapters::serve_actix(start, listener).expect("actix started"))
        }
    };
    (addr, guard)
}

/// Sends `request` (raw HTTP/1.1; it should say `Connection: close`) to `addr`, over TLS
/// with `tls`, and reads the whole answer.
pub async fn exchange(addr: SocketAddr, tls: Option<&TestTls>, request: &str) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let raw = match tls {
        None => talk(stream, request).await,
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.client));
            let name = ServerName::try_from("localhost").expect("name");
            let stream = connector
                .connect(name, stream)
                .await
                .expect("TLS handshake");
            talk(stream, request).await
        }
    };
    Answer::parse(&raw)
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.flush().await.expect("flush");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    // Until the server closes (a TLS peer may close without close_notify: that ends it too).
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&raw).into_owned()
}

/// A raw HTTP/1.1 answer: status, headers (names in lower case), body.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The status code (0 when the server answered nothing).
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent (chunked bodies are not decoded).
    pub body: String,
}

impl Answer {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The problem document's `code`, if the body is one.
    pub fn code(&self) -> Option<String> {
        let start = self.body.find('{')?;
        let end = self.body.rfind('}')?;
        let value: serde_json::Value = serde_json::from_str(self.body.get(start..=end)?).ok()?;
        value["code"].as_str().map(str::to_owned)
    }
}
