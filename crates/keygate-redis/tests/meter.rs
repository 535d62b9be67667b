//! The published `Meter` suite, unchanged, on the Redis of `KEYGATE_TEST_REDIS_URL`: a
//! prefix per test whose keys are deleted afterwards; credits in memory and in SQLite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use keygate_core::testing::meter::Guarded;

keygate_core::meter_suite!(redis_with_sqlite_credits, async {
    let redis = common::TestRedis::new(module_path!()).await?;
    let db = common::sqlite().await;
    let meter = redis.meter(db.store.meter()).await;
    Some(Guarded::new(meter, (redis, db)))
});

keygate_core::meter_suite!(redis_with_memory_credits, async {
    let redis = common::TestRedis::new(module_path!()).await?;
    let meter = redis.meter(keygate_core::MemoryMeter::new()).await;
    Some(Guarded::new(meter, redis))
});

// The meter model: random sequences of requests, settlements, top-ups and clock moves
// against a model of the meter; counters in Redis, credits in SQLite.
keygate_core::meter_model!(redis_model, async {
    let redis = common::TestRedis::new(module_path!()).await?;
    let db = common::sqlite().await;
    let meter = redis.meter(db.store.meter()).await;
    Some(Guarded::new(meter, (redis, db)))
});

// The shared-meter suite: two meters (two instances) on one Redis and one credit database
// share every quota, counted in the script.
keygate_core::shared_meter_suite!(redis_pair, async {
    let redis = common::TestRedis::new(module_path!()).await?;
    let db = common::sqlite().await;
    let a = redis.meter(db.store.meter()).await;
    let b = redis.meter(db.store.meter()).await;
    Some((Guarded::new(a, (redis, db)), b))
});
