use keygate_core::credentials::is_valid_user_id;
use keygate_core::{Access, Credentials};

/// Any bytes as `X-On-Behalf-Of`, alone and beside the platform secret: the header parses
/// exactly when it is a valid user id (1 to 128 of `A-Z a-z 0-9 . _ : @ | -`), and then reads
/// back as sent; otherwise it is 400 `invalid_request` whose body does not echo the value.
/// Beside the platform secret, `authenticate` either acts as that user or refuses with
/// 400/403, never anything else.
pub fn on_behalf_of(data: &[u8]) {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut request = http::Request::new(());
    request.headers_mut().insert("x-on-behalf-of", value);
    let text = std::str::from_utf8(data).ok();
    let valid = text.is_some_and(is_valid_user_id);
    match Credentials::parse(&request) {
        Ok(credentials) => {
            assert!(valid, "an invalid user id was accepted: {data:?}");
            assert_eq!(credentials.on_behalf_of(), text);
        }
        Err(error) => {
            assert!(!valid, "a valid user id was refused: {data:?}");
            assert_eq!(error.code(), "invalid_request");
            assert_eq!(error.status(), 400);
            refusal_does_not_echo(&error, data);
        }
    }

    request.headers_mut().insert(
        "x-client-secret",
        http::HeaderValue::from_static("a-fixed-platform-secret-for-fuzzing"),
    );
    let access = Access::authenticated();
    match crate::runtime().block_on(crate::credentials::ENGINE.authenticate(&request, &access)) {
        Ok(admission) => {
            assert!(valid, "authenticated with an invalid user id: {data:?}");
            let principal = admission.into_principal();
            assert_eq!(principal.subject.as_deref(), text, "acts as the user named");
        }
        Err(error) => {
            assert!(
                matches!(error.status().as_u16(), 400 | 403),
                "{}",
                error.code()
            );
            if !valid {
                assert_eq!(error.code(), "invalid_request");
                refusal_does_not_echo(&error, data);
            }
        }
    }
}

/// A refusal says the same for the value as for any other of its length and class (each
/// allowed byte made `a`, each other byte `!`): it names the header and the rule, never
/// the value.
fn refusal_does_not_echo(error: &keygate_core::AuthError, value: &[u8]) {
    let canonical: Vec<u8> = value
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-') {
                b'a'
            } else {
                b'!'
            }
        })
        .collect();
    let mut request = http::Request::new(());
    request.headers_mut().insert(
        "x-on-behalf-of",
        http::HeaderValue::from_bytes(&canonical).unwrap(),
    );
    let Err(same) = Credentials::parse(&request) else {
        panic!("the canonical value of an invalid one parsed: {canonical:?}");
    };
    assert_eq!(
        error.to_string(),
        same.to_string(),
        "the refusal depends on the value"
    );
}
