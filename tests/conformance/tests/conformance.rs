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
