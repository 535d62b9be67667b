//! `find_by_hash` through the key cache against the same lookup straight to SQLite (and
//! Postgres when `KEYGATE_TEST_POSTGRES_URL` is set). The ratio of the two, measured in
//! one run, is what the cache buys on the hot path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::str::FromStr as _;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate_core::key::{KeyHasher, KeyId, KeyRecord};
use keygate_core::{Environment, KeyKind, KeyStore, Pepper, ScopeSet};
use keygate_sqlx::SqlStore;
use time::OffsetDateTime;

fn record(hasher: &KeyHasher) -> KeyRecord {
    let id = KeyId::generate().unwrap();
    KeyRecord {
        lineage: id.clone(),
        id,
        digest: hasher.digest("sk_live_bench"),
        prefix: "sk_live_".into(),
        start: "sk_live_benc".into(),
        kind: KeyKind::Secret,
        environment: Environment::Live,
        tenant: Some(Arc::from("acme")),
        name: None,
        scopes: ScopeSet::none(),
        rate_limit: None,
        credits: None,
        owner: None,
        refill: None,
        metadata: Arc::default(),
        created_at: OffsetDateTime::now_utc(),
        expires_at: None,
        revoked_at: None,
        valid_until: None,
    }
}

fn bench_backend(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    store: SqlStore,
) {
    let hasher = KeyHasher::new(&Pepper::from_bytes(vec![5; 32]).unwrap());
    let key = record(&hasher);
    runtime.block_on(store.create(&key)).unwrap();
    let cache = runtime.block_on(async {
        let cache = store.cached().unwrap();
        while !cache.stats().serving {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        cache
    });
    let mut group = c.benchmark_group(format!("find_by_hash/{name}"));
    group.bench_function("sql", |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(store.find_by_hash(&key.digest).await.unwrap()) });
    });
    group.bench_function("cached", |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(cache.find_by_hash(&key.digest).await.unwrap()) });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = runtime.block_on(SqlStore::connect(&url)).unwrap();
    bench_backend(c, &runtime, "sqlite", sqlite);
    match std::env::var("KEYGATE_TEST_POSTGRES_URL") {
        Ok(url) => {
            // A fresh schema of its own, dropped afterwards: the bench never touches
            // another's data (nor `public`).
            let base = sqlx::postgres::PgConnectOptions::from_str(&url).unwrap();
            let schema = format!(
                "kg_bench_{}",
                KeyId::generate().unwrap().as_str()[4..].to_lowercase()
            );
            let store = runtime.block_on(async {
                admin(&base, &format!("CREATE SCHEMA {schema}")).await;
                SqlStore::connect_postgres(base.clone().options([("search_path", &schema)]))
                    .await
                    .unwrap()
            });
            bench_backend(c, &runtime, "postgres", store.clone());
            runtime.block_on(async {
                store.close().await;
                admin(&base, &format!("DROP SCHEMA {schema} CASCADE")).await;
            });
        }
        Err(_) => eprintln!("KEYGATE_TEST_POSTGRES_URL unset: Postgres not benched"),
    }
}

async fn admin(base: &sqlx::postgres::PgConnectOptions, sql: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect_with(base).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

criterion_group!(name = key_cache; config = Criterion::default().sample_size(30); targets = benches);
criterion_main!(key_cache);
