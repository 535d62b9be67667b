//! Properties that must hold for every input: key checksums, scope laws, GCRA bounds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use keygate_core::key::{ApiKey, KeyKind, KeyPrefix, ParsedKey, RateLimit};
use keygate_core::meter::gcra;
use keygate_core::{Environment, Scope};
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

fn prefixes() -> impl Strategy<Value = KeyPrefix> {
    prop_oneof![
        (0..3usize, any::<bool>()).prop_map(|(k, live)| {
            let kind = [KeyKind::Secret, KeyKind::Publishable, KeyKind::Restricted][k];
            let env = if live {
                Environment::Live
            } else {
                Environment::Test
            };
            KeyPrefix::standard(kind, env).unwrap()
        }),
        "[a-z0-9]{1,16}"
            .prop_filter("reserved", |p| !matches!(
                p.as_str(),
                "sk" | "pk" | "rk" | "ek"
            ))
            .prop_map(|p| KeyPrefix::custom(&format!("{p}_")).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// CRC32 catches every single-character substitution, and the shape rules catch
    /// every deletion and insertion: none of them parses.
    #[test]
    fn any_single_character_change_of_a_valid_key_is_rejected(
        prefix in prefixes(),
        position in any::<prop::sample::Index>(),
        replacement in 0x20u8..0x7f,
        edit in 0..3u8,
    ) {
        let key = ApiKey::generate(&prefix).unwrap();
        let text = key.expose();
        prop_assert!(ParsedKey::parse(text).is_ok());
        let i = position.index(text.len());
        let mut bytes = text.as_bytes().to_vec();
        match edit {
            0 => {
                prop_assume!(bytes[i] != replacement);
                bytes[i] = replacement;
            }
            1 => { bytes.remove(i); }
            _ => bytes.insert(i, replacement),
        }
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(ParsedKey::parse(&changed).is_err(), "{changed} was accepted");
    }

    #[test]
    fn parsing_never_panics(text in ".{0,300}") {
        let _ = ParsedKey::parse(&text);
        let _ = Scope::new(&text);
    }
}

fn scopes() -> impl Strategy<Value = Scope> {
    prop::collection::vec(prop_oneof![Just("*".to_owned()), "[a-c]{1,2}"], 1..4)
        .prop_map(|segments| Scope::new(&segments.join(":")).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn scope_matching_is_reflexive(a in scopes()) {
        prop_assert!(a.allows(&a));
    }

    #[test]
    fn scope_matching_is_transitive(a in scopes(), b in scopes(), c in scopes()) {
        if a.allows(&b) && b.allows(&c) {
            prop_assert!(a.allows(&c));
        }
    }

    #[test]
    fn the_any_scope_allows_everything(a in scopes()) {
        prop_assert!(Scope::any().allows(&a));
    }

    /// Replacing a granted segment with `*` never takes a permission away, and a granted
    /// scope without wildcards allows only itself.
    #[test]
    fn wildcards_only_widen(a in scopes(), b in scopes(), at in any::<prop::sample::Index>()) {
        let segments: Vec<&str> = a.segments().collect();
        let i = at.index(segments.len());
        let mut widened = segments.clone();
        widened[i] = "*";
        let widened = Scope::new(&widened.join(":")).unwrap();
        if a.allows(&b) {
            prop_assert!(widened.allows(&b));
        }
        if !a.as_str().contains('*') && a.allows(&b) {
            prop_assert_eq!(&a, &b);
        }
    }

    /// A granted scope (other than `*` alone) only allows scopes of its own length.
    #[test]
    fn matching_keeps_the_segment_count(a in scopes(), b in scopes()) {
        if a.allows(&b) && a.as_str() != "*" {
            prop_assert_eq!(a.segments().count(), b.segments().count());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// GCRA as a leaky bucket: between any two admitted requests `t` apart, at most
    /// `limit + t·limit/window` requests were admitted; and after a full idle window the
    /// whole burst is back.
    #[test]
    fn gcra_never_admits_more_than_the_bucket_allows(
        limit in 1u32..20,
        window in 1u32..120,
        gaps in prop::collection::vec(0i64..5_000, 1..200),
    ) {
        let rate = RateLimit::new(limit, window).unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let mut now = start;
        let mut tat = None;
        let mut admitted: Vec<OffsetDateTime> = Vec::new();
        for gap in gaps {
            now += Duration::milliseconds(gap);
            let decision = gcra::check(rate, tat, now);
            if decision.allowed {
                tat = Some(decision.new_tat);
                admitted.push(now);
            } else {
                prop_assert!(decision.status.retry_after >= 1);
            }
        }
        let window_ns = i128::from(window) * 1_000_000_000;
        for (i, first) in admitted.iter().enumerate() {
            for (j, last) in admitted.iter().enumerate().skip(i) {
                let count = i128::try_from(j - i + 1).unwrap();
                let span = (*last - *first).whole_nanoseconds();
                // count ≤ limit + span·limit/window, in integers.
                prop_assert!(
                    count * window_ns <= i128::from(limit) * (window_ns + span),
                    "{count} admitted within {span} ns"
                );
            }
        }
        // The burst is back once the TAT is a whole burst (`limit` emission intervals,
        // the window rounded up to whole microseconds per step) behind.
        let burst = gcra::emission_interval(rate) * i64::from(limit);
        let rested = now + Duration::microseconds(burst);
        prop_assert_eq!(gcra::peek(rate, tat, rested).remaining, limit);
    }
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Arbitrary bytes that a header value may hold (no CR/LF/NUL).
        prop::collection::vec(
            any::<u8>().prop_filter("header", |b| !matches!(b, 0 | b'\r' | b'\n')),
            0..300,
        ),
        // Near-misses of real credentials.
        "(Bearer|bearer|Basic|) {0,2}[A-Za-z0-9._~+/=-]{0,80}( [a-z]{1,3})?"
            .prop_map(String::into_bytes),
        "(sk|pk|rk|ek|bijou)_(live_|test_)?[A-Za-z0-9_.]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the headers hold, parsing answers Ok or a 400, and the engine answers a
    /// contract status: it never panics and never lets garbage through.
    #[test]
    fn arbitrary_credential_headers_never_panic_or_pass(
        values in prop::collection::vec(header_bytes(), 4),
    ) {
        let names = ["authorization", "x-api-key", "x-client-secret", "x-on-behalf-of"];
        let mut request = http::Request::new(());
        for (name, value) in names.iter().zip(&values) {
            if let Ok(value) = http::HeaderValue::from_bytes(value) {
                request.headers_mut().insert(*name, value);
            }
        }
        if let Err(err) = keygate_core::Credentials::parse(&request) {
            prop_assert_eq!(err.status(), 400);
        }
        let keygate = keygate_core::Keygate::builder()
            .pepper(keygate_core::Pepper::from_bytes(vec![1; 32]).unwrap())
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for access in [keygate_core::Access::authenticated(), keygate_core::Access::admin()] {
            let result = runtime.block_on(keygate.authenticate(&request, &access));
            let err = result.expect_err("an empty store admits nobody");
            prop_assert!(matches!(err.status().as_u16(), 400 | 401 | 403), "{}", err.code());
        }
    }

    /// Token verification takes any text without panicking and accepts none of it.
    #[test]
    fn arbitrary_tokens_are_refused_without_panicking(
        text in prop_oneof![
            ".{0,400}",
            "(ek_)?eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,90}",
        ],
    ) {
        let issuer = keygate_core::token::TokenIssuer::hs256(
            &keygate_core::token::TokenSecret::new(vec![5; 32]).unwrap(),
        );
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        prop_assert!(issuer.verify(&text, now).is_err());
    }
}

fn source_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        header_bytes(),
        // Near-misses of cookie headers, origins and subprotocol lists.
        "([a-z_]{0,10}=[A-Za-z0-9._~+/=\"-]{0,40}; ?){0,4}(kg=[A-Za-z0-9._~+/=\"-]{0,60})?"
            .prop_map(String::into_bytes),
        "(https?://)?(app\\.example\\.com|evil\\.example|null)(:[0-9]{1,5})?/?"
            .prop_map(String::into_bytes),
        "((keygate|chat|[A-Za-z0-9._~+/=-]{0,30}) ?, ?){0,4}".prop_map(String::into_bytes),
        "(keep-alive, )?[Uu]pgrade|[Ww]eb[Ss]ocket".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// With a cookie and a subprotocol source, whatever the cookie, origin, subprotocol
    /// and upgrade headers hold: parsing answers Ok, a 400 or a 403 `origin_forbidden`,
    /// the engine a contract status, and removing the sources leaves neither the cookie
    /// nor the marker behind.
    #[test]
    fn arbitrary_cookie_and_subprotocol_headers_never_panic_or_pass(
        values in prop::collection::vec(source_bytes(), 5),
    ) {
        let names = ["cookie", "origin", "sec-websocket-protocol", "connection", "upgrade"];
        let mut request = http::Request::new(());
        for (name, value) in names.iter().zip(&values) {
            if let Ok(value) = http::HeaderValue::from_bytes(value) {
                request.headers_mut().insert(*name, value);
            }
        }
        let sources = keygate_core::CredentialSources::builder()
            .cookie("kg")
            .allowed_origin("https://app.example.com")
            .websocket_protocol("keygate")
            .build()
            .unwrap();
        if let Err(err) = keygate_core::Credentials::parse_with(&request, &sources) {
            prop_assert!(
                err.status() == 400 || err.code() == "origin_forbidden",
                "{}",
                err.code()
            );
        }
        let keygate = keygate_core::Keygate::builder()
            .pepper(keygate_core::Pepper::from_bytes(vec![1; 32]).unwrap())
            .credential_sources(sources.clone())
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let result = runtime.block_on(
            keygate.authenticate(&request, &keygate_core::Access::authenticated()),
        );
        let err = result.expect_err("an empty store admits nobody");
        prop_assert!(matches!(err.status().as_u16(), 400 | 401 | 403), "{}", err.code());

        let mut headers = request.headers().clone();
        sources.remove_from(&mut headers);
        let stripped = http::Request::builder()
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("origin", "https://app.example.com");
        let mut stripped = stripped.body(()).unwrap();
        for name in ["cookie", "sec-websocket-protocol"] {
            if let Some(value) = headers.get(name) {
                stripped.headers_mut().insert(name, value.clone());
            }
        }
        let left = keygate_core::Credentials::parse_with(&stripped, &sources);
        prop_assert!(
            left.map_or(true, |credentials| credentials.bearer().is_none()),
            "a credential survived remove_from"
        );
    }
}
