use keygate_core::{Scope, ScopeSet};

/// Two scopes from any text (`a 0xFF b`): never a panic; what parses matches itself and
/// round-trips, and a scope allows another only with as many segments (or as `*`).
pub fn scope(data: &[u8]) {
    let mut parts = crate::fields(data, 2).map(std::str::from_utf8);
    let (Some(Ok(a)), b) = (parts.next(), parts.next()) else {
        return;
    };
    let b = match b {
        Some(Ok(b)) => b,
        Some(Err(_)) => return,
        None => "",
    };
    if let Ok(scope) = Scope::new(a) {
        assert!(scope.allows(&scope));
        assert!(Scope::any().allows(&scope));
        assert_eq!(Scope::new(scope.as_str()).ok(), Some(scope.clone()));
        if let Ok(other) = Scope::new(b)
            && scope.allows(&other)
            && scope.as_str() != "*"
        {
            assert_eq!(scope.segments().count(), other.segments().count());
        }
    }
    if let Ok(set) = ScopeSet::from_space_separated(a) {
        let again = ScopeSet::from_space_separated(&set.to_space_separated()).unwrap();
        assert_eq!(again, set);
    }
}
