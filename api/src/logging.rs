//! The log output of the binary (and of tests that check it): one event is one line.
//!
//! Log lines carry values a client chose (user names, paths, header values, error messages
//! quoting them). Call sites log such values with `?` (Debug: quoted, control characters
//! escaped), and as a second line of defence [`OneLine`] escapes every control character the
//! formatted event still contains, except the final newline (and, when colours are on, the
//! formatter's own escape sequences), so a value with a newline cannot forge a second line and
//! escape bytes do not reach a terminal raw.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Escapes one formatted event so that it is exactly one line: `\n`, `\r`, other C0 and C1
/// control characters, DEL and the Unicode line and paragraph separators inside it become
/// `\n`, `\r` or `\u{…}`. Keeps tabs, the final newline, and ESC when `ansi` (the formatter's
/// colours; values logged with `?` have their own ESC escaped already).
pub fn escape_event(formatted: &str, ansi: bool) -> String {
    let body = formatted.strip_suffix('\n').unwrap_or(formatted);
    let mut out = String::with_capacity(formatted.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            '\u{1b}' if ansi => out.push(c),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// A [`MakeWriter`] that hands each event, escaped by [`escape_event`], to the inner writer in
/// one write.
pub struct OneLine<M> {
    inner: M,
    ansi: bool,
}

impl<M> OneLine<M> {
    pub fn new(inner: M, ansi: bool) -> Self {
        Self { inner, ansi }
    }
}

/// Collects one event and writes it, escaped, when dropped (the formatter makes one writer per
/// event).
pub struct OneLineWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
    ansi: bool,
}

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for OneLineWriter<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let line = escape_event(&String::from_utf8_lossy(&self.buffer), self.ansi);
        let _ = self.inner.write_all(line.as_bytes());
        let _ = self.inner.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer(),
            buffer: Vec::new(),
            ansi: self.ansi,
        }
    }
}

/// Installs the process-wide subscriber: events filtered by `filter` (an `EnvFilter`
/// directive such as `info,sqlx=warn`), formatted as text lines, colours only when `ansi`,
/// written one escaped line per event to `make_writer`.
pub fn init_with<W>(make_writer: W, ansi: bool, filter: &str) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(OneLine::new(make_writer, ansi))
        .with_ansi(ansi)
        .finish()
        .try_init()
        .map_err(|e| e.to_string())
}

/// The binary's logging: to stderr, `RUST_LOG` or else `default_filter`, colours only for a
/// terminal (a log file or journal gets plain text).
pub fn init(default_filter: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| default_filter.to_string());
    let ansi = io::IsTerminal::is_terminal(&io::stderr());
    // Only fails when a subscriber is already installed, which main never does.
    let _ = init_with(io::stderr, ansi, &filter);
}

#[cfg(test)]
mod tests {
    use super::escape_event;

    #[test]
    fn an_event_stays_one_line() {
        assert_eq!(
            escape_event(
                "WARN log-in failed username=x\nWARN log-in ok username=admin\n",
                false
            ),
            "WARN log-in failed username=x\\nWARN log-in ok username=admin\n"
        );
        assert_eq!(
            escape_event("a\u{1b}[31mb\r\u{85}\n", false),
            "a\\u{1b}[31mb\\r\\u{85}\n"
        );
        assert_eq!(
            escape_event("\u{1b}[2mtime\u{1b}[0m\tx\n", true),
            "\u{1b}[2mtime\u{1b}[0m\tx\n"
        );
    }
}
