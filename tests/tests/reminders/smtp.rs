//! A real SMTP server process for the tests: Debian's python3-aiosmtpd with its `Mailbox`
//! handler, which stores every accepted message in a Maildir with `X-RcptTo` and `X-MailFrom`
//! headers. `SMTP_TEST_PYTHON` names the interpreter (default `/usr/bin/python3`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound and released; nothing listens on it afterwards).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl SmtpServer {
    /// Starts the server on `port`, storing mail under `dir`, and waits (bounded) until it
    /// accepts connections.
    pub async fn start(port: u16, dir: &Path) -> SmtpServer {
        let python =
            std::env::var("SMTP_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_string());
        let check = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .unwrap_or_else(|e| panic!("cannot run {python} ({e}); set SMTP_TEST_PYTHON"));
        assert!(
            check.success(),
            "the SMTP test server needs aiosmtpd for {python}: install python3-aiosmtpd \
             (scripts/test.sh does) or point SMTP_TEST_PYTHON at a python that has it"
        );
        let maildir = dir.join("maildir");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start aiosmtpd with {python}: {e}"));
        let server = SmtpServer {
            child,
            port,
            maildir,
        };
        tests::poll_until(
            "the SMTP server to accept connections",
            Duration::from_secs(20),
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
        server
    }

    /// Every message received so far (raw bytes as stored).
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                out.push(std::fs::read_to_string(e.path()).expect("read a stored message"));
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a header (first occurrence, unfolded, undecoded).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or(message);
    let head = head.split("\n\n").next().unwrap_or(head);
    let unfolded = head.replace("\r\n ", " ").replace("\n ", " ");
    unfolded.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, as lettre writes them) in a header value.
pub fn decode_header(value: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
    let mut previous_encoded = false;
    for word in value.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        let encoded = lower.starts_with("=?utf-8?b?") && word.ends_with("?=");
        let joined = encoded && previous_encoded;
        if !out.is_empty() && !joined {
            out.push(' ');
        }
        if encoded {
            let b = &word[10..word.len() - 2];
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("valid base64 in an encoded word");
            out.push_str(&String::from_utf8(bytes).expect("UTF-8 in an encoded word"));
        } else {
            out.push_str(word);
        }
        previous_encoded = encoded;
    }
    out
}

fn decode_qp(body: &str) -> Vec<u8> {
    let body = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The leaf MIME parts of a message: (content type line, decoded text).
pub fn parts(message: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let message = message.replace("\r\n", "\n");
    let mut out = Vec::new();
    for section in message.split("\n--") {
        let Some((head, body)) = section.split_once("\n\n") else {
            continue;
        };
        let head = head.replace("\n ", " ");
        let field = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let Some(ctype) = field("Content-Type") else {
            continue;
        };
        if ctype.starts_with("multipart/") {
            continue;
        }
        // The body ends where the next boundary line begins (already split off above).
        let encoding = field("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .expect("valid base64 body"),
            "quoted-printable" => decode_qp(body),
            _ => body.as_bytes().to_vec(),
        };
        out.push((ctype, String::from_utf8_lossy(&bytes).to_string()));
    }
    out
}
