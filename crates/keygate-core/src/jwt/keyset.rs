//! The issuer's public keys, by `kid`, each bound to the algorithms it may verify.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest as _, Sha256};

use super::compact::decode;

/// Most keys kept from one JWKS; the rest are ignored.
pub(crate) const MAX_KEYS: usize = 64;

/// A public key decoded once, when the key set is loaded, in the form ring verifies
/// with: each verification then only checks the signature.
pub(crate) enum PublicKey {
    /// Modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point `04 || x || y`.
    Ec(Vec<u8>),
    /// The 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// Whether `signature` is `alg`'s signature of `message` under this key. An
    /// algorithm that does not fit the key type is `false` (the key set has already
    /// bound each key to its algorithms; this is the second lock).
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        match self {
            Self::Rsa { n, e } => {
                let params: &sig::RsaParameters = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                sig::RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            Self::Ec(point) => {
                let params: &sig::EcdsaVerificationAlgorithm = match alg {
                    Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                    _ => return false,
                };
                sig::UnparsedPublicKey::new(params, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Self::Ed25519(key) => {
                alg == Algorithm::EdDSA
                    && sig::UnparsedPublicKey::new(&sig::ED25519, key)
                        .verify(message, signature)
                        .is_ok()
            }
        }
    }
}

/// A set of verification keys, by `kid`. Built once per fetch; `generation` tells sets
/// apart, so a cached token can tell whether the set changed since it was verified.
pub(crate) struct KeySet {
    generation: u64,
    keys: HashMap<String, Arc<VerifyingKey>>,
}

/// One public key and what it may verify.
pub(crate) struct VerifyingKey {
    /// The algorithms this key verifies: the JWK's `alg` alone when it names one, else
    /// every allowed algorithm of its key type and curve.
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: PublicKey,
    /// SHA-256 of the key's public parameters: a `kid` reused for another key is another
    /// key.
    pub(crate) digest: [u8; 32],
}

impl KeySet {
    /// The usable keys of `jwks`, for the `allowed` algorithms. Keys without a `kid`, not
    /// meant for signatures, of an unsupported type or size, and `kid`s used twice are
    /// left out (and logged, without key material).
    pub(crate) fn from_jwks(jwks: &[Jwk], allowed: &[Algorithm], generation: u64) -> Self {
        let mut keys = HashMap::new();
        let mut duplicated = Vec::new();
        for jwk in jwks {
            if keys.len() >= MAX_KEYS {
                tracing::warn!(
                    max = MAX_KEYS,
                    "JWKS has too many keys; the rest are ignored"
                );
                break;
            }
            let Some((kid, key)) = usable(jwk, allowed) else {
                continue;
            };
            match keys.entry(kid) {
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(key));
                }
                Entry::Occupied(slot) => duplicated.push(slot.key().clone()),
            }
        }
        for kid in duplicated {
            tracing::warn!("JWKS names two keys with one kid; neither is used");
            keys.remove(&kid);
        }
        Self { generation, keys }
    }

    /// Parses a JWKS document (`{"keys": [...]}`), skipping keys that do not parse rather
    /// than refusing the whole set: an issuer adding a key of a new type must not take
    /// every other key away.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn from_json(
        body: &[u8],
        allowed: &[Algorithm],
        generation: u64,
    ) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(body)?;
        let jwks: Vec<Jwk> = document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value(value).ok())
            .collect();
        Ok(Self::from_jwks(&jwks, allowed, generation))
    }

    /// The key named `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.keys.get(kid)
    }

    /// Which fetch this set came from (0 for static keys).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of usable keys.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for KeySet {
    /// The `kid`s only: no key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("KeySet")
            .field("generation", &self.generation)
            .field("kids", &kids)
            .finish()
    }
}

