//! The hand-written floors: what an application would write itself instead of keygate.
//!
//! - [`HmacMap`]: the API key (`hk_` + 43 base64url characters) is hashed with
//!   HMAC-SHA256 under a pepper, and the digest looked up in a `HashMap` (std's SipHash)
//!   of records; the record is put in the request's extensions. No checksum, no scopes,
//!   no status: the least a real key check does.
//! - [`evalsha`]: the same, then one `EVALSHA` of a GCRA rate-limit script per request
//!   on a multiplexed connection (the Redis floor keygate's `RedisMeter` is read against).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What the hand-written store keeps per key.
#[derive(Debug)]
pub struct Record {
    pub id: u64,
    pub tenant: String,
}

/// Keys by HMAC digest, and the pre-keyed HMAC state.
pub struct HmacMap {
    mac: Hmac<Sha256>,
    keys: HashMap<[u8; 32], Arc<Record>>,
}

impl HmacMap {
    /// `count` random keys; their text is written to `out`, one a line.
    pub fn generate(count: usize, out: &mut impl Write) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(&[3; 32]).unwrap();
        let mut keys = HashMap::with_capacity(count);
        let mut random = [0u8; 32];
        for id in 0..count as u64 {
            fill_random(&mut random);
            let text = format!("hk_{}", URL_SAFE_NO_PAD.encode(random));
            writeln!(out, "{text}").unwrap();
            let mut m = mac.clone();
            m.update(text.as_bytes());
            keys.insert(
                m.finalize().into_bytes().into(),
                Arc::new(Record {
                    id,
                    tenant: "acme".into(),
                }),
            );
        }
        Self { mac, keys }
    }

    /// The record of `key`, if it is one.
    pub fn find(&self, key: &[u8]) -> Option<&Arc<Record>> {
        let mut m = self.mac.clone();
        m.update(key);
        let digest: [u8; 32] = m.finalize().into_bytes().into();
        self.keys.get(&digest)
    }
}

fn fill_random(out: &mut [u8; 32]) {
    use std::hash::BuildHasher;
    thread_local!(static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    STATE.with(|s| {
        let seed = foldhash::quality::RandomState::default();
        for chunk in out.chunks_mut(8) {
            let next = seed.hash_one(s.get());
            s.set(s.get().wrapping_add(1));
            chunk.copy_from_slice(&next.to_le_bytes()[..chunk.len()]);
        }
    });
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "unauthorized").into_response()
}

/// The hand-written HMAC + map middleware.
pub async fn hmac_map(State(map): State<Arc<HmacMap>>, mut req: Request, next: Next) -> Response {
    let Some(record) = req
        .headers()
        .get("x-api-key")
        .and_then(|key| map.find(key.as_bytes()))
        .cloned()
    else {
        return unauthorized();
    };
    req.extensions_mut().insert(record);
    next.run(req).await
}

/// GCRA in one script: `KEYS[1]` the account, `ARGV` now (µs), emission interval (µs),
/// burst tolerance (µs). Returns 1 (allowed) or 0.
pub const GCRA_LUA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new = tat + interval
if new - now > tolerance + interval then return 0 end
redis.call('SET', KEYS[1], new, 'PX', math.floor((new - now) / 1000) + 1000)
return 1
";

/// The hand-written map and a Redis connection for [`evalsha`].
pub struct Evalsha {
    pub map: HmacMap,
    pub redis: redis::aio::ConnectionManager,
    pub script: redis::Script,
}

/// The hand-written HMAC + map middleware with one EVALSHA per request.
pub async fn evalsha(State(state): State<Arc<Evalsha>>, mut req: Request, next: Next) -> Response {
    let Some(record) = req
        .headers()
        .get("x-api-key")
        .and_then(|key| state.map.find(key.as_bytes()))
        .cloned()
    else {
        return unauthorized();
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    let mut redis = state.redis.clone();
    // 1 000 000 a second per key (as keygate's row): never refused, always written.
    let allowed: Result<i64, _> = state
        .script
        .key(format!("rl:{}", record.id))
        .arg(now as i64)
        .arg(1i64)
        .arg(1_000_000i64)
        .invoke_async(&mut redis)
        .await;
    match allowed {
        Ok(1) => {}
        Ok(_) => return (StatusCode::TOO_MANY_REQUESTS, "rate limited").into_response(),
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "redis").into_response(),
    }
    req.extensions_mut().insert(record);
    next.run(req).await
}
