use keygate_core::key::{MAX_KEY_LEN, ParsedKey};

/// `ParsedKey::parse` on any text: never panics, and what it accepts is well formed.
pub fn api_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ParsedKey::parse(text) {
        assert!(text.len() <= MAX_KEY_LEN);
        assert!(key.prefix().ends_with('_'));
        assert_eq!(key.start().len(), key.prefix().len() + 4);
        assert!(text.starts_with(key.start()));
        assert!(ParsedKey::parse(key.expose()).is_ok());
    }
}
