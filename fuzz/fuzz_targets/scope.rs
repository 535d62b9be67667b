//! Scopes from any text: never a panic; what parses matches itself and round-trips.
#![no_main]

use keygate_core::{Scope, ScopeSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str)| {
    let (a, b) = data;
    if let Ok(scope) = Scope::new(a) {
        assert!(scope.allows(&scope));
        assert!(Scope::any().allows(&scope));
        assert_eq!(Scope::new(scope.as_str()).ok(), Some(scope.clone()));
        if let Ok(other) = Scope::new(b) {
            if scope.allows(&other) && scope.as_str() != "*" {
                assert_eq!(scope.segments().count(), other.segments().count());
            }
        }
    }
    if let Ok(set) = ScopeSet::from_space_separated(a) {
        let again = ScopeSet::from_space_separated(&set.to_space_separated()).unwrap();
        assert_eq!(again, set);
    }
});