/// The `kid` and verifying key of `jwk`, if it can verify any `allowed` algorithm.
fn usable(jwk: &Jwk, allowed: &[Algorithm]) -> Option<(String, VerifyingKey)> {
    let common = &jwk.common;
    let kid = common.key_id.as_ref().filter(|kid| !kid.is_empty())?;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    // What the key type and curve can verify.
    // jsonwebtoken's DecodingKey is still built: a key it refuses stays unusable, as
    // before. The key verified with is decoded here, once per `kid`.
    let (family, key): (&[Algorithm], PublicKey) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = rsa_bits(&rsa.n)?;
            if !(2048..=8192).contains(&bits) {
                return None;
            }
            let family: &[Algorithm] = &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ];
            DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?;
            // Big-endian without leading zero bytes, as ring reads them.
            let unpadded = |bytes: Vec<u8>| {
                let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
                bytes.get(first..).map(<[u8]>::to_vec)
            };
            let n = unpadded(decode(&rsa.n).ok()?)?;
            let e = unpadded(decode(&rsa.e).ok()?)?;
            (family, PublicKey::Rsa { n, e })
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (alg, size): (&[Algorithm], usize) = match ec.curve {
                EllipticCurve::P256 => (&[Algorithm::ES256], 32),
                EllipticCurve::P384 => (&[Algorithm::ES384], 48),
                _ => return None,
            };
            let (x, y) = (decode(&ec.x).ok()?, decode(&ec.y).ok()?);
            if x.len() != size || y.len() != size {
                return None;
            }
            DecodingKey::from_ec_components(&ec.x, &ec.y).ok()?;
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (alg, PublicKey::Ec(point))
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            let x = decode(&okp.x).ok()?;
            if okp.curve != EllipticCurve::Ed25519 || x.len() != 32 {
                return None;
            }
            DecodingKey::from_ed_components(&okp.x).ok()?;
            (&[Algorithm::EdDSA], PublicKey::Ed25519(x))
        }
        // Shared secrets (`oct`) and unknown key types never verify a user JWT.
        _ => return None,
    };
    let algorithms: Vec<Algorithm> = match common.key_algorithm {
        None => family
            .iter()
            .copied()
            .filter(|alg| allowed.contains(alg))
            .collect(),
        Some(named) => {
            let alg = signing_algorithm(named)?;
            if family.contains(&alg) && allowed.contains(&alg) {
                vec![alg]
            } else {
                return None;
            }
        }
    };
    if algorithms.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&jwk.algorithm).ok()?);
    for alg in &algorithms {
        hasher.update(format!("{alg:?}"));
    }
    Some((
        kid.clone(),
        VerifyingKey {
            algorithms,
            key,
            digest: hasher.finalize().into(),
        },
    ))
}

/// The signature algorithm a JWK's `alg` names, if it names one.
fn signing_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    Algorithm::try_from(named).ok()
}

/// The size in bits of an RSA modulus given as base64url.
fn rsa_bits(n: &str) -> Option<usize> {
    let bytes = decode(n).ok()?;
    let first = bytes.iter().position(|&b| b != 0)?;
    let significant = bytes.get(first..)?;
    let top = significant.first()?;
    Some(significant.len() * 8 - top.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALLOWED: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
    /// The public half of the test key tests/fixtures/jwt/ed25519.pem is not needed: any
    /// 32 bytes make an Ed25519 JWK for these checks.
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn okp(extra: serde_json::Value) -> serde_json::Value {
        let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "ed"});
        for (k, v) in extra.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        jwk
    }

    fn set(keys: Vec<serde_json::Value>) -> KeySet {
        let body = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
        KeySet::from_json(&body, ALLOWED, 1).unwrap()
    }

    #[test]
    fn keys_are_bound_to_their_algorithms() {
        let keys = set(vec![okp(json!({}))]);
        assert_eq!(keys.get("ed").unwrap().algorithms, vec![Algorithm::EdDSA]);
        // An alg that does not fit the key type removes the key.
        assert!(set(vec![okp(json!({"alg": "RS256"}))]).is_empty());
        assert!(set(vec![okp(json!({"alg": "HS256"}))]).is_empty());
        assert!(set(vec![okp(json!({"use": "enc"}))]).is_empty());
        assert!(set(vec![okp(json!({"key_ops": ["encrypt"]}))]).is_empty());
        assert_eq!(
            set(vec![okp(json!({"use": "sig", "key_ops": ["verify"]}))]).len(),
            1
        );
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let keys = set(vec![
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny-rsa"}),
            json!({"kty": "XYZ", "kid": "future"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": X}),
            json!("not a key"),
            okp(json!({})),
        ]);
        assert_eq!(keys.len(), 1);
        assert!(keys.get("ed").is_some());
        assert!(format!("{keys:?}").contains("\"ed\""));
    }

    #[test]
    fn a_kid_used_twice_is_ambiguous() {
        let keys = set(vec![
            okp(json!({})),
            okp(json!({"x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})),
        ]);
        assert!(keys.is_empty());
    }

    #[test]
    fn rsa_size_is_counted_in_significant_bits() {
        use base64::Engine as _;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let mut n = vec![0u8; 256];
        n[0] = 0x80;
        assert_eq!(rsa_bits(&encode(&n)), Some(2048));
        n[0] = 0x01;
        assert_eq!(rsa_bits(&encode(&n)), Some(2041));
        assert_eq!(rsa_bits(&encode(&[0, 0])), None);
    }
}
