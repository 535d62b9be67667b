//! The error contract: for every [`AuthError`] variant, its code, HTTP status, RFC 9457
//! problem document, RFC 6750 `WWW-Authenticate` challenge and response headers; and that
//! a store failure never leaks what its source error says.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::error::Error as _;

use keygate_core::meter::RateLimitStatus;
use keygate_core::{AuthError, AuthMethod, Methods, Scope, StoreError};

/// Every code of the contract's table, once.
const ALL_CODES: [&str; 26] = [
    "invalid_request",
    "missing_credentials",
    "invalid_secret_key",
    "invalid_api_key",
    "key_revoked",
    "key_expired",
    "invalid_token",
    "token_expired",
    "token_used",
    "user_token_required",
    "insufficient_credits",
    "secret_key_required",
    "operator_required",
    "expiring_credential",
    "tenant_forbidden",
    "environment_forbidden",
    "insufficient_scope",
    "credential_not_accepted",
    "tenant_required",
    "tenant_mismatch",
    "impersonation_forbidden",
    "origin_forbidden",
    "https_required",
    "rate_limited",
    "quota_exceeded",
    "auth_unavailable",
];

const REALM_ONLY: &str = r#"Bearer realm="keygate""#;
const INVALID_TOKEN: &str = r#"Bearer realm="keygate", error="invalid_token""#;
const INVALID_REQUEST: &str = r#"Bearer realm="keygate", error="invalid_request""#;
const PROBLEM_JSON: (&str, &str) = ("content-type", "application/problem+json");

/// A rate-limit status as a meter reports it.
fn rate_limit(limit: u32, remaining: u32, reset: i64, retry_after: u64) -> RateLimitStatus {
    RateLimitStatus {
        limit,
        remaining,
        reset,
        retry_after,
    }
}

