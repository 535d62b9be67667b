//! What a command prints: a buffer written to standard output once the command is done,
//! tables for people, JSON for scripts, and text from the database made safe for a
//! terminal.

use std::fmt::Write as _;
use std::io::Write as _;

use keygate_core::key::KeyView;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

/// A command's standard output. It may hold a key or the admin secret, so it is wiped
/// when dropped.
pub(crate) struct Output {
    text: Zeroizing<String>,
    json: bool,
}

impl Output {
    /// An empty output; `json` says which form the command prints.
    pub(crate) fn new(json: bool) -> Self {
        Self {
            text: Zeroizing::new(String::new()),
            json,
        }
    }

    /// Whether the command prints JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Adds one line.
    pub(crate) fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Adds `value` as pretty JSON, on its own lines.
    pub(crate) fn json_value(&mut self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(json) => {
                let json = Zeroizing::new(json);
                self.line(json.as_str());
            }
            // Only a map with non-string keys fails to serialize; none is printed here.
            Err(err) => self.line(format!("{{\"error\": \"{err}\"}}")),
        }
    }

    /// Adds `rows` under `headers`, in columns; the last column is not padded.
    pub(crate) fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&headers).chain(rows) {
            let mut line = String::new();
            let last = row.len().saturating_sub(1);
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i == last {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            self.line(line.trim_end());
        }
    }

    /// Adds `pairs` as `name  value` lines, the values aligned.
    pub(crate) fn fields(&mut self, pairs: &[(&str, String)]) {
        let width = pairs.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in pairs {
            self.line(format!("{name:<width$}  {value}").trim_end());
        }
    }

    /// Writes the answer to standard output.
    pub(crate) fn write(&self) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(self.text.as_bytes())?;
        stdout.flush()
    }
}

/// `at` in RFC 3339, UTC, to the second.
pub(crate) fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// Text read from the database (a key's name can be set by any tenant through the admin
/// API), made safe to print: control and bidirectional-override characters, which could
/// rewrite the operator's terminal or reorder what it shows, become `�`.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let hidden = c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
            if hidden { '\u{FFFD}' } else { c }
        })
        .collect()
}

/// `value`, or `-` when there is none.
pub(crate) fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

/// A key's settings and state, one per line (never its text).
pub(crate) fn key_fields(out: &mut Output, view: &KeyView) {
    let scopes = view
        .scopes
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let metadata = (!view.metadata.is_empty())
        .then(|| serde_json::to_string(&*view.metadata).ok())
        .flatten();
    out.fields(&[
        ("id", view.id.clone()),
        ("start", format!("{}…", view.start)),
        ("kind", view.kind.as_str().to_owned()),
        ("environment", view.environment.as_str().to_owned()),
        ("tenant", or_dash(view.tenant.as_deref().map(str::to_owned))),
        ("name", or_dash(view.name.as_deref().map(printable))),
        ("scopes", or_dash((!scopes.is_empty()).then_some(scopes))),
        (
            "rate limit",
            or_dash(view.rate_limit.map(|r| rate_limit(&r))),
        ),
        ("owner", or_dash(view.owner.as_deref().map(printable))),
        ("credits", credits(view.credits)),
        (
            "refill",
            or_dash(
                view.refill
                    .map(|rule| format!("{} {}", rule.amount(), rule.interval().as_str())),
            ),
        ),
        ("status", view.status.to_owned()),
        ("created", when(view.created_at)),
        (
            "expires",
            view.expires_at.map_or_else(|| "never".to_owned(), when),
        ),
        ("valid until", or_dash(view.valid_until.map(when))),
        ("revoked", or_dash(view.revoked_at.map(when))),
        ("metadata", or_dash(metadata.as_deref().map(printable))),
    ]);
}

/// `100/60s`, as `--rate-limit` takes it.
pub(crate) fn rate_limit(limit: &keygate_core::key::RateLimit) -> String {
    format!("{}/{}s", limit.limit(), limit.window_seconds())
}

/// A credit balance, or `unlimited`.
pub(crate) fn credits(balance: Option<u64>) -> String {
    balance.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_never_reach_the_terminal() {
        assert_eq!(printable("plain name é"), "plain name é");
        let shown = printable("evil\u{1b}[2J\u{202E}txt.exe\n");
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202E}') && !shown.contains('\n'));
    }

    #[test]
    fn tables_line_up() {
        let mut out = Output::new(false);
        out.table(
            &["ID", "NAME"],
            &[
                vec!["key_a".into(), "x".into()],
                vec!["k".into(), "".into()],
            ],
        );
        assert_eq!(out.text.as_str(), "ID     NAME\nkey_a  x\nk\n");
    }

    #[test]
    fn times_are_utc_seconds() {
        let at = time::macros::datetime!(2030-01-02 03:04:05.678 +02:00);
        assert_eq!(when(at), "2030-01-02T01:04:05Z");
    }
}
