//! Log forging (issue 8, finding 7): values a client chose are logged escaped, so one event is
//! one line. The server runs with the binary's own log setup (`api::logging`), writing into a
//! buffer this test reads.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::helpers::{spawn_app, Backend};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_name_with_a_newline_cannot_forge_a_log_line() {
    let capture = Capture::default();
    let sink = capture.clone();
    api::logging::init_with(move || sink.clone(), false, "info,sqlx=warn")
        .expect("the only subscriber of this test process");
    let app = spawn_app(Backend::Sqlite).await;

    // Other tests may share this process (plain `cargo test`) and log too: this test's
    // attempts carry a marker of their own.
    let marker = format!("forger-{}", uuid::Uuid::new_v4().simple());
    let forged = "2026-12-01T08:00:00.000000Z  INFO api::http::handlers: log-in ok username=admin";
    let attempts = [
        format!("{marker}\n{forged}"),
        format!("{marker}\r\n{forged}"),
        format!("{marker}\u{1b}[2J\u{1b}[1;1Hclean screen\u{7}"),
        format!("{marker}\u{2028}{forged}"),
    ];
    // Control characters are refused by the strict JSON reader before anything is logged
    // (400); what passes it (U+2028) reaches the log-in and is logged escaped (401).
    let mut logged = 0;
    for username in &attempts {
        let reply = app
            .send(
                app.client
                    .post(app.url("/auth/login"))
                    .json(&json!({"username": username, "password": "wrong-password"})),
            )
            .await;
        assert!([400, 401].contains(&reply.status), "{}", reply.body);
        if reply.status == 401 {
            logged += 1;
        }
    }
    assert!(logged >= 1, "at least one attempt reaches the log-in");

    let log = capture.text();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("log-in failed") && l.contains(&marker))
        .collect();
    assert_eq!(failed.len(), logged, "one line per attempt:\n{log}");
    for line in log.lines() {
        assert!(
            !line.contains("log-in ok") || line.contains("log-in failed"),
            "a forged line: {line:?}\nin:\n{log}"
        );
    }
    assert!(
        !log.contains('\u{1b}'),
        "raw escape bytes in the log:\n{log}"
    );
    assert!(!log.contains('\u{7}'), "a raw bell in the log:\n{log}");
    assert!(
        !log.contains('\r'),
        "a raw carriage return in the log:\n{log}"
    );
    assert!(!log.contains('\u{2028}'), "a raw line separator in the log");
    // The user name is still readable, quoted and escaped.
    assert!(
        failed[0].contains(&format!(
            r#"username="{marker}\n2026-12-01T08:00:00.000000Z"#
        )),
        "{}",
        failed[0]
    );
}