/// One row of the contract's table.
struct Case {
    error: AuthError,
    code: &'static str,
    status: u16,
    title: &'static str,
    detail: &'static str,
    www_authenticate: Option<&'static str>,
    /// The headers after `content-type` and `www-authenticate`, in order.
    extra_headers: Vec<(&'static str, &'static str)>,
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let case = |error: AuthError,
                code: &'static str,
                status: u16,
                title: &'static str,
                detail: &'static str,
                www_authenticate: Option<&'static str>| Case {
        error,
        code,
        status,
        title,
        detail,
        www_authenticate,
        extra_headers: Vec::new(),
    };
    vec![
        case(
            AuthError::invalid_request("the x-api-key header appears more than once; send it once"),
            "invalid_request",
            400,
            "Invalid request",
            "invalid request: the x-api-key header appears more than once; send it once",
            Some(INVALID_REQUEST),
        ),
        case(
            AuthError::MissingCredentials,
            "missing_credentials",
            401,
            "Missing credentials",
            "no credentials were presented",
            Some(REALM_ONLY),
        ),
        case(
            AuthError::InvalidSecretKey,
            "invalid_secret_key",
            401,
            "Invalid secret key",
            "the x-client-secret value is not valid",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::InvalidApiKey,
            "invalid_api_key",
            401,
            "Invalid API key",
            "the API key is not valid",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::KeyRevoked,
            "key_revoked",
            401,
            "API key revoked",
            "the API key has been revoked",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::KeyExpired,
            "key_expired",
            401,
            "API key expired",
            "the API key has expired",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::InvalidToken,
            "invalid_token",
            401,
            "Invalid token",
            "the token is not valid",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::TokenExpired,
            "token_expired",
            401,
            "Token expired",
            "the token has expired",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::TokenUsed,
            "token_used",
            401,
            "Token already used",
            "this one-time token has already been used",
            Some(INVALID_TOKEN),
        ),
        case(
            AuthError::UserTokenRequired,
            "user_token_required",
            401,
            "User token required",
            "a publishable key needs a user token in Authorization",
            Some(INVALID_TOKEN),
        ),
        Case {
            extra_headers: vec![("x-credits-remaining", "3")],
            ..case(
                AuthError::InsufficientCredits {
                    remaining: 3,
                    rate_limit: None,
                },
                "insufficient_credits",
                402,
                "Insufficient credits",
                "the key has 3 credits, fewer than this request costs",
                None,
            )
        },
        Case {
            extra_headers: vec![
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "42"),
                ("x-ratelimit-reset", "1893456060"),
                ("x-credits-remaining", "0"),
            ],
            ..case(
                AuthError::InsufficientCredits {
                    remaining: 0,
                    rate_limit: Some(rate_limit(100, 42, 1_893_456_060, 0)),
                },
                "insufficient_credits",
                402,
                "Insufficient credits",
                "the key has 0 credits, fewer than this request costs",
                None,
            )
        },
        case(
            AuthError::SecretKeyRequired,
            "secret_key_required",
            403,
            "Secret key required",
            "this route needs the platform secret or an sk_ key in x-client-secret",
            None,
        ),
        case(
            AuthError::InsufficientScope {
                required: Scope::new("magic-background:create").unwrap(),
            },
            "insufficient_scope",
            403,
            "Insufficient scope",
            "this request needs the scope magic-background:create",
            Some(r#"Bearer error="insufficient_scope", scope="magic-background:create""#),
        ),
        case(
            AuthError::CredentialNotAccepted {
                accepted: Methods::from([AuthMethod::SecretKey, AuthMethod::ApiKey]),
            },
            "credential_not_accepted",
            403,
            "Credential not accepted",
            "this route does not accept this kind of credential; it accepts: secret_key, api_key",
            None,
        ),
        case(
            AuthError::TenantRequired,
            "tenant_required",
            403,
            "Tenant required",
            "this route needs a credential that belongs to a tenant",
            None,
        ),
        case(
            AuthError::TenantMismatch,
            "tenant_mismatch",
            403,
            "Tenant mismatch",
            "the credentials presented belong to different tenants",
            None,
        ),
        case(
            AuthError::OperatorRequired,
            "operator_required",
            403,
            "Operator required",
            "only the platform secret may do this (it creates credits or is operator-only); send the platform secret in x-client-secret",
            None,
        ),
        case(
            AuthError::ExpiringCredential,
            "expiring_credential",
            403,
            "Expiring credential",
            "a key in its rotation grace cannot change keys, and a key that expires cannot rotate keys; use the key's successor, a key without an expiry, or the platform secret",
            None,
        ),
        case(
            AuthError::TenantForbidden,
            "tenant_forbidden",
            403,
            "Tenant forbidden",
            "a tenant's secret key manages that tenant only; use the platform secret for other tenants",
            None,
        ),
        case(
            AuthError::EnvironmentForbidden,
            "environment_forbidden",
            403,
            "Environment forbidden",
            "a test key cannot create or change live keys; use a live key or the platform secret",
            None,
        ),
        case(
            AuthError::ImpersonationForbidden,
            "impersonation_forbidden",
            403,
            "Impersonation forbidden",
            "this credential may not act on behalf of a user here",
            None,
        ),
        case(
            AuthError::OriginForbidden,
            "origin_forbidden",
            403,
            "Origin forbidden",
            "the credential cookie is accepted only from the allowed origins; send the request from one of them, or present the credential in a header",
            None,
        ),
        case(
            AuthError::HttpsRequired,
            "https_required",
            403,
            "HTTPS required",
            "this API accepts credentials over HTTPS only; send the request to the https:// URL, and rotate the credential if it is a real secret",
            None,
        ),
        Case {
            extra_headers: vec![("retry-after", "42")],
            ..case(
                AuthError::SecretLockedOut {
                    retry_after_secs: 42,
                },
                "rate_limited",
                429,
                "Rate limited",
                "too many failed x-client-secret checks from this address; retry in 42 s",
                None,
            )
        },
        Case {
            extra_headers: vec![
                ("retry-after", "20"),
                ("x-ratelimit-limit", "3"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1893456060"),
            ],
            ..case(
                AuthError::RateLimited {
                    status: rate_limit(3, 0, 1_893_456_060, 20),
                    credits_remaining: None,
                },
                "rate_limited",
                429,
                "Rate limited",
                "rate limit exceeded; retry in 20 s",
                None,
            )
        },
        Case {
            extra_headers: vec![("retry-after", "3600")],
            ..case(
                AuthError::QuotaExceeded {
                    retry_after_secs: 3600,
                    limit: None,
                },
                "quota_exceeded",
                429,
                "Quota exceeded",
                "quota used up; retry in 3600 s",
                None,
            )
        },
        case(
            AuthError::AuthUnavailable(StoreError::unavailable(
                "pool timed out",
                std::io::Error::other("connection refused"),
            )),
            "auth_unavailable",
            503,
            "Authentication unavailable",
            "the authentication backend is unavailable",
            None,
        ),
        case(
            AuthError::AuthUnavailable(StoreError::conflict("duplicate digest")),
            "auth_unavailable",
            503,
            "Authentication unavailable",
            "the authentication backend is unavailable",
            None,
        ),
        case(
            AuthError::AuthUnavailable(StoreError::corrupt("unknown schema")),
            "auth_unavailable",
            503,
            "Authentication unavailable",
            "the authentication backend is unavailable",
            None,
        ),
    ]
}

