//! Rendering a reminder: subject, plain-text and HTML bodies in the recipient's language
//! (Chinese unless the official chose `en`), and the iCalendar (RFC 5545) attachment.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use projections::deadlines::DueReminder;
use sha2::{Digest, Sha256};
use workflows::deadlines::ReminderKind;

use super::ReminderError;

/// A rendered reminder, ready for the outbox.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub ics: String,
    /// The whole message as sent (RFC 5322).
    pub message: String,
}

/// The part after `@` of the From address, for Message-IDs and UIDs.
pub fn mail_domain(from: &Mailbox) -> String {
    from.email.domain().to_string()
}

/// The Message-ID of the reminder with `key`: stable, so a re-send is recognisable.
pub fn message_id(key: &str, domain: &str) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("<reminder.{}@{domain}>", &digest[..32])
}

fn english(r: &DueReminder) -> bool {
    r.recipient.language.eq_ignore_ascii_case("en")
}

fn weekday_zh(d: NaiveDate) -> &'static str {
    match d.weekday() {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

fn date_zh(d: NaiveDate) -> String {
    format!(
        "{}年{}月{}日（{}）",
        d.year(),
        d.month(),
        d.day(),
        weekday_zh(d)
    )
}

/// The subject line.
pub fn subject(r: &DueReminder) -> String {
    let d = &r.deadline;
    let due = d.deadline.due_on.unwrap_or(d.deadline.nominal_due);
    if english(r) {
        let tag = match r.kind {
            ReminderKind::Before => "Reminder",
            ReminderKind::DueToday => "Due today",
            ReminderKind::Overdue => "Overdue",
            ReminderKind::Escalation => "Escalation: overdue",
        };
        format!("[{tag}] {}: {} due {due}", d.project_name, d.deadline.name)
    } else {
        let tag = match r.kind {
            ReminderKind::Before => "到期提醒",
            ReminderKind::DueToday => "今日到期",
            ReminderKind::Overdue => "已逾期",
            ReminderKind::Escalation => "逾期督办",
        };
        format!(
            "【{tag}】{}：{}（{}截止）",
            d.project_name,
            d.deadline.name,
            date_zh(due)
        )
    }
}

/// The link to the project's deadlines in the web front end.
pub fn link(base_url: &str, project_id: &str) -> String {
    format!(
        "{}/projects/{}/deadlines",
        base_url.trim_end_matches('/'),
        project_id
    )
}

/// The plain-text body, as (label, value) lines after an opening sentence.
fn lines(r: &DueReminder, base_url: &str) -> (String, Vec<(&'static str, String)>) {
    let d = &r.deadline;
    let due = d.deadline.due_on.unwrap_or(d.deadline.nominal_due);
    let url = link(base_url, &d.project_id);
    if english(r) {
        let opening = match r.kind {
            ReminderKind::Before => "a deadline of a project you are responsible for falls due soon.",
            ReminderKind::DueToday => "a deadline of a project you are responsible for falls due today.",
            ReminderKind::Overdue => "a deadline of a project you are responsible for has passed and is not met.",
            ReminderKind::Escalation => "a deadline of a project in your charge has passed and is not met; the responsible officials have been reminded.",
        };
        (
            format!(
                "Dear {} ({}), {opening}",
                r.recipient.name, r.recipient.post
            ),
            vec![
                ("Project", format!("{} ({})", d.project_name, d.project_id)),
                ("Jurisdiction", d.jurisdiction.clone()),
                ("Programme", d.programme.clone()),
                (
                    "Deadline",
                    format!("{} [{}]", d.deadline.name, d.deadline.id),
                ),
                ("Due date", format!("{due} ({})", due.weekday())),
                ("Required (original wording)", d.deadline.requires.clone()),
                ("How the date was set", d.deadline.explanation.clone()),
                ("Link", url),
            ],
        )
    } else {
        let opening = match r.kind {
            ReminderKind::Before => "您负责的项目有一项工作即将到期，请按时完成。",
            ReminderKind::DueToday => "您负责的项目有一项工作今日到期，请于今日完成。",
            ReminderKind::Overdue => "您负责的项目有一项工作已逾期未完成，请尽快办理。",
            ReminderKind::Escalation => {
                "您分管的项目有一项工作已逾期未完成，已同时提醒责任人，请督促办理。"
            }
        };
        (
            format!("{}{}：您好！{opening}", r.recipient.name, r.recipient.post),
            vec![
                ("项目", format!("{}（{}）", d.project_name, d.project_id)),
                ("行政区划", d.jurisdiction.clone()),
                ("所属项目计划", d.programme.clone()),
                ("事项", format!("{}（{}）", d.deadline.name, d.deadline.id)),
                ("截止日期", date_zh(due)),
                ("工作要求", d.deadline.requires.clone()),
                ("期限依据", d.deadline.explanation_zh.clone()),
                ("查看详情", url),
            ],
        )
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes text for an iCalendar TEXT value (RFC 5545 §3.3.11).
fn ics_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets without splitting a UTF-8 character (RFC 5545 §3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for ch in line.chars() {
        let n = ch.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += n;
    }
    out.push_str("\r\n");
    out
}

/// The iCalendar object: one all-day VEVENT on the due date. The UID names the deadline (not
/// the reminder), so every reminder of one deadline updates the same calendar entry.
pub fn ics(r: &DueReminder, domain: &str, base_url: &str, now: DateTime<Utc>) -> String {
    let d = &r.deadline;
    let due = d.deadline.due_on.unwrap_or(d.deadline.nominal_due);
    let uid_source = format!("{}|{}", d.project_id, d.deadline.id);
    let uid = format!(
        "deadline-{}@{domain}",
        &hex::encode(Sha256::digest(uid_source.as_bytes()))[..32]
    );
    let summary = if english(r) {
        format!("Due: {} – {}", d.deadline.name, d.project_name)
    } else {
        format!("截止：{}（{}）", d.deadline.name, d.project_name)
    };
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//subsidy//deadline reminders//ZH".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        "METHOD:PUBLISH".to_string(),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{uid}"),
        format!("DTSTAMP:{}", now.format("%Y%m%dT%H%M%SZ")),
        format!("DTSTART;VALUE=DATE:{}", due.format("%Y%m%d")),
        format!(
            "DTEND;VALUE=DATE:{}",
            due.succ_opt().unwrap_or(due).format("%Y%m%d")
        ),
        format!("SUMMARY:{}", ics_text(&summary)),
        format!(
            "DESCRIPTION:{}",
            ics_text(&format!(
                "{}\n{}",
                d.deadline.requires,
                if english(r) {
                    &d.deadline.explanation
                } else {
                    &d.deadline.explanation_zh
                }
            ))
        ),
        format!("URL:{}", link(base_url, &d.project_id)),
        "TRANSP:TRANSPARENT".to_string(),
        "END:VEVENT".to_string(),
        "END:VCALENDAR".to_string(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// Renders the whole message for `reminder`, dated `now`.
pub fn render(
    reminder: &DueReminder,
    from: &Mailbox,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<Rendered, ReminderError> {
    let domain = mail_domain(from);
    let key = reminder.key();
    let message_id = message_id(&key, &domain);
    let subject = subject(reminder);
    let (opening, rows) = lines(reminder, base_url);
    let signature = if english(reminder) {
        "This message was sent automatically by the subsidy project system; please do not reply."
    } else {
        "本邮件由快递基础设施补助项目管理系统自动发送，请勿直接回复。"
    };
    let mut text = format!("{opening}\n\n");
    for (label, value) in &rows {
        text.push_str(&format!("{label}: {value}\n"));
    }
    text.push_str(&format!("\n{signature}\n"));
    let mut html = format!(
        "<!DOCTYPE html><html><body><p>{}</p><table>",
        html_escape(&opening)
    );
    for (label, value) in &rows {
        let cell = if value.starts_with("http://") || value.starts_with("https://") {
            format!("<a href=\"{0}\">{0}</a>", html_escape(value))
        } else {
            html_escape(value)
        };
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{cell}</td></tr>",
            html_escape(label)
        ));
    }
    html.push_str(&format!(
        "</table><p><small>{}</small></p></body></html>",
        html_escape(signature)
    ));
    let ics = ics(reminder, &domain, base_url, now);

    let to_address = reminder
        .recipient
        .email
        .parse()
        .map_err(|e| ReminderError::BadAddress {
            address: reminder.recipient.email.clone(),
            reason: format!("{e}"),
        })?;
    let to = Mailbox::new(Some(reminder.recipient.name.clone()), to_address);
    let calendar_type = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
        .map_err(|e| ReminderError::Render(e.to_string()))?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.clone())
        .message_id(Some(message_id.clone()))
        .date(now.into())
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(
                    text.clone(),
                    html.clone(),
                ))
                .singlepart(
                    Attachment::new("deadline.ics".to_string()).body(ics.clone(), calendar_type),
                ),
        )
        .map_err(|e| ReminderError::Render(e.to_string()))?;
    let message = String::from_utf8(message.formatted())
        .map_err(|e| ReminderError::Render(format!("the message is not UTF-8: {e}")))?;
    Ok(Rendered {
        message_id,
        subject,
        text,
        html,
        ics,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let long = format!("SUMMARY:{}", "截止".repeat(40));
        let folded = fold(&long);
        for line in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = folded.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), long);
    }

    #[test]
    fn ics_text_escapes_separators() {
        assert_eq!(ics_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
