//! Reading the messages the SMTP test server (`tests::smtp`, a real aiosmtpd process) stored:
//! encoded headers and MIME parts.

pub use tests::smtp::{free_port, header, SmtpServer};

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