fn parse(json: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => map,
        other => panic!("problem_json is not a JSON object: {json} ({other:?})"),
    }
}

#[test]
fn the_table_covers_every_variant() {
    let codes: BTreeSet<&str> = cases().iter().map(|c| c.code).collect();
    let expected: BTreeSet<&str> = ALL_CODES.into_iter().collect();
    assert_eq!(codes, expected);
    assert_eq!(expected.len(), ALL_CODES.len());
    for case in cases() {
        assert_eq!(case.error.code(), case.code, "{:?}", case.error);
    }
}

#[test]
fn code_status_and_title_follow_the_table() {
    for case in cases() {
        let err = &case.error;
        assert_eq!(err.code(), case.code, "{err:?}");
        assert_eq!(err.status(), case.status, "{err:?}");
        assert_eq!(err.title(), case.title, "{err:?}");
        assert_eq!(err.to_string(), case.detail, "{err:?}");
    }
}

#[test]
fn problem_json_has_exactly_the_rfc_9457_fields() {
    for case in cases() {
        let err = &case.error;
        let body = parse(&err.problem_json());
        let keys: BTreeSet<&str> = body.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["type", "title", "status", "code", "detail"]),
            "{err:?}"
        );
        assert_eq!(
            body["type"],
            format!("urn:keygate:error:{}", case.code),
            "{err:?}"
        );
        assert_eq!(body["title"], case.title, "{err:?}");
        assert_eq!(body["status"], u64::from(case.status), "{err:?}");
        assert!(body["status"].is_u64(), "status is a JSON number: {err:?}");
        assert_eq!(body["code"], case.code, "{err:?}");
        assert_eq!(body["detail"], case.detail, "{err:?}");
    }
}

#[test]
fn token_used_reads_exactly_as_the_contract_says() {
    let body = parse(&AuthError::TokenUsed.problem_json());
    assert_eq!(body["type"], "urn:keygate:error:token_used");
    assert_eq!(body["title"], "Token already used");
    assert_eq!(body["detail"], "this one-time token has already been used");
    assert_eq!(body["status"], 401);
}

#[test]
fn www_authenticate_is_the_exact_challenge_of_the_table() {
    for case in cases() {
        let err = &case.error;
        assert_eq!(
            err.www_authenticate().as_deref(),
            case.www_authenticate,
            "{err:?}"
        );
    }
}

