//! A server, an engine and a manual clock over one store, with the requests a client
//! makes, for the scenarios.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use keygate_core::{Access, AuthError, Keygate, ManualClock, Pepper, Principal, ScopeSet};
use secrecy::ExposeSecret;
use time::macros::datetime;

use crate::client::NewClient;
use crate::store::OAuthStore;
use crate::{
    AuthorizationRequest, AuthorizationServer, AuthorizeRefusal, EndpointRequest, ResourceOwner,
};

/// RFC 7636 appendix B's verifier.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// Its S256 challenge.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The redirect URI every test client registers.
pub const REDIRECT: &str = "https://app.example/callback";
/// The issuer of the test server.
pub const ISSUER: &str = "https://auth.example";

/// A registered test client.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// Its id.
    pub id: String,
    /// Its secret, for confidential clients.
    pub secret: Option<String>,
}

/// A token endpoint answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The JSON body (`Null` when empty).
    pub json: serde_json::Value,
}

impl Answer {
    /// The `error` field.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }

    /// A string field.
    pub fn text(&self, field: &str) -> String {
        self.json[field].as_str().unwrap_or("").to_owned()
    }
}

/// The server and the engine that verifies its tokens, over one store and one clock.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The authorization server.
    pub server: AuthorizationServer,
    /// An engine with the server's access tokens.
    pub engine: Keygate,
    /// The clock both read.
    pub clock: ManualClock,
}

impl Harness {
    /// A server on `store`.
    pub fn new(store: Arc<dyn OAuthStore>) -> Self {
        Self::sharing(store, ManualClock::new(datetime!(2030-01-01 0:00 UTC)))
    }

    /// Another instance on the same store and clock (its own caches).
    pub fn sharing(store: Arc<dyn OAuthStore>, clock: ManualClock) -> Self {
        let server = AuthorizationServer::builder(ISSUER)
            .store(store)
            .clock(Arc::new(clock.clone()))
            .build()
            .expect("issuer");
        let engine = Keygate::builder()
            .pepper(Pepper::generate().expect("pepper"))
            .clock(clock.clone())
            .oauth_tokens(server.access_tokens())
            .build()
            .expect("engine");
        Self {
            server,
            engine,
            clock,
        }
    }

    /// A second instance on this one's store and clock.
    pub fn another_instance(&self) -> Self {
        let store = Arc::clone(&self.server.inner.store);
        Self::sharing(store, self.clock.clone())
    }

    /// Registers a client with the redirect URI [`REDIRECT`] and `scopes`.
    pub async fn register(
        &self,
        confidential: bool,
        tenant: Option<&str>,
        scopes: &[&str],
    ) -> TestClient {
        let created = self
            .server
            .register_client(NewClient {
                name: "Test app".into(),
                tenant: tenant.map(str::to_owned),
                redirect_uris: vec![REDIRECT.into()],
                scopes: ScopeSet::parse(scopes).expect("scopes"),
                confidential,
            })
            .await
            .expect("register");
        TestClient {
            id: created.record.id.to_string(),
            secret: created.secret.map(|s| s.expose_secret().to_owned()),
        }
    }

    /// An authorization request's query with `pairs` (`None` values are left out).
    pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }

    /// The usual authorization query for `client` with `scope`.
    pub fn authorize_query(client: &TestClient, scope: &str) -> String {
        Self::query(&[
            ("response_type", Some("code")),
            ("client_id", Some(&client.id)),
            ("redirect_uri", Some(REDIRECT)),
            ("scope", Some(scope)),
            ("state", Some("st&te =/+ü")),
            ("code_challenge", Some(CHALLENGE)),
            ("code_challenge_method", Some("S256")),
        ])
    }

    /// Validates `query`.
    pub async fn authorize(&self, query: &str) -> Result<AuthorizationRequest, AuthorizeRefusal> {
        self.server.authorization_request(query).await
    }

    /// The parameters of the redirect's `Location` query.
    pub fn redirect_params(response: &crate::OAuthResponse) -> Vec<(String, String)> {
        let location = response
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// One parameter of a redirect.
    pub fn redirect_param(response: &crate::OAuthResponse, name: &str) -> Option<String> {
        Self::redirect_params(response)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A code for `client`, approved by `user_1` of `tenant`, with `scope`.
    pub async fn code(&self, client: &TestClient, scope: &str, tenant: Option<&str>) -> String {
        let request = self
            .authorize(&Self::authorize_query(client, scope))
            .await
            .expect("valid request");
        let owner = ResourceOwner {
            subject: "user_1".into(),
            tenant: tenant.map(str::to_owned),
        };
        let response = self.server.approve(&request, &owner).await;
        Self::redirect_param(&response, "code").expect("a code")
    }

    /// A token request with `pairs`, the client authenticating in the body (public
    /// clients: `client_id` only).
    pub async fn token_post(&self, client: &TestClient, pairs: &[(&str, &str)]) -> Answer {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("client_id", &client.id));
        if let Some(secret) = &client.secret {
            all.push(("client_secret", secret));
        }
        self.token_raw(&[], &encode(&all), None).await
    }

    /// A token request with `pairs` and Basic credentials `id:secret`, from `address`.
    pub async fn token_basic(
        &self,
        id: &str,
        secret: &str,
        pairs: &[(&str, &str)],
        address: Option<IpAddr>,
    ) -> Answer {
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        self.token_raw(&[basic.as_bytes()], &encode(pairs), address)
            .await
    }

    /// A token request as sent.
    pub async fn token_raw(
        &self,
        authorization: &[&[u8]],
        body: &str,
        address: Option<IpAddr>,
    ) -> Answer {
        let response = self
            .server
            .token(EndpointRequest {
                authorization,
                content_type: Some(b"application/x-www-form-urlencoded"),
                body: body.as_bytes(),
                client_address: address,
            })
            .await;
        answer(response)
    }

    /// A revocation request, the client authenticating in the body.
    pub async fn revoke(&self, client: &TestClient, token: &str) -> Answer {
        let mut all: Vec<(&str, &str)> = vec![("token", token), ("client_id", &client.id)];
        if let Some(secret) = &client.secret {
            all.push(("client_secret", secret));
        }
        let response = self
            .server
            .revoke(EndpointRequest {
                authorization: &[],
                content_type: Some(b"application/x-www-form-urlencoded"),
                body: encode(&all).as_bytes(),
                client_address: None,
            })
            .await;
        answer(response)
    }

    /// Exchanges `code` for tokens (public or post-authenticated client).
    pub async fn exchange(&self, client: &TestClient, code: &str) -> Answer {
        self.token_post(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    /// Calls a `read:users` route with `access_token` through the engine.
    pub async fn call(&self, access_token: &str) -> Result<Principal, AuthError> {
        let request = http::Request::builder()
            .header("authorization", format!("Bearer {access_token}"))
            .body(())
            .expect("request");
        let access = Access::scoped("read:users").expect("scope");
        self.engine
            .authenticate(&request, &access)
            .await
            .map(|grant| grant.principal().clone())
    }
}

/// Form-encodes `pairs`.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.finish()
}

fn answer(response: crate::OAuthResponse) -> Answer {
    Answer {
        status: response.status,
        json: serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null),
        headers: response.headers,
    }
}
