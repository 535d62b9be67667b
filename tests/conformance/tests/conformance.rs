//! Every scenario, once per adapter: `cargo test -p keygate-conformance` lists
//! `axum::<scenario>`, `actix::<scenario>` and `tower::<scenario>`.

mod axum {
    keygate_conformance::conformance_suite!(keygate_conformance::adapters::axum::Axum);
}

mod actix {
    keygate_conformance::conformance_suite!(keygate_conformance::adapters::actix::Actix);
}

mod tower {
    keygate_conformance::conformance_suite!(keygate_conformance::adapters::tower::Tower);
}

/// The three adapters give the same answers, byte for byte, to requests whose answers hold
/// nothing random: status, the contract's headers and the body.
#[tokio::test]
async fn all_adapters_answer_alike() {
    use keygate_conformance::adapters::{actix::Actix, axum::Axum, tower::Tower};
    use keygate_conformance::scenarios::fixed_answers;

    let axum = fixed_answers::<Axum>().await;
    assert!(axum.len() > 10);
    assert!(
        axum.iter().any(|line| line.starts_with("401 ")),
        "{axum:#?}"
    );
    assert_eq!(axum, fixed_answers::<Actix>().await, "axum vs actix");
    assert_eq!(axum, fixed_answers::<Tower>().await, "axum vs tower");
}

/// The store axis: every scenario again with the engine on keygate-sqlx, as the reference
/// platform runs it (the SQL store behind its key cache, the SQL meter).
mod sqlite {
    use keygate_conformance::adapters::On;
    use keygate_conformance::stores::Sqlite;

    mod axum {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::axum::Axum, super::Sqlite>);
    }
    mod actix {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::actix::Actix, super::Sqlite>);
    }
    mod tower {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::tower::Tower, super::Sqlite>);
    }
}

/// The store axis on Postgres (`KEYGATE_TEST_POSTGRES_URL`; skipped with a note when unset).
mod postgres {
    use keygate_conformance::adapters::On;
    use keygate_conformance::stores::Postgres;

    mod axum {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::axum::Axum, super::Postgres>);
    }
    mod actix {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::actix::Actix, super::Postgres>);
    }
    mod tower {
        keygate_conformance::conformance_suite!(super::On<keygate_conformance::adapters::tower::Tower, super::Postgres>);
    }
}

/// The reference platform (`examples/platform`): every scenario of its contract, through
/// each of its three binaries' adapters, on SQLite and on Postgres.
mod platform {
    mod sqlite {
        use keygate_conformance::platform::{Actix, Axum, Sqlite, Tower};

        mod axum {
            keygate_conformance::platform_suite!(super::Axum, super::Sqlite);
        }
        mod actix {
            keygate_conformance::platform_suite!(super::Actix, super::Sqlite);
        }
        mod tower {
            keygate_conformance::platform_suite!(super::Tower, super::Sqlite);
        }

        #[tokio::test]
        async fn adapters_answer_alike() {
            super::answer_alike::<Sqlite>().await;
        }
    }

    mod postgres {
        use keygate_conformance::platform::{Actix, Axum, Postgres, Tower};

        mod axum {
            keygate_conformance::platform_suite!(super::Axum, super::Postgres);
        }
        mod actix {
            keygate_conformance::platform_suite!(super::Actix, super::Postgres);
        }
        mod tower {
            keygate_conformance::platform_suite!(super::Tower, super::Postgres);
        }

        #[tokio::test]
        async fn adapters_answer_alike() {
            super::answer_alike::<Postgres>().await;
        }
    }

    /// The same sequence of requests through the three adapters, each on a fresh database
    /// of kind `D` with the same clock: the same transcript, line for line.
    async fn answer_alike<D: keygate_conformance::platform::Database>() {
        use keygate_conformance::platform::differential::transcript;
        use keygate_conformance::platform::{Actix, Axum, Tower};

        let axum = transcript::<Axum, D>().await;
        if axum.is_empty() {
            return;
        }
        assert!(axum.len() > 80, "{axum:#?}");
        for status in [
            " → 200", " → 201", " → 204", " → 400", " → 401", " → 402", " → 403", " → 404",
            " → 405", " → 413", " → 429", " → 503",
        ] {
            assert!(
                axum.iter()
                    .any(|line| line.contains(&format!("{status} ")) || line.ends_with(status)),
                "the sequence covers{status}: {axum:#?}"
            );
        }
        for (name, other) in [
            ("actix", transcript::<Actix, D>().await),
            ("tower", transcript::<Tower, D>().await),
        ] {
            for (line, (a, b)) in axum.iter().zip(&other).enumerate() {
                assert_eq!(a, b, "axum vs {name}, answer {line}");
            }
            assert_eq!(axum.len(), other.len(), "axum vs {name}");
        }
    }
}