/// The RFC 6750 rule, stated once from the status and code and checked against every
/// variant, independently of the table's expected strings.
#[test]
fn www_authenticate_follows_the_rfc_6750_rule() {
    for case in cases() {
        let err = &case.error;
        let expected = match (err.status().as_u16(), err.code()) {
            // The HTTP contract: `error="invalid_token"` whenever a credential was presented.
            (401, "missing_credentials") => Some(REALM_ONLY.to_owned()),
            (401, _) => Some(INVALID_TOKEN.to_owned()),
            (400, _) => Some(INVALID_REQUEST.to_owned()),
            (403, "insufficient_scope") => {
                let AuthError::InsufficientScope { required } = err else {
                    panic!("insufficient_scope from another variant: {err:?}");
                };
                Some(format!(
                    r#"Bearer error="insufficient_scope", scope="{required}""#
                ))
            }
            _ => None,
        };
        assert_eq!(err.www_authenticate(), expected, "{err:?}");
    }
}

#[test]
fn headers_are_exactly_those_of_the_table_in_order() {
    for case in cases() {
        let err = &case.error;
        let mut expected = vec![PROBLEM_JSON];
        if let Some(challenge) = case.www_authenticate {
            expected.push(("www-authenticate", challenge));
        }
        expected.extend(case.extra_headers.iter().copied());
        let headers = err
            .headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>();
        let actual: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(actual, expected, "{err:?}");
    }
}

#[test]
fn headers_carry_what_each_status_needs() {
    for case in cases() {
        let err = &case.error;
        let headers = err
            .headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>();
        let get = |name: &str| {
            let found: Vec<&String> = headers
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v)
                .collect();
            assert!(found.len() <= 1, "{name} repeated for {err:?}");
            found.first().map(|v| v.as_str().to_owned())
        };
        let number = |name: &str| -> u64 {
            get(name)
                .unwrap_or_else(|| panic!("{name} missing for {err:?}"))
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not an integer for {err:?}"))
        };

        assert_eq!(
            headers[0],
            ("content-type", "application/problem+json".to_owned())
        );
        for (name, value) in &headers {
            assert_eq!(
                *name,
                name.to_ascii_lowercase(),
                "header names are lower case"
            );
            assert!(
                http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(value).is_ok(),
                "{name}: {value:?} is not a valid header for {err:?}"
            );
        }
        assert_eq!(get("www-authenticate"), err.www_authenticate(), "{err:?}");

        match err {
            AuthError::RateLimited { status, .. } => {
                assert!(number("retry-after") >= 1, "{err:?}");
                assert_eq!(number("retry-after"), status.retry_after);
                assert_eq!(number("x-ratelimit-limit"), u64::from(status.limit));
                assert_eq!(number("x-ratelimit-remaining"), u64::from(status.remaining));
                assert_eq!(
                    number("x-ratelimit-reset"),
                    u64::try_from(status.reset).unwrap()
                );
                assert_eq!(get("x-credits-remaining"), None);
            }
            AuthError::InsufficientCredits {
                remaining,
                rate_limit,
            } => {
                assert_eq!(number("x-credits-remaining"), *remaining);
                assert_eq!(get("retry-after"), None, "{err:?}");
                match rate_limit {
                    Some(status) => {
                        assert_eq!(number("x-ratelimit-limit"), u64::from(status.limit));
                        assert_eq!(number("x-ratelimit-remaining"), u64::from(status.remaining));
                        assert_eq!(
                            number("x-ratelimit-reset"),
                            u64::try_from(status.reset).unwrap()
                        );
                    }
                    None => {
                        for name in [
                            "x-ratelimit-limit",
                            "x-ratelimit-remaining",
                            "x-ratelimit-reset",
                        ] {
                            assert_eq!(get(name), None, "{err:?}");
                        }
                    }
                }
            }
            AuthError::QuotaExceeded {
                retry_after_secs, ..
            }
            | AuthError::SecretLockedOut { retry_after_secs } => {
                assert!(number("retry-after") >= 1, "{err:?}");
                assert_eq!(number("retry-after"), *retry_after_secs);
                assert_eq!(get("x-ratelimit-limit"), None);
                assert_eq!(get("x-credits-remaining"), None);
            }
            _ => {
                for name in [
                    "retry-after",
                    "x-ratelimit-limit",
                    "x-ratelimit-remaining",
                    "x-ratelimit-reset",
                    "x-credits-remaining",
                ] {
                    assert_eq!(get(name), None, "{name} on {err:?}");
                }
            }
        }
        assert_eq!(
            err.retry_after_secs(),
            get("retry-after").map(|v| v.parse().unwrap()),
            "{err:?}"
        );
    }
}

