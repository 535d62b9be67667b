//! The claims of a user JWT, read with strict types, and the checks on them.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use time::{Duration, OffsetDateTime};

use super::UserJwt;
use super::config::Settings;
use crate::credentials::is_valid_id;
use crate::error::AuthError;
use crate::scope::ScopeSet;

/// The longest `sub` accepted, in bytes.
const MAX_SUBJECT_LEN: usize = 255;

/// The claims keygate reads. Registered claims have exactly one type: an `iss` array or
/// a numeric `aud` fails to parse. Unknown claims are skipped unread.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    iat: i64,
    nbf: Option<i64>,
    auth_time: Option<i64>,
    scope: Option<String>,
    scp: Option<Scp>,
    tenant: Option<String>,
    firebase_tenant: Option<String>,
}

/// `scp`: an array of scopes, or one space-separated string.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scp {
    Many(Vec<String>),
    One(String),
}

/// The part of Firebase's `firebase` claim keygate reads.
#[derive(Deserialize)]
struct Firebase {
    #[serde(default)]
    tenant: Option<String>,
}

/// A verified token's claims checked against the configuration at `now`.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) user: UserJwt,
    /// `nbf`, when the token has one.
    pub(crate) not_before: Option<OffsetDateTime>,
}

/// Parses the decoded payload, reading the tenant from `tenant_claim`.
pub(crate) fn parse(payload: &[u8], tenant_claim: &str) -> Result<Claims, AuthError> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let claims = ClaimsSeed { tenant_claim }
        .deserialize(&mut deserializer)
        .map_err(|_| AuthError::InvalidToken)?;
    deserializer.end().map_err(|_| AuthError::InvalidToken)?;
    Ok(claims)
}

impl Claims {
    /// Checks issuer, audience, subject, times, tenant and scopes.
    ///
    /// A wrong issuer or audience is reported before expiry: a token meant for someone
    /// else is invalid, not expired.
    pub(crate) fn check(
        self,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Result<Checked, AuthError> {
        if *self.iss != *settings.issuer || *self.aud != *settings.audience {
            return Err(AuthError::InvalidToken);
        }
        if self.sub.is_empty()
            || self.sub.len() > MAX_SUBJECT_LEN
            || self.sub.chars().any(char::is_control)
        {
            return Err(AuthError::InvalidToken);
        }
        let leeway = settings.leeway;
        let expires_at = timestamp(self.exp)?;
        let issued_at = timestamp(self.iat)?;
        if expires_at < issued_at || is_future(issued_at, now, leeway) {
            return Err(AuthError::InvalidToken);
        }
        if let Some(auth_time) = self.auth_time
            && is_future(timestamp(auth_time)?, now, leeway)
        {
            return Err(AuthError::InvalidToken);
        }
        let not_before = self.nbf.map(timestamp).transpose()?;
        if not_before.is_some_and(|nbf| is_future(nbf, now, leeway)) {
            return Err(AuthError::InvalidToken);
        }
        if is_expired(expires_at, now, leeway) {
            return Err(AuthError::TokenExpired);
        }

        let tenant = match (self.tenant, self.firebase_tenant) {
            (Some(claimed), Some(firebase)) if claimed != firebase => {
                return Err(AuthError::InvalidToken);
            }
            (Some(tenant), _) | (None, Some(tenant)) => {
                if !is_valid_id(&tenant) {
                    return Err(AuthError::InvalidToken);
                }
                Some(Arc::from(tenant))
            }
            (None, None) => None,
        };
        let scopes = match (self.scope, self.scp) {
            (Some(_), Some(_)) => return Err(AuthError::InvalidToken),
            (Some(text), None) | (None, Some(Scp::One(text))) => {
                Some(ScopeSet::from_space_separated(&text))
            }
            (None, Some(Scp::Many(list))) => Some(ScopeSet::parse(list)),
            (None, None) => None,
        }
        .transpose()
        .map_err(|_| AuthError::InvalidToken)?;

        Ok(Checked {
            user: UserJwt {
                subject: Arc::from(self.sub),
                tenant,
                scopes,
                issuer: Arc::clone(&settings.issuer),
                expires_at,
            },
            not_before,
        })
    }
}

/// Whether `at` is later than `now` by more than `leeway`.
pub(crate) fn is_future(at: OffsetDateTime, now: OffsetDateTime, leeway: Duration) -> bool {
    now.checked_add(leeway).is_some_and(|latest| at > latest)
}

/// Whether a token expiring at `expires_at` has expired at `now`, allowing `leeway`.
pub(crate) fn is_expired(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    leeway: Duration,
) -> bool {
    expires_at
        .checked_add(leeway)
        .is_none_or(|deadline| now >= deadline)
}

fn timestamp(seconds: i64) -> Result<OffsetDateTime, AuthError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| AuthError::InvalidToken)
}

