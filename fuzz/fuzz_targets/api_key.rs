//! `ParsedKey::parse` on any text: never panics, and what it accepts is well formed.
#![no_main]

use keygate_core::key::{MAX_KEY_LEN, ParsedKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(key) = ParsedKey::parse(text) {
        assert!(text.len() <= MAX_KEY_LEN);
        assert!(key.prefix().ends_with('_'));
        assert_eq!(key.start().len(), key.prefix().len() + 4);
        assert!(text.starts_with(key.start()));
        assert!(ParsedKey::parse(key.expose()).is_ok());
    }
});