#[test]
fn a_quota_never_says_retry_after_zero() {
    let err = AuthError::QuotaExceeded {
        retry_after_secs: 0,
        limit: None,
    };
    assert_eq!(err.retry_after_secs(), Some(1));
    assert!(
        (err.headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>())
        .contains(&("retry-after", "1".to_owned()))
    );
}

#[test]
fn a_reset_before_the_epoch_is_rendered_as_zero() {
    let err = AuthError::RateLimited {
        status: rate_limit(10, 0, -5, 7),
        credits_remaining: None,
    };
    assert!(
        (err.headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>())
        .contains(&("x-ratelimit-reset", "0".to_owned()))
    );
}

#[test]
fn a_store_failure_does_not_leak_its_source() {
    let source = std::io::Error::other(
        "could not connect to postgres://user:hunter2@db:5432/keygate: timed out",
    );
    let err = AuthError::AuthUnavailable(StoreError::unavailable("pool timed out", source));

    assert_eq!(err.code(), "auth_unavailable");
    assert_eq!(err.status(), 503);
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let body = err.problem_json();
    assert!(!body.contains("hunter2"), "{body}");
    assert!(!body.contains("postgres://"), "{body}");
    assert!(!body.contains("pool timed out"), "{body}");
    for (name, value) in err.headers() {
        assert!(!value.to_string().contains("hunter2"), "{name}: {value}");
    }
    assert_eq!(err.www_authenticate(), None);
    assert_eq!(err.retry_after_secs(), None);

    // The cause stays reachable for logs, through the standard error chain.
    let store = err.source().expect("AuthUnavailable keeps the store error");
    assert_eq!(store.to_string(), "pool timed out");
    let cause = store.source().expect("the store error keeps its source");
    assert!(cause.to_string().contains("hunter2"));
    let store = store
        .downcast_ref::<StoreError>()
        .expect("the source is the StoreError");
    assert_eq!(
        store.kind(),
        keygate_core::store::StoreErrorKind::Unavailable
    );
}

#[test]
fn errors_without_a_cause_have_no_source() {
    for case in cases() {
        let err = &case.error;
        match err {
            AuthError::AuthUnavailable(_) => assert!(err.source().is_some()),
            _ => assert!(err.source().is_none(), "{err:?}"),
        }
    }
}

// Floors the contract sets on Retry-After, whatever a meter reports.

/// A [`Meter`](keygate_core::Meter) that refuses with `retry_after: 0` must still make the
/// response say at least `retry-after: 1`, as the contract requires.
#[test]
fn rate_limited_never_says_retry_after_zero() {
    let err = AuthError::RateLimited {
        status: rate_limit(3, 0, 1_893_456_060, 0),
        credits_remaining: None,
    };
    assert_eq!(err.retry_after_secs(), Some(1));
    assert!(
        (err.headers()
            .map(|(n, v)| (n, v.to_string()))
            .collect::<Vec<_>>())
        .contains(&("retry-after", "1".to_owned()))
    );
    assert_eq!(err.to_string(), "rate limit exceeded; retry in 1 s");
}

/// The `detail` of a quota error agrees with its clamped `Retry-After`.
#[test]
fn a_quota_detail_agrees_with_its_retry_after() {
    let err = AuthError::QuotaExceeded {
        retry_after_secs: 0,
        limit: None,
    };
    assert_eq!(err.to_string(), "quota used up; retry in 1 s");
}
