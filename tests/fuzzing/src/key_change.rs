use keygate_core::store::KeyChange;

/// The cache-invalidation notice (`KeyChange`), read from Postgres notifications and the
/// SQLite change table: any input is either refused or read back identically.
pub fn key_change(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(change) = KeyChange::parse(text) {
        let message = change.to_message();
        assert_eq!(KeyChange::parse(&message), Some(change), "{message}");
    }
}
