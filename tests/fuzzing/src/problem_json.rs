use std::borrow::Cow;

use keygate_core::error::problem_document;
use keygate_core::meter::RateLimitStatus;
use keygate_core::store::StoreError;
use keygate_core::{AuthError, AuthMethod, Methods, Scope};

/// A store error message carrying what must never reach a response.
const STORE_SECRET: &str = "postgres://keygate:hunter2-in-the-dsn@db.internal/keygate";

/// Any `AuthError` rendered as a response (RFC 9457 problem+json, RFC 6750 challenges,
/// `Retry-After` and the rate-limit headers), from the fuzzed input: the first byte picks
/// the variant, the next 16 fill its numbers, the rest is text (a detail, a scope). The
/// body is JSON whose `type`, `title`, `status`, `code` and `detail` agree with the
/// error; `Content-Type` is problem+json; a 401 carries `WWW-Authenticate`, a 429 a
/// `Retry-After` of at least 1; a store error's text never shows. Then the same text
/// through `problem_document`, which must write it back exactly.
pub fn problem_json(data: &[u8]) {
    let (head, text) = data.split_at(data.len().min(17));
    let pick = head.first().copied().unwrap_or(0);
    let number = |at: usize| {
        let mut bytes = [0u8; 8];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = head.get(1 + at * 8 + i).copied().unwrap_or(0);
        }
        u64::from_le_bytes(bytes)
    };
    let (a, b) = (number(0), number(1));
    let text = String::from_utf8_lossy(text);
    let status = RateLimitStatus {
        limit: u32::try_from(a & 0xFFFF_FFFF).unwrap_or(u32::MAX),
        remaining: u32::try_from(a >> 32).unwrap_or(0),
        reset: i64::try_from(b >> 1).unwrap_or(i64::MAX),
        retry_after: b,
    };
    let error = match pick % 24 {
        0 => AuthError::invalid_request(text.clone().into_owned()),
        1 => AuthError::MissingCredentials,
        2 => AuthError::InvalidSecretKey,
        3 => AuthError::InvalidApiKey,
        4 => AuthError::KeyRevoked,
        5 => AuthError::KeyExpired,
        6 => AuthError::InvalidToken,
        7 => AuthError::TokenExpired,
        8 => AuthError::TokenUsed,
        9 => AuthError::UserTokenRequired,
        10 => AuthError::InsufficientCredits {
            remaining: a,
            rate_limit: (b % 2 == 0).then_some(status),
        },
        11 => AuthError::SecretKeyRequired,
        12 => match Scope::new(&text) {
            Ok(required) => AuthError::InsufficientScope { required },
            Err(_) => AuthError::InsufficientScope {
                required: Scope::any(),
            },
        },
        13 => AuthError::CredentialNotAccepted {
            accepted: methods(a),
        },
        14 => AuthError::TenantRequired,
        15 => AuthError::TenantMismatch,
        16 => AuthError::ImpersonationForbidden,
        17 => AuthError::OriginForbidden,
        18 => AuthError::RateLimited {
            status,
            credits_remaining: (a % 2 == 0).then_some(b),
        },
        19 => AuthError::QuotaExceeded {
            retry_after_secs: a,
            limit: (a % 2 == 0).then(|| u32::try_from(b).unwrap_or(u32::MAX)),
        },
        20 => AuthError::Misconfigured(Cow::Owned(text.clone().into_owned())),
        21 => AuthError::AuthUnavailable(StoreError::unavailable(
            STORE_SECRET,
            std::io::Error::other(STORE_SECRET),
        )),
        22 => AuthError::AuthUnavailable(StoreError::corrupt(STORE_SECRET)),
        _ => AuthError::AuthUnavailable(StoreError::conflict(STORE_SECRET)),
    };
    renders_consistently(&error);

    // problem_document writes any text back exactly.
    let code = text.get(..text.len().min(24)).unwrap_or_default();
    let written = problem_document(u16::try_from(a % 1000).unwrap_or(500), code, &text, &text);
    let read: serde_json::Value = serde_json::from_str(&written).expect("problem_document is JSON");
    assert_eq!(read["code"], code);
    assert_eq!(read["title"], *text);
    assert_eq!(read["detail"], *text);
    assert_eq!(read["type"], format!("urn:keygate:error:{code}"));
    assert_eq!(read["status"], a % 1000);
}

fn methods(bits: u64) -> Methods {
    let all = [
        AuthMethod::SecretKey,
        AuthMethod::ApiKey,
        AuthMethod::Token,
        AuthMethod::Jwt,
        AuthMethod::PublishableKeyJwt,
        AuthMethod::ClientToken,
    ];
    let mut methods = Methods::from([] as [AuthMethod; 0]);
    for (i, method) in all.into_iter().enumerate() {
        if bits >> i & 1 == 1 {
            methods = methods.with(method);
        }
    }
    methods
}

fn renders_consistently(error: &AuthError) {
    let status = error.status();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{status}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&error.problem_json()).expect("the body is JSON");
    let object = body.as_object().expect("the body is an object");
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["code", "detail", "status", "title", "type"]);
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["code"], error.code());
    assert_eq!(body["title"], error.title());
    assert_eq!(body["detail"], error.to_string());
    assert_eq!(body["type"], format!("urn:keygate:error:{}", error.code()));
    let store_error = matches!(error, AuthError::AuthUnavailable(_));
    assert!(
        !(store_error && error.problem_json().contains("hunter2")),
        "a store error leaked"
    );

    let headers: Vec<(&str, String)> = error
        .headers()
        .map(|(name, value)| {
            let rendered = value.to_header_value();
            assert_eq!(rendered.to_str().ok(), Some(value.to_string().as_str()));
            (name, value.to_string())
        })
        .collect();
    assert_eq!(
        headers.first().map(|(n, v)| (*n, v.as_str())),
        Some(("content-type", "application/problem+json"))
    );
    let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), headers.len(), "a header written twice");
    if status == 401 {
        let challenge = header("www-authenticate").expect("a 401 carries a challenge");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
    }
    if status == 429 {
        let retry: u64 = header("retry-after")
            .expect("a 429 carries Retry-After")
            .parse()
            .expect("whole seconds");
        assert!(retry >= 1);
        assert_eq!(error.retry_after_secs(), Some(retry));
    }
    for (_, value) in &headers {
        assert!(
            !(store_error && value.contains("hunter2")),
            "a store error leaked"
        );
    }
    let response: http::Response<String> = error.to_response();
    assert_eq!(response.status(), status);
    assert_eq!(response.body(), &error.problem_json());
    assert_eq!(response.headers().len(), headers.len());
}
