//! The SQLite file a database URL names, if any: where the pepper file goes beside it,
//! and whether [`Start::OpenExisting`](super::Start::OpenExisting) finds a database there.

use std::path::PathBuf;

/// What a database URL says about a SQLite file.
pub(super) enum SqliteFile {
    /// An in-memory database: no file.
    Memory,
    /// The database file.
    Path(PathBuf),
    /// Not a SQLite URL.
    NotSqlite,
}

/// The file a `sqlite:` URL names.
pub(super) fn sqlite_file(url: &str) -> SqliteFile {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return SqliteFile::NotSqlite;
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        SqliteFile::Memory
    } else {
        SqliteFile::Path(PathBuf::from(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let path = |url| match sqlite_file(url) {
            SqliteFile::Path(path) => Some(path),
            _ => None,
        };
        assert_eq!(
            path("sqlite://keygate.db"),
            Some(PathBuf::from("keygate.db"))
        );
        assert_eq!(
            path("sqlite:data/k.db?mode=rwc"),
            Some(PathBuf::from("data/k.db"))
        );
        assert_eq!(
            path("sqlite:///var/lib/k.db"),
            Some(PathBuf::from("/var/lib/k.db"))
        );
        assert!(matches!(sqlite_file("sqlite::memory:"), SqliteFile::Memory));
        assert!(matches!(
            sqlite_file("sqlite://x.db?mode=memory"),
            SqliteFile::Memory
        ));
        assert!(matches!(
            sqlite_file("postgres://localhost/db"),
            SqliteFile::NotSqlite
        ));
    }
}
