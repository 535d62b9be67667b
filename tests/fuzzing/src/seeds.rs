//! The seed inputs of each target: real keys, tokens and JWTs of the fixtures the bodies
//! use, and the edge cases around them. `tests/seeds.rs` writes them under
//! `fuzz/corpus/<target>/seed-*` (an ignored test, run by hand when the seeds change).

use keygate_core::key::{ApiKey, KeyPrefix};
use keygate_core::{Environment, KeyKind};

/// One seed input: its target, a file name, the bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target (a name of [`TARGETS`](crate::TARGETS)).
    pub target: &'static str,
    /// The file name under `fuzz/corpus/<target>/`.
    pub name: String,
    /// The input.
    pub data: Vec<u8>,
}

fn seed(target: &'static str, name: &str, data: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: format!("seed-{name}"),
        data: data.into(),
    }
}

/// Fields joined by `0xFF`, the separator of the multi-field targets.
fn joined(fields: &[&[u8]]) -> Vec<u8> {
    fields.join(&0xFF)
}

fn key(kind: KeyKind, environment: Environment) -> String {
    let prefix = KeyPrefix::standard(kind, environment).expect("a standard prefix");
    ApiKey::generate(&prefix)
        .expect("the OS random source")
        .expose()
        .to_owned()
}

/// Every seed of every target.
pub fn seeds() -> Vec<Seed> {
    let sk_live = key(KeyKind::Secret, Environment::Live);
    let sk_test = key(KeyKind::Secret, Environment::Test);
    let pk_test = key(KeyKind::Publishable, Environment::Test);
    let rk_live = key(KeyKind::Restricted, Environment::Live);
    let custom = ApiKey::generate(&KeyPrefix::custom("bijou_").expect("a custom prefix"))
        .expect("the OS random source")
        .expose()
        .to_owned();
    let mut bad_checksum = sk_test.clone();
    let last = bad_checksum
        .pop()
        .map_or('a', |c| if c == 'a' { 'b' } else { 'a' });
    bad_checksum.push(last);
    // A token of this run is valid for a day, whatever the run that verifies it: the
    // token target's seeds are well-formed tokens of another key, which never verify.
    let token = crate::token::foreign();
    let mut forged = token.clone();
    forged.pop();
    forged.push('A');
    let long = "a".repeat(5000);
    let mut all = vec![
        seed("api_key", "sk_live", sk_live.as_str()),
        seed("api_key", "sk_test", sk_test.as_str()),
        seed("api_key", "pk_test", pk_test.as_str()),
        seed("api_key", "rk_live", rk_live.as_str()),
        seed("api_key", "custom", custom.as_str()),
        seed("api_key", "bad-checksum", bad_checksum.as_str()),
        seed("api_key", "truncated", &sk_live[..sk_live.len() - 3]),
        seed("api_key", "prefix-only", "sk_live_"),
        seed(
            "api_key",
            "too-long",
            format!("sk_live_{}", "A".repeat(300)),
        ),
        seed(
            "api_key",
            "unicode",
            "sk_live_ü0123456789012345678901234567890abcdef",
        ),
        seed("api_key", "empty", ""),
        seed("credentials", "bearer-token", format!("Bearer {token}")),
        seed("credentials", "bearer-key", format!("Bearer {sk_live}")),
        seed(
            "credentials",
            "publishable-and-jwt",
            joined(&[format!("Bearer {token}").as_bytes(), pk_test.as_bytes()]),
        ),
        seed(
            "credentials",
            "secret-and-impersonation",
            joined(&[b"", b"", b"a-wrong-platform-secret-value", b"user_123"]),
        ),
        seed(
            "credentials",
            "secret-key-in-client-secret",
            joined(&[b"", b"", sk_test.as_bytes()]),
        ),
        seed(
            "credentials",
            "twice",
            joined(&[b"Bearer a", b"x", b"s", b"u", b"Bearer b", b"y", b"t", b"v"]),
        ),
        seed("credentials", "basic", "Basic dXNlcjpwYXNz"),
        seed("credentials", "bearer-empty", "Bearer "),
        seed(
            "credentials",
            "bearer-lowercase",
            format!("bearer {sk_live}"),
        ),
        seed("credentials", "bearer-long", format!("Bearer {long}")),
        seed(
            "credentials",
            "client-token",
            format!("Bearer ek_{}", &token),
        ),
        seed("key_change", "id", "v1 key_0123456789abcdef"),
        seed(
            "key_change",
            "digest",
            format!("v1 key_0123456789abcdef 0a1b2c3d:{}", "ab".repeat(32)),
        ),
        seed("key_change", "short-digest", "v1 key_1 0a1b2c3d:abcd"),
        seed(
            "key_change",
            "bad-pepper",
            format!("v1 key_1 XYZ:{}", "00".repeat(32)),
        ),
        seed("key_change", "extra", "v1 key_1 0a1b2c3d:00 more"),
        seed("key_change", "v2", "v2 key_1"),
        seed("key_change", "empty-id", "v1 "),
        seed("on_behalf_of", "user", "user_123"),
        seed("on_behalf_of", "email", "user_123@example.com"),
        seed("on_behalf_of", "auth0", "auth0|abc"),
        seed("on_behalf_of", "max", "u".repeat(128)),
        seed("on_behalf_of", "too-long", "u".repeat(129)),
        seed("on_behalf_of", "empty", ""),
        seed("on_behalf_of", "space", "user 1"),
        seed("on_behalf_of", "utf8", "usér"),
        seed("on_behalf_of", "traversal", "../admin"),
        seed("on_behalf_of", "secret-looking", sk_test.as_str()),
        seed("token", "foreign-key", token.as_str()),
        seed("token", "forged-signature", forged.as_str()),
        seed(
            "token",
            "alg-none",
            "eyJhbGciOiJub25lIiwidHlwIjoia2crand0In0.eyJrZ3QiOiJzZXNzaW9uIn0.",
        ),
        seed("token", "three-dots", "a.b.c"),
        seed(
            "token",
            "two-parts",
            token.rsplit_once('.').map_or("", |(m, _)| m),
        ),
        seed("token", "empty", ""),
        seed("token", "long", long.as_str()),
        seed(
            "scope",
            "pair",
            b"lens:create\xffmagic-background:*".as_slice(),
        ),
        seed("scope", "any", b"*\xff*".as_slice()),
        seed(
            "scope",
            "set",
            b"read:users write:users\xffread:users".as_slice(),
        ),
        seed("scope", "nine-segments", "a:b:c:d:e:f:g:h:i"),
        seed("scope", "empty-segment", b"a::b\xffa:*:b".as_slice()),
        seed("scope", "colon", ":"),
        seed("scope", "long", "s".repeat(129)),
        seed("user_jwt", "genuine", crate::user_jwt::GENUINE.as_str()),
        seed(
            "user_jwt",
            "claims",
            r#"{"iss":"https://issuer.fuzz","aud":"fuzz","sub":"user_1","iat":1893456000,"exp":1893459600}"#,
        ),
        seed(
            "user_jwt",
            "claims-odd-types",
            r#"{"iss":["https://issuer.fuzz"],"aud":1,"sub":"","exp":"1893459600","nbf":1e308}"#,
        ),
        seed(
            "user_jwt",
            "header-keygate",
            r#"{"alg":"EdDSA","kid":"k1","typ":"kg+jwt"}"#,
        ),
        seed("user_jwt", "header-none", r#"{"alg":"none","kid":"k1"}"#),
        seed(
            "user_jwt",
            "header-hs256",
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
        ),
        seed("user_jwt", "deep", "[".repeat(2000)),
        seed("proxy_path", "plain", "things/1"),
        seed("proxy_path", "query", "things?a=1&b=%20"),
        seed("proxy_path", "dots-inside", "a%20b/c.d/..e"),
        seed("proxy_path", "prefix", "/api/proxy"),
        seed("proxy_path", "prefix-slash", "/api/proxy/"),
        seed("proxy_path", "elsewhere", "/elsewhere"),
        seed("proxy_path", "dotdot", "../admin"),
        seed("proxy_path", "encoded-dots", "%2e%2E/admin"),
        seed("proxy_path", "encoded-slash", "a%2f..%2f..%2fadmin"),
        seed("proxy_path", "backslash", "a\\..\\admin"),
        seed("proxy_path", "parameters", "..;jsessionid=x/admin"),
        seed("proxy_path", "double-encoded", "%252e%252e/admin"),
        seed("proxy_path", "overlong", "%c0%ae%c0%ae/admin"),
        seed("proxy_path", "query-dots", "a?next=../../admin"),
    ];
    // problem_json: each variant, numbers from a few patterns, text that JSON must escape.
    for variant in 0u8..24 {
        let mut data = vec![variant];
        data.extend_from_slice(&u64::MAX.to_le_bytes());
        data.extend_from_slice(&(u64::from(variant) * 977).to_le_bytes());
        data.extend_from_slice("detail \"quoted\" \\ \u{1} ü lens:create".as_bytes());
        all.push(seed("problem_json", &format!("variant-{variant:02}"), data));
    }
    all.push(seed("problem_json", "zeros", vec![18u8; 17]));
    all.push(seed(
        "problem_json",
        "scope",
        b"\x0c\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0read:users".as_slice(),
    ));
    all
}

/// Crashes the fuzzers found: each has a file under `fuzz/artifacts/<target>/`, replayed
/// by `tests/replay.rs` (and listed there as open while unfixed).
pub fn crashes() -> Vec<Seed> {
    let crash = |name: &str, data: &str| Seed {
        target: "proxy_path",
        name: format!("crash-{name}"),
        data: data.into(),
    };
    vec![
        // The independent review's proxy traversal forms (issue 17), which a lenient
        // upstream reads as `..`.
        crash("semicolon-encoded", "..%3b/admin"),
        crash("nul-after", "..%00/admin"),
        crash("nul-between", ".%00./admin"),
        crash("nibble-encoded", "%%32%65%%32%65/admin"),
        crash("iis-unicode", "%u002e%u002e/admin"),
        // Found by `cargo fuzz run proxy_path`: raw NUL bytes before `..`, which the URL
        // parser forwards as `%00%00..`.
        crash("raw-nul-before", "\0\0\0\0\0\0\0\0\0\0\0../admin"),
        // The class of most of what a forked run found next: spaces around dots.
        crash("spaces-around", "%20.%2e%20/admin"),
    ]
}
