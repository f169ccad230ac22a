//! A real SMTP server process for the tests: Debian's python3-aiosmtpd with its `Mailbox`
//! handler, which stores every accepted message in a Maildir with `X-Peer`, `X-MailFrom` and
//! `X-RcptTo` headers added. `SMTP_TEST_PYTHON` names the interpreter (default
//! `/usr/bin/python3`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound and released; nothing listens on it afterwards).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// The server process; killed when dropped.
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
        crate::poll_until(
            "the SMTP server to accept connections",
            Duration::from_secs(20),
            || async move { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() },
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

    /// How many messages have been received so far (without reading them).
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir.join(sub)).ok())
            .map(|entries| entries.count())
            .sum()
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
