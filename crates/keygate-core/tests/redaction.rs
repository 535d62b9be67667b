//! No secret leaks through `Debug`: for every type that holds a secret (pepper, platform
//! secret, token secret and issuer, API keys, issued tokens, key digests and records,
//! presented credentials, the engine and its builder), `{:?}` shows neither the secret
//! nor its hex or base64 encodings. And the errors `authenticate` returns never repeat
//! the value that was presented.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use keygate_core::credentials::Credentials;
use keygate_core::key::{ApiKey, KeyHasher, KeyKind, KeyPrefix, NewKey, ParsedKey};
use keygate_core::token::{IssuedToken, TokenIssuer, TokenKind, TokenRequest, TokenSecret};
use keygate_core::{
    Access, AuthError, Environment, Keygate, ManualClock, Pepper, PlatformSecret, Principal,
    ScopeSet,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Fixed, recognisable bytes (no runs, so no window repeats by chance).
fn known_bytes(seed: u8) -> Vec<u8> {
    (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `shown` contains neither `secret` nor any `window`-long piece of it.
fn assert_no_piece(shown: &str, secret: &str, window: usize, what: &str) {
    assert!(!secret.is_empty(), "{what}: empty secret");
    assert!(!shown.contains(secret), "{what} leaked whole in {shown:?}");
    let chars: Vec<char> = secret.chars().collect();
    for piece in chars.windows(window.min(chars.len())) {
        let piece: String = piece.iter().collect();
        assert!(
            !shown.contains(&piece),
            "{what}: {piece:?} leaked in {shown:?}"
        );
    }
}

/// Asserts that `shown` holds no trace of the secret `text` (whole, or 12 characters of
/// it).
fn assert_hides_text(shown: &str, text: &str, what: &str) {
    assert_no_piece(shown, text, 12, what);
}

/// Asserts that `shown` holds none of `bytes`: not as lower or upper hex, base64url,
/// standard base64, nor as Rust's `Debug` of the byte array.
fn assert_hides_bytes(shown: &str, bytes: &[u8], what: &str) {
    let lower = hex(bytes);
    assert_no_piece(shown, &lower, 16, &format!("{what} (hex)"));
    assert_no_piece(
        shown,
        &lower.to_ascii_uppercase(),
        16,
        &format!("{what} (HEX)"),
    );
    assert_no_piece(
        shown,
        &URL_SAFE_NO_PAD.encode(bytes),
        12,
        &format!("{what} (base64url)"),
    );
    assert_no_piece(
        shown,
        &STANDARD.encode(bytes),
        12,
        &format!("{what} (base64)"),
    );
    let as_debug = format!("{bytes:?}");
    let first_four = format!("{:?}", &bytes[..4]);
    assert!(
        !shown.contains(as_debug.trim_start_matches('[').trim_end_matches(']'))
            && !shown.contains(first_four.trim_start_matches('[').trim_end_matches(']')),
        "{what} leaked as a byte list in {shown:?}"
    );
}

/// HMAC-SHA256, computed here independently of keygate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn request(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder().uri("/v1/things");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn standard_key(kind: KeyKind, environment: Environment) -> ApiKey {
    ApiKey::generate(&KeyPrefix::standard(kind, environment).unwrap()).unwrap()
}

/// Asserts `shown` holds the key's `start` at most: no 8 characters of the key that reach
/// past its start preview, and never its 32-character random part.
fn assert_only_start_of_key(shown: &str, key: &str, start: &str, what: &str) {
    let prefix_len = key.rfind('_').unwrap() + 1;
    let random = &key[prefix_len..prefix_len + 32];
    assert_eq!(random.len(), 32);
    assert!(!shown.contains(key), "{what}: whole key in {shown:?}");
    assert!(!shown.contains(random), "{what}: random part in {shown:?}");
    assert!(start.len() < 8 + prefix_len);
    for end in (start.len() + 1)..=key.len() {
        let piece = &key[end.saturating_sub(8)..end];
        assert!(
            !shown.contains(piece),
            "{what}: {piece:?} (past the start {start:?}) in {shown:?}"
        );
    }
}

struct Setup {
    keygate: Keygate,
    secret: PlatformSecret,
    pepper_bytes: Vec<u8>,
    clock: ManualClock,
}

fn setup() -> Setup {
    let pepper_bytes = known_bytes(11);
    let secret = PlatformSecret::generate().unwrap();
    let clock = ManualClock::default();
    let keygate = Keygate::builder()
        .pepper(Pepper::from_bytes(pepper_bytes.clone()).unwrap())
        .platform_secret(&secret)
        .clock(clock.clone())
        .build()
        .unwrap();
    Setup {
        keygate,
        secret,
        pepper_bytes,
        clock,
    }
}

async fn operator(setup: &Setup) -> Principal {
    let request = request(&[("x-client-secret", setup.secret.expose())]);
    let grant = setup
        .keygate
        .authenticate(&request, &Access::admin())
        .await
        .unwrap();
    assert!(grant.principal().is_operator());
    grant.into_principal()
}

fn issue(keygate: &Keygate, minter: &Principal, kind: TokenKind) -> IssuedToken {
    keygate
        .issue_token(
            minter,
            TokenRequest {
                scopes: Some(ScopeSet::parse(["magic-background:create"]).unwrap()),
                ..TokenRequest::new(kind)
            },
        )
        .unwrap()
}

/// Everything an error shows: `Display`, `Debug`, the problem document and the headers.
fn renderings(err: &AuthError) -> Vec<String> {
    let mut shown = vec![err.to_string(), format!("{err:?}"), err.problem_json()];
    shown.extend(err.headers().map(|(_, value)| value.to_string()));
    shown
}

fn assert_error_hides(err: &AuthError, presented: &str, what: &str) {
    for shown in renderings(err) {
        assert!(
            !shown.contains(presented),
            "{what}: the presented value leaked in {shown:?}"
        );
        assert_no_piece(&shown, presented, 12, what);
    }
}

// ---------------------------------------------------------------------------------------
// Secret material
// ---------------------------------------------------------------------------------------

#[test]
fn pepper_debug_hides_its_bytes_and_their_base64() {
    let bytes = known_bytes(1);
    let pepper = Pepper::from_bytes(bytes.clone()).unwrap();
    let saved = pepper.to_base64();
    assert_eq!(saved.expose_secret(), URL_SAFE_NO_PAD.encode(&bytes));

    let shown = format!("{pepper:?}");
    assert!(shown.contains(pepper.id().as_str()), "{shown}");
    assert_hides_bytes(&shown, &bytes, "pepper");
    assert_hides_text(&shown, saved.expose_secret(), "pepper base64");

    // The SecretString that to_base64 returns is itself redacted.
    let shown = format!("{saved:?}");
    assert_hides_bytes(&shown, &bytes, "pepper to_base64");
    assert_hides_text(&shown, saved.expose_secret(), "pepper to_base64");

    // The same pepper read back from its text.
    let again = Pepper::from_base64(saved.expose_secret()).unwrap();
    let shown = format!("{again:?}");
    assert_hides_bytes(&shown, &bytes, "pepper from_base64");

    // A generated one.
    let generated = Pepper::generate().unwrap();
    let text = generated.to_base64();
    let bytes = URL_SAFE_NO_PAD.decode(text.expose_secret()).unwrap();
    assert_hides_bytes(&format!("{generated:?}"), &bytes, "generated pepper");
}

#[test]
fn platform_secret_debug_hides_the_text() {
    let generated = PlatformSecret::generate().unwrap();
    assert!(generated.expose().starts_with("kgsec_"));
    let shown = format!("{generated:?}");
    assert_eq!(shown, "PlatformSecret(..)");
    assert_hides_text(&shown, generated.expose(), "generated platform secret");
    assert_hides_text(&shown, &generated.expose()["kgsec_".len()..], "random part");

    let chosen_text = "operator-chosen-Secret-0123456789";
    let chosen = PlatformSecret::new(chosen_text).unwrap();
    let shown = format!("{chosen:?}");
    assert_hides_text(&shown, chosen_text, "chosen platform secret");
}

#[test]
fn token_secret_debug_hides_the_bytes() {
    let bytes = known_bytes(2);
    let secret = TokenSecret::new(bytes.clone()).unwrap();
    let shown = format!("{secret:?}");
    assert_hides_bytes(&shown, &bytes, "token secret");

    // The secret derived from a pepper: HMAC-SHA256(pepper, label), computed here.
    let pepper_bytes = known_bytes(3);
    let pepper = Pepper::from_bytes(pepper_bytes.clone()).unwrap();
    let derived = TokenSecret::derive(&pepper);
    let derived_bytes = hmac_sha256(&pepper_bytes, b"keygate/token-secret/v1");
    let shown = format!("{derived:?}");
    assert_hides_bytes(&shown, &derived_bytes, "derived token secret");
    assert_hides_bytes(&shown, &pepper_bytes, "pepper behind the token secret");
}

#[test]
fn token_issuer_debug_shows_the_kid_not_the_secret() {
    let bytes = known_bytes(4);
    let issuer = TokenIssuer::hs256(&TokenSecret::new(bytes.clone()).unwrap());
    let shown = format!("{issuer:?}");
    assert!(shown.contains(issuer.kid()), "{shown}");
    assert!(shown.contains("HS256"), "{shown}");
    assert_hides_bytes(&shown, &bytes, "HS256 issuer secret");

    // During a rotation both secrets stay hidden.
    let old_bytes = known_bytes(5);
    let old = TokenIssuer::hs256(&TokenSecret::new(old_bytes.clone()).unwrap());
    let rotated = issuer.clone().with_previous(&old);
    let shown = format!("{rotated:?}");
    assert!(shown.contains(old.kid()), "{shown}");
    assert_hides_bytes(&shown, &bytes, "current HS256 secret");
    assert_hides_bytes(&shown, &old_bytes, "previous HS256 secret");
}

/// The Ed25519 private key of RFC 8410, section 10.3.
const RFC8410_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
-----END PRIVATE KEY-----\n";
const RFC8410_SEED_HEX: &str = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

#[test]
fn ed25519_issuer_debug_hides_the_private_key() {
    let issuer = TokenIssuer::ed25519_pem(RFC8410_PEM.as_bytes()).unwrap();
    let seed: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&RFC8410_SEED_HEX[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let shown = format!("{issuer:?}");
    assert!(shown.contains(issuer.kid()), "{shown}");
    assert_hides_bytes(&shown, &seed, "Ed25519 seed");
    assert_hides_text(
        &shown,
        "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC",
        "Ed25519 PEM",
    );
    // The published JWKS holds the public key only.
    let jwks = serde_json::to_string(issuer.jwks()).unwrap();
    assert_hides_bytes(&jwks, &seed, "Ed25519 seed in the JWKS");
}

// ---------------------------------------------------------------------------------------
// API keys, digests and records
// ---------------------------------------------------------------------------------------

#[test]
fn api_key_debug_shows_only_its_start() {
    let mut keys: Vec<ApiKey> = Vec::new();
    for kind in [KeyKind::Secret, KeyKind::Publishable, KeyKind::Restricted] {
        for environment in [Environment::Live, Environment::Test] {
            keys.push(standard_key(kind, environment));
        }
    }
    keys.push(ApiKey::generate(&KeyPrefix::custom("bijou_").unwrap()).unwrap());
    for key in &keys {
        let shown = format!("{key:?}");
        assert!(shown.contains(key.start()), "{shown}");
        assert_only_start_of_key(&shown, key.expose(), key.start(), "ApiKey");
    }
}

#[test]
fn parsed_key_debug_shows_only_its_start() {
    let key = standard_key(KeyKind::Restricted, Environment::Test);
    let parsed = ParsedKey::parse(key.expose()).unwrap();
    let shown = format!("{parsed:?}");
    assert!(shown.contains(parsed.start()), "{shown}");
    assert_eq!(parsed.start(), key.start());
    assert_only_start_of_key(&shown, key.expose(), key.start(), "ParsedKey");
}

#[test]
fn key_digest_and_hasher_debug_show_the_pepper_id_only() {
    let current_bytes = known_bytes(6);
    let previous_bytes = known_bytes(7);
    let current = Pepper::from_bytes(current_bytes.clone()).unwrap();
    let previous = Pepper::from_bytes(previous_bytes.clone()).unwrap();
    let hasher = KeyHasher::new(&current).with_previous(&previous);
    let key = standard_key(KeyKind::Secret, Environment::Live);
    let digest = hasher.digest(key.expose());
    assert_eq!(
        digest.bytes.to_vec(),
        hmac_sha256(&current_bytes, key.expose().as_bytes())
    );

    let shown = format!("{digest:?}");
    assert!(shown.contains(current.id().as_str()), "{shown}");
    assert_hides_bytes(&shown, &digest.bytes, "key digest");
    assert_hides_text(&shown, key.expose(), "key text");

    let shown = format!("{hasher:?}");
    assert!(shown.contains(current.id().as_str()), "{shown}");
    assert!(shown.contains(previous.id().as_str()), "{shown}");
    assert_hides_bytes(&shown, &current_bytes, "current pepper");
    assert_hides_bytes(&shown, &previous_bytes, "previous pepper");
    assert_hides_text(
        &shown,
        current.to_base64().expose_secret(),
        "current pepper base64",
    );
}

#[tokio::test]
async fn created_key_and_key_record_debug_hide_the_key_and_its_digest() {
    let setup = setup();
    let created = setup
        .keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            name: Some("ci".into()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let text = created.key.expose().to_owned();
    let digest = created.record.digest.bytes;
    assert_eq!(
        digest.to_vec(),
        hmac_sha256(&setup.pepper_bytes, text.as_bytes())
    );

    let shown = format!("{created:?}");
    assert!(shown.contains(created.key.start()), "{shown}");
    assert_only_start_of_key(&shown, &text, created.key.start(), "CreatedKey");
    assert_hides_bytes(&shown, &digest, "CreatedKey digest");
    assert_hides_bytes(&shown, &setup.pepper_bytes, "pepper");

    let record = setup.keygate.get_key(&created.record.id).await.unwrap();
    let shown = format!("{record:?}");
    assert!(shown.contains(created.record.id.as_str()), "{shown}");
    assert!(shown.contains(&*record.start), "{shown}");
    assert_only_start_of_key(&shown, &text, &record.start, "KeyRecord");
    assert_hides_bytes(&shown, &digest, "KeyRecord digest");

    // A rotated key's successor too.
    let rotated = setup
        .keygate
        .rotate_key(&created.record.id, time::Duration::minutes(5))
        .await
        .unwrap();
    let shown = format!("{rotated:?}");
    assert_only_start_of_key(
        &shown,
        rotated.key.expose(),
        rotated.key.start(),
        "rotated CreatedKey",
    );
    assert_hides_bytes(&shown, &rotated.record.digest.bytes, "rotated digest");
}

// ---------------------------------------------------------------------------------------
// Tokens and presented credentials
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn issued_token_debug_hides_the_token_text() {
    let setup = setup();
    let minter = operator(&setup).await;
    for kind in [TokenKind::OneTime, TokenKind::Session, TokenKind::Client] {
        let token = issue(&setup.keygate, &minter, kind);
        let text = token.expose().to_owned();
        let jws = text.strip_prefix("ek_").unwrap_or(&text);
        assert_eq!(jws.split('.').count(), 3, "{kind:?}");

        let shown = format!("{token:?}");
        assert!(shown.contains(&token.id), "{shown}");
        assert_hides_text(&shown, &text, "issued token");
        for segment in jws.split('.') {
            assert_hides_text(&shown, segment, "issued token segment");
        }
        // The token secret is derived from the pepper; it is not in the token's Debug.
        let token_secret = hmac_sha256(&setup.pepper_bytes, b"keygate/token-secret/v1");
        assert_hides_bytes(&shown, &token_secret, "token secret");
    }
}

#[tokio::test]
async fn credentials_debug_says_which_are_present_not_their_values() {
    let setup = setup();
    let minter = operator(&setup).await;
    let token = issue(&setup.keygate, &minter, TokenKind::Session);
    let key = standard_key(KeyKind::Secret, Environment::Live);
    let request = request(&[
        ("x-client-secret", setup.secret.expose()),
        ("authorization", &bearer(token.expose())),
        ("x-api-key", key.expose()),
        ("x-on-behalf-of", "user_42@example.com"),
    ]);
    let credentials = Credentials::parse(&request).unwrap();
    assert_eq!(credentials.client_secret(), Some(setup.secret.expose()));
    assert_eq!(credentials.bearer(), Some(token.expose()));
    assert_eq!(credentials.api_key(), Some(key.expose()));

    let shown = format!("{credentials:?}");
    assert!(shown.contains("user_42@example.com"), "{shown}");
    assert_hides_text(&shown, setup.secret.expose(), "x-client-secret");
    assert_hides_text(&shown, token.expose(), "bearer token");
    assert_only_start_of_key(&shown, key.expose(), key.start(), "x-api-key");
    assert!(!shown.contains(key.start()), "{shown}");
}

// ---------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn keygate_and_builder_debug_hide_the_platform_secret_and_peppers() {
    let pepper_bytes = known_bytes(8);
    let previous_bytes = known_bytes(9);
    let pepper = Pepper::from_bytes(pepper_bytes.clone()).unwrap();
    let pepper_text = pepper.to_base64().expose_secret().to_owned();
    let previous = Pepper::from_bytes(previous_bytes.clone()).unwrap();
    let secret = PlatformSecret::generate().unwrap();
    let secret_digest = hmac_sha256(&pepper_bytes, secret.expose().as_bytes());
    let token_secret = hmac_sha256(&pepper_bytes, b"keygate/token-secret/v1");

    let check = |shown: &str, what: &str| {
        assert_hides_text(shown, secret.expose(), &format!("{what}: platform secret"));
        assert_hides_bytes(shown, &pepper_bytes, &format!("{what}: pepper"));
        assert_hides_text(shown, &pepper_text, &format!("{what}: pepper base64"));
        assert_hides_bytes(shown, &previous_bytes, &format!("{what}: previous pepper"));
        assert_hides_bytes(shown, &secret_digest, &format!("{what}: secret digest"));
        assert_hides_bytes(shown, &token_secret, &format!("{what}: token secret"));
    };

    let builder = Keygate::builder()
        .pepper(pepper)
        .previous_pepper(previous)
        .platform_secret(&secret);
    check(&format!("{builder:?}"), "KeygateBuilder");

    let keygate = builder.build().unwrap();
    check(&format!("{keygate:?}"), "Keygate");
    check(&format!("{keygate:#?}"), "Keygate (pretty)");
    check(&format!("{:?}", keygate.hasher()), "Keygate::hasher");
    check(
        &format!("{:?}", keygate.token_issuer()),
        "Keygate::token_issuer",
    );

    // Once it holds keys, counters and used tokens, it still shows none of them.
    let created = keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            credits: Some(10),
            rate_limit: Some(keygate_core::key::RateLimit::new(10, 60).unwrap()),
            ..NewKey::new(KeyKind::Secret, Environment::Live)
        })
        .await
        .unwrap();
    let with_key = request(&[("authorization", &bearer(created.key.expose()))]);
    let grant = keygate
        .authenticate(&with_key, &Access::authenticated().cost(1))
        .await
        .unwrap();
    let token = issue(&keygate, grant.principal(), TokenKind::OneTime);
    let with_token = request(&[("authorization", &bearer(token.expose()))]);
    keygate
        .authenticate(&with_token, &Access::authenticated())
        .await
        .unwrap();

    let shown = format!("{keygate:?}");
    check(&shown, "Keygate in use");
    assert_only_start_of_key(
        &shown,
        created.key.expose(),
        created.key.start(),
        "Keygate in use: API key",
    );
    assert_hides_bytes(
        &shown,
        &created.record.digest.bytes,
        "Keygate in use: digest",
    );
    assert_hides_text(&shown, token.expose(), "Keygate in use: token");
    check(&format!("{grant:?}"), "Grant");
    assert_only_start_of_key(
        &format!("{grant:?}"),
        created.key.expose(),
        created.key.start(),
        "Grant",
    );
}

// ---------------------------------------------------------------------------------------
// Errors never repeat what was presented
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_client_secret_is_not_repeated_in_the_error() {
    let setup = setup();
    let wrong = PlatformSecret::generate().unwrap();
    let chosen = "a-wrong-but-well-formed-secret-Value-42";
    let unknown_sk = standard_key(KeyKind::Secret, Environment::Live);
    let mistyped_sk = format!("{}x", &unknown_sk.expose()[..unknown_sk.expose().len() - 1]);
    let cases: Vec<(&str, &str)> = vec![
        (wrong.expose(), "invalid_secret_key"),
        (chosen, "invalid_secret_key"),
        (unknown_sk.expose(), "invalid_secret_key"),
        (&mistyped_sk, "invalid_secret_key"),
    ];
    for (value, code) in cases {
        for access in [Access::admin(), Access::authenticated()] {
            let request = request(&[("x-client-secret", value)]);
            let err = setup
                .keygate
                .authenticate(&request, &access)
                .await
                .unwrap_err();
            assert_eq!(err.code(), code, "{value}");
            assert_error_hides(&err, value, "wrong x-client-secret");
            assert_error_hides(&err, setup.secret.expose(), "the real platform secret");
        }
    }
}

#[tokio::test]
async fn a_wrong_api_key_is_not_repeated_in_the_error() {
    let setup = setup();
    let real = setup
        .keygate
        .create_key(NewKey {
            tenant: Some("acme".into()),
            ..NewKey::new(KeyKind::Restricted, Environment::Live)
        })
        .await
        .unwrap();
    let revoked = setup
        .keygate
        .create_key(NewKey::new(KeyKind::Secret, Environment::Test))
        .await
        .unwrap();
    setup.keygate.revoke_key(&revoked.record.id).await.unwrap();

    let unknown = standard_key(KeyKind::Secret, Environment::Live);
    let text = real.key.expose();
    let mistyped = format!("{}{}", &text[..text.len() - 1], {
        if text.ends_with('a') { 'b' } else { 'a' }
    });
    let custom_unknown = ApiKey::generate(&KeyPrefix::custom("bijou_").unwrap()).unwrap();
    let cases: Vec<(&str, &str)> = vec![
        (unknown.expose(), "invalid_api_key"),
        (&mistyped, "invalid_api_key"),
        (custom_unknown.expose(), "invalid_api_key"),
        (revoked.key.expose(), "key_revoked"),
    ];
    for (value, code) in cases {
        for header in ["authorization", "x-api-key"] {
            let value_in_header = if header == "authorization" {
                bearer(value)
            } else {
                value.to_owned()
            };
            let request = request(&[(header, &value_in_header)]);
            let err = setup
                .keygate
                .authenticate(&request, &Access::authenticated())
                .await
                .unwrap_err();
            assert_eq!(err.code(), code, "{header}: {value}");
            assert_error_hides(&err, value, "wrong API key");
            // Not even the non-secret start preview is echoed.
            for shown in renderings(&err) {
                assert!(!shown.contains(&value[..12]), "{shown}");
            }
        }
    }
}

#[tokio::test]
async fn a_bad_bearer_token_is_not_repeated_in_the_error() {
    let setup = setup();
    let minter = operator(&setup).await;

    // Signed by another issuer.
    let other = Keygate::builder()
        .pepper(Pepper::generate().unwrap())
        .platform_secret(&setup.secret)
        .build()
        .unwrap();
    let foreign = issue(
        &other,
        &operator_of(&other, &setup.secret).await,
        TokenKind::Session,
    );

    // Signature changed.
    let genuine = issue(&setup.keygate, &minter, TokenKind::Session);
    let (head, signature) = genuine.expose().rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);

    // Used, and expired.
    let one_time = issue(&setup.keygate, &minter, TokenKind::OneTime);
    let first = request(&[("authorization", &bearer(one_time.expose()))]);
    setup
        .keygate
        .authenticate(&first, &Access::authenticated())
        .await
        .unwrap();
    let expiring = issue(&setup.keygate, &minter, TokenKind::Session);

    let client = issue(&setup.keygate, &minter, TokenKind::Client);
    let bad_client = format!("{}x", client.expose());

    let user_jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzQyIn0.c2lnbmF0dXJlLW9mLWEtdXNlcg";
    let opaque = "opaque-Token-Value-without-dots-0123456789";

    let mut cases: Vec<(String, &str)> = vec![
        (foreign.expose().to_owned(), "invalid_token"),
        (tampered, "invalid_token"),
        (one_time.expose().to_owned(), "token_used"),
        (bad_client, "invalid_token"),
        (user_jwt.to_owned(), "invalid_token"),
        (opaque.to_owned(), "invalid_token"),
    ];
    for (value, code) in &cases {
        let request = request(&[("authorization", &bearer(value))]);
        let err = setup
            .keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!(err.code(), *code, "{value}");
        assert_error_hides(&err, value, "bad bearer token");
    }

    setup.clock.advance(time::Duration::hours(1));
    cases.clear();
    cases.push((expiring.expose().to_owned(), "token_expired"));
    for (value, code) in &cases {
        let request = request(&[("authorization", &bearer(value))]);
        let err = setup
            .keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!(err.code(), *code, "{value}");
        assert_error_hides(&err, value, "expired bearer token");
    }
}