/// A JSON number of seconds (RFC 7519 NumericDate): an integer, or a finite number whose
/// fraction is dropped. Strings, booleans and `null` are refused.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seconds;
        impl Visitor<'_> for Seconds {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds since 1970")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // Within ±2^53 every whole number is exact; later dates are refused.
                const LIMIT: f64 = 9_007_199_254_740_992.0;
                if v.is_finite() && v.abs() < LIMIT {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(NumericDate(v.floor() as i64))
                } else {
                    Err(E::custom("out of range"))
                }
            }
        }
        deserializer.deserialize_any(Seconds)
    }
}

/// Reads the claims in one pass, with the tenant under a configured name. A claim given
/// twice is refused.
struct ClaimsSeed<'a> {
    tenant_claim: &'a str,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claims, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// Sets `slot` once; a second value for the same claim is an error.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let (mut iss, mut aud, mut sub) = (None, None, None);
        let (mut exp, mut iat, mut nbf, mut auth_time) = (None, None, None, None);
        let (mut scope, mut scp, mut tenant, mut firebase) = (None, None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "iss" => once(&mut iss, map.next_value::<String>()?, "iss")?,
                "aud" => once(&mut aud, map.next_value::<String>()?, "aud")?,
                "sub" => once(&mut sub, map.next_value::<String>()?, "sub")?,
                "exp" => once(&mut exp, map.next_value::<NumericDate>()?.0, "exp")?,
                "iat" => once(&mut iat, map.next_value::<NumericDate>()?.0, "iat")?,
                "nbf" => once(&mut nbf, map.next_value::<NumericDate>()?.0, "nbf")?,
                "auth_time" => once(
                    &mut auth_time,
                    map.next_value::<NumericDate>()?.0,
                    "auth_time",
                )?,
                "scope" => once(&mut scope, map.next_value::<String>()?, "scope")?,
                "scp" => once(&mut scp, map.next_value::<Scp>()?, "scp")?,
                "firebase" => once(&mut firebase, map.next_value::<Firebase>()?, "firebase")?,
                name if name == self.tenant_claim => {
                    once(&mut tenant, map.next_value::<String>()?, "tenant")?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Claims {
            iss: iss.ok_or_else(|| de::Error::missing_field("iss"))?,
            aud: aud.ok_or_else(|| de::Error::missing_field("aud"))?,
            sub: sub.ok_or_else(|| de::Error::missing_field("sub"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            nbf,
            auth_time,
            scope,
            scp,
            tenant,
            firebase_tenant: firebase.and_then(|f| f.tenant),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn settings() -> Settings {
        Settings {
            issuer: Arc::from("https://securetoken.google.com/p"),
            audience: "p".into(),
            tenant_claim: "tenant_id".into(),
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::seconds(30),
        }
    }

    fn base() -> serde_json::Value {
        let now = NOW.unix_timestamp();
        json!({
            "iss": "https://securetoken.google.com/p", "aud": "p", "sub": "u1",
            "iat": now - 300, "exp": now + 3600, "auth_time": now - 400,
            "user_id": "u1", "firebase": {"sign_in_provider": "password", "identities": {}},
        })
    }

    fn check(claims: &serde_json::Value) -> Result<Checked, AuthError> {
        let bytes = serde_json::to_vec(claims).unwrap();
        parse(&bytes, "tenant_id")?.check(&settings(), NOW)
    }

    fn code(claims: &serde_json::Value) -> &'static str {
        check(claims).map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut claims = base();
        claims[key] = value;
        claims
    }

    #[test]
    fn firebase_claims_pass() {
        let checked = check(&base()).unwrap();
        assert_eq!(&*checked.user.subject, "u1");
        assert_eq!(checked.user.tenant, None);
        assert_eq!(checked.user.scopes, None);
        assert_eq!(checked.user.expires_at, NOW + Duration::hours(1));
    }

    #[test]
    fn registered_claims_have_one_type() {
        assert_eq!(
            code(&with("iss", json!(["https://securetoken.google.com/p"]))),
            "invalid_token"
        );
        assert_eq!(code(&with("aud", json!(["p"]))), "invalid_token");
        assert_eq!(code(&with("aud", json!(7))), "invalid_token");
        assert_eq!(code(&with("sub", json!(1))), "invalid_token");
        assert_eq!(code(&with("exp", json!("2030"))), "invalid_token");
        assert_eq!(code(&with("exp", json!(null))), "invalid_token");
        assert_eq!(code(&with("tenant_id", json!(5))), "invalid_token");
        let float = with("exp", json!(NOW.unix_timestamp() as f64 + 10.5));
        assert_eq!(code(&float), "ok");
        assert_eq!(code(&with("exp", json!(1e300))), "invalid_token");
    }

    #[test]
    fn each_required_claim_is_required() {
        for name in ["iss", "aud", "sub", "exp", "iat"] {
            let mut claims = base();
            claims.as_object_mut().unwrap().remove(name);
            assert_eq!(code(&claims), "invalid_token", "{name}");
        }
        assert_eq!(code(&with("sub", json!(""))), "invalid_token");
    }

    #[test]
    fn duplicate_claims_and_trailing_bytes_are_refused() {
        let now = NOW.unix_timestamp();
        let text = format!(
            r#"{{"iss":"https://securetoken.google.com/p","aud":"p","sub":"a","sub":"b","iat":{now},"exp":{}}}"#,
            now + 60
        );
        assert!(parse(text.as_bytes(), "tenant_id").is_err());
        let mut ok = serde_json::to_vec(&base()).unwrap();
        ok.extend_from_slice(b" {}");
        assert!(parse(&ok, "tenant_id").is_err());
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        let now = NOW.unix_timestamp();
        assert_eq!(code(&with("exp", json!(now))), "ok"); // within 30 s leeway
        assert_eq!(code(&with("exp", json!(now - 30))), "token_expired");
        assert_eq!(code(&with("iat", json!(now + 30))), "ok");
        assert_eq!(code(&with("iat", json!(now + 31))), "invalid_token");
        assert_eq!(code(&with("iat", json!(now + 20))), "ok");
        assert_eq!(code(&with("auth_time", json!(now + 31))), "invalid_token");
        assert_eq!(code(&with("nbf", json!(now + 31))), "invalid_token");
        assert_eq!(code(&with("nbf", json!(now + 30))), "ok");
        let mut inverted = with("iat", json!(now - 10));
        inverted["exp"] = json!(now - 20);
        assert_eq!(code(&inverted), "invalid_token");
    }

    #[test]
    fn tenant_from_the_claim_or_firebase() {
        let claimed = with("tenant_id", json!("acme"));
        assert_eq!(
            check(&claimed).unwrap().user.tenant.as_deref(),
            Some("acme")
        );
        let firebase = with(
            "firebase",
            json!({"tenant": "t-1", "sign_in_provider": "password"}),
        );
        assert_eq!(
            check(&firebase).unwrap().user.tenant.as_deref(),
            Some("t-1")
        );
        let mut both = firebase.clone();
        both["tenant_id"] = json!("t-1");
        assert_eq!(check(&both).unwrap().user.tenant.as_deref(), Some("t-1"));
        both["tenant_id"] = json!("other");
        assert_eq!(code(&both), "invalid_token");
        assert_eq!(
            code(&with("tenant_id", json!("bad tenant"))),
            "invalid_token"
        );
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let scope = with("scope", json!("read:users write:*"));
        let set = check(&scope).unwrap().user.scopes.unwrap();
        assert_eq!(set.to_space_separated(), "read:users write:*");
        let scp = with("scp", json!(["read:users"]));
        assert_eq!(check(&scp).unwrap().user.scopes.unwrap().len(), 1);
        let scp_text = with("scp", json!("a b"));
        assert_eq!(check(&scp_text).unwrap().user.scopes.unwrap().len(), 2);
        let mut both = scope.clone();
        both["scp"] = json!(["a"]);
        assert_eq!(code(&both), "invalid_token");
        assert_eq!(code(&with("scope", json!("bad/scope"))), "invalid_token");
        assert_eq!(code(&with("scp", json!([1]))), "invalid_token");
    }
}
