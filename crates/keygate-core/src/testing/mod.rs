//! Test suites for the authors of stores and meters (feature `testing`): each is a set
//! of `pub async fn` scenarios and a macro that runs all of them, one `#[tokio::test]`
//! each, against your implementation. Enable the feature in `[dev-dependencies]` only.

pub mod meter;