async fn operator_of(keygate: &Keygate, secret: &PlatformSecret) -> Principal {
    let request = request(&[("x-client-secret", secret.expose())]);
    keygate
        .authenticate(&request, &Access::admin())
        .await
        .unwrap()
        .into_principal()
}

#[tokio::test]
async fn a_malformed_credential_header_is_named_not_quoted() {
    let setup = setup();
    let cases: Vec<(&str, &str)> = vec![
        ("x-client-secret", "secret value-with a-Space-inside-0123"),
        ("authorization", "Bearer token-Part-One token-Part-Two"),
        ("authorization", "Basic dXNlcjpodW50ZXIyLXBhc3N3b3Jk"),
        ("x-api-key", "sk_live_with a space-and-More-Text"),
    ];
    for (header, value) in cases {
        let request = request(&[(header, value)]);
        let err = setup
            .keygate
            .authenticate(&request, &Access::authenticated())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{header}: {value}");
        assert!(err.to_string().contains(header), "{err}");
        for part in value.split(' ') {
            if part.len() >= 8 {
                assert_error_hides(&err, part, "malformed header value");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The helpers themselves catch leaks
// ---------------------------------------------------------------------------------------

#[test]
#[should_panic(expected = "(hex)")]
fn the_byte_check_catches_hex() {
    let bytes = known_bytes(10);
    assert_hides_bytes(
        &format!("Leaky {{ key: {} }}", &hex(&bytes)[8..40]),
        &bytes,
        "x",
    );
}

#[test]
#[should_panic(expected = "(base64url)")]
fn the_byte_check_catches_base64url() {
    let bytes = known_bytes(10);
    let encoded = URL_SAFE_NO_PAD.encode(&bytes);
    assert_hides_bytes(&format!("Leaky({})", &encoded[20..34]), &bytes, "x");
}

#[test]
#[should_panic(expected = "leaked as a byte list")]
fn the_byte_check_catches_a_byte_array() {
    let bytes = known_bytes(10);
    assert_hides_bytes(&format!("Leaky({bytes:?})"), &bytes, "x");
}

#[test]
#[should_panic(expected = "past the start")]
fn the_key_check_catches_characters_past_the_start() {
    let key = standard_key(KeyKind::Secret, Environment::Live);
    let shown = format!("ApiKey {{ start: {:?} }}", &key.expose()[..14]);
    assert_only_start_of_key(&shown, key.expose(), key.start(), "x");
}

#[test]
#[should_panic(expected = "leaked in")]
fn the_text_check_catches_a_piece_of_the_secret() {
    let secret = PlatformSecret::generate().unwrap();
    let shown = format!("PlatformSecret({})", &secret.expose()[10..24]);
    assert_hides_text(&shown, secret.expose(), "x");
}
