//! The Redis meter decides as the memory meter does, to the microsecond: the same
//! pseudo-random sequences of requests (GCRA limits that divide their window and limits
//! that do not, two limits on one counter, daily and monthly windows, credits, one-time
//! tokens, settlements; gaps from 0 and sub-microsecond up to several months) get equal
//! decisions and headers from both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use keygate_core::key::RateLimit;
use keygate_core::meter::{
    Charge, CreditAccount, CreditDebit, CreditSeed, Limit, MeterAccount, MeterDecision,
    MeterRequest, OneTimeUse, Settlement, WindowLimit,
};
use keygate_core::testing::T0;
use keygate_core::{MemoryMeter, Meter};
use time::Duration;

/// xorshift64*: a fixed sequence per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn pool() -> Vec<Charge<'static>> {
    let rate = |account, limit, window| Charge {
        account,
        limit: Limit::Rate(RateLimit::new(limit, window).unwrap()),
    };
    vec![
        rate(MeterAccount::key_lineage("key_a"), 3, 10),
        // Same account as the first: the two share its one rate counter.
        rate(MeterAccount::key_lineage("key_a"), 7, 10),
        rate(MeterAccount::key_lineage("key_b"), 5, 60),
        rate(MeterAccount::tenant("acme"), 2, 1),
        Charge {
            account: MeterAccount::user("ada"),
            limit: Limit::Window(WindowLimit::per_day(4).unwrap()),
        },
        Charge {
            account: MeterAccount::user("ada"),
            limit: Limit::Window(WindowLimit::per_month(6).unwrap()),
        },
        Charge {
            account: MeterAccount::owner("acme/ada"),
            limit: Limit::Window(WindowLimit::per_day(3).unwrap()),
        },
    ]
}

const TOKENS: [&str; 4] = ["jti-0", "jti-1", "jti-2", "jti-3"];
const CREDIT_ACCOUNTS: [CreditAccount<'static>; 2] = [
    CreditAccount::KeyLineage("key_a"),
    CreditAccount::Owner("acme/ada"),
];

fn gap(rng: &mut Rng) -> Duration {
    match rng.below(10) {
        0 | 1 => Duration::ZERO,
        2 => Duration::nanoseconds(1 + rng.below(999) as i64),
        3 => Duration::microseconds(1 + rng.below(1000) as i64),
        4 | 5 => Duration::milliseconds(1 + rng.below(2000) as i64),
        6 | 7 => Duration::seconds(1 + rng.below(120) as i64),
        8 => Duration::hours(1 + rng.below(48) as i64),
        _ => Duration::days(20 + rng.below(50) as i64),
    }
}

#[tokio::test]
async fn redis_and_memory_meters_decide_every_request_alike() {
    let Some(_) = common::redis_url(module_path!()) else {
        return;
    };
    let charges_pool = pool();
    // How often each kind of decision came up: every kind must, for the test to mean
    // something.
    let mut seen = [0u32; 4];
    for seed in 1..=8u64 {
        let redis = common::TestRedis::new(module_path!()).await.unwrap();
        let on_redis = redis.meter(MemoryMeter::new()).await;
        let in_memory = MemoryMeter::new();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Start just before a UTC midnight at the end of a month, so windows turn early.
        let mut now = T0 - Duration::seconds(30);
        for step in 0..400 {
            now += gap(&mut rng);
            if rng.chance(8) {
                let settlement = Settlement {
                    credits: rng.chance(50).then(|| CreditDebit {
                        account: CREDIT_ACCOUNTS[rng.below(2) as usize],
                        cost: rng.below(3),
                        allowance: 6,
                        refill: None,
                    }),
                    one_time: rng
                        .chance(70)
                        .then(|| TOKENS[rng.below(TOKENS.len() as u64) as usize]),
                };
                on_redis.settle(&settlement).await.unwrap();
                in_memory.settle(&settlement).await.unwrap();
                continue;
            }
            let charges: Vec<Charge<'static>> = (0..rng.below(4))
                .map(|_| charges_pool[rng.below(charges_pool.len() as u64) as usize])
                .collect();
            let request = MeterRequest {
                now,
                charges: &charges,
                credits: rng.chance(30).then(|| CreditDebit {
                    account: CREDIT_ACCOUNTS[rng.below(2) as usize],
                    cost: rng.below(4),
                    allowance: 6,
                    refill: None,
                }),
                one_time: rng.chance(25).then(|| OneTimeUse {
                    token_id: TOKENS[rng.below(TOKENS.len() as u64) as usize],
                    issued_at: T0,
                    expires_at: T0 + Duration::days(3650),
                }),
            };
            let expected = in_memory.meter(&request).await.unwrap();
            let got = on_redis.meter(&request).await.unwrap();
            seen[match expected {
                MeterDecision::Allowed { .. } => 0,
                MeterDecision::Limited { .. } => 1,
                MeterDecision::InsufficientCredits { .. } => 2,
                MeterDecision::AlreadyUsed => 3,
            }] += 1;
            assert_eq!(
                got, expected,
                "seed {seed}, step {step}, at {now}: {request:?}"
            );
        }
        for account in CREDIT_ACCOUNTS {
            assert_eq!(
                on_redis
                    .credits(account, CreditSeed::credits(6), now)
                    .await
                    .unwrap(),
                in_memory
                    .credits(account, CreditSeed::credits(6), now)
                    .await
                    .unwrap()
            );
        }
    }
    eprintln!("decisions (allowed, limited, insufficient credits, used): {seen:?}");
    assert!(seen.iter().all(|count| *count > 20), "{seen:?}");
}
