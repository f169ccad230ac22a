//! Field validation of commands and their context, before any rule of the lifecycle is asked:
//! what enters the event log stays there for ever, so every text, date, amount and number is
//! checked against what it means, and a refusal names the field and the reason.
//!
//! The rules, in one place (the README's "Input rules" repeats them for API users):
//! - **Text** comes in three classes. An *identifier* (objection id, deadline id, indicator and
//!   checklist ids) is 1–64 printable ASCII characters without spaces. A *line* (names, titles,
//!   references, posts, channels, periods) is at most 200 characters on one line. A *paragraph*
//!   (summaries, reasons, resolutions, notes, descriptions, review comments) is at most 4,000
//!   characters and may hold line breaks and tabs. None may hold other control characters
//!   (C0, DEL, C1), bidirectional overrides or isolates (U+202A–U+202E, U+2066–U+2069), or
//!   non-characters; a required one may not be blank.
//! - **Dates**: registration falls in the programme's application window (`application_window`
//!   in its definition, both days included); every later date of the project falls between its
//!   registration date and 31 December ten years after the programme's year.
//! - **Money**: every amount is at most [`Fen::MAX_AMOUNT`] (¥100 亿); sums are checked.
//! - **Numbers in forms**: integers within ±(2^53 − 1), so that every stored number hashes and
//!   reads back exactly; strings in forms follow the paragraph rule.

use chrono::NaiveDate;
use workflows::programme::Programme;

use crate::commands::{ProjectCommand, ReviewDecision};
use crate::error::ProjectError;
use crate::types::{CommandContext, ConstructionEntity, Fen, Official};

/// The largest integer every stored number may hold: JSON numbers are hashed and read by
/// verifiers as IEEE doubles, which represent integers exactly only up to 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Longest identifier, line and paragraph, in characters.
pub const MAX_IDENTIFIER: usize = 64;
pub const MAX_LINE: usize = 200;
pub const MAX_PARAGRAPH: usize = 4000;

/// What kind of text a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextClass {
    Identifier,
    Line,
    Paragraph,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ProjectError {
    ProjectError::InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Why a character may never be stored, if it may not.
pub fn forbidden_char(c: char, class: TextClass) -> Option<&'static str> {
    match c {
        '\n' | '\r' | '\t' if class == TextClass::Paragraph => None,
        '\n' | '\r' => Some("a line break is not allowed here"),
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some("control characters are not allowed"),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            Some("bidirectional override characters are not allowed")
        }
        '\u{fdd0}'..='\u{fdef}' => Some("non-characters are not allowed"),
        c if (c as u32) & 0xfffe == 0xfffe => Some("non-characters are not allowed"),
        _ => None,
    }
}

/// Checks one text field. `required` refuses a blank value.
pub fn check_text(
    field: &str,
    value: &str,
    class: TextClass,
    required: bool,
) -> Result<(), ProjectError> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "is required and may not be blank"));
    }
    let (max, what) = match class {
        TextClass::Identifier => (MAX_IDENTIFIER, "an identifier"),
        TextClass::Line => (MAX_LINE, "a single line"),
        TextClass::Paragraph => (MAX_PARAGRAPH, "a text"),
    };
    let len = value.chars().count();
    if len > max {
        return Err(invalid(
            field,
            format!("is {len} characters long; {what} may have at most {max}"),
        ));
    }
    if class == TextClass::Identifier {
        if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(invalid(
                field,
                format!("{c:?} is not allowed: an identifier is printable ASCII without spaces"),
            ));
        }
        return Ok(());
    }
    if let Some((i, c, why)) = value
        .chars()
        .enumerate()
        .find_map(|(i, c)| forbidden_char(c, class).map(|why| (i, c, why)))
    {
        return Err(invalid(
            field,
            format!("character {} (U+{:04X}): {why}", i + 1, c as u32),
        ));
    }
    Ok(())
}

/// Checks an amount: positive (unless `allow_zero`) and at most [`Fen::MAX_AMOUNT`].
pub fn check_amount(field: &str, amount: Fen, allow_zero: bool) -> Result<(), ProjectError> {
    if amount.0 < 0 || (!allow_zero && amount.0 == 0) {
        return Err(ProjectError::NonPositiveAmount { amount });
    }
    if amount > Fen::MAX_AMOUNT {
        return Err(ProjectError::AmountOutOfRange {
            field: field.to_string(),
            amount,
        });
    }
    Ok(())
}

/// Checks every number and string inside a form: integers within ±(2^53 − 1), finite numbers,
/// strings by the paragraph rule, object keys by the line rule. `pointer` is the form's own
/// JSON pointer prefix for the messages (e.g. `/form`).
pub fn check_json_value(pointer: &str, value: &serde_json::Value) -> Result<(), ProjectError> {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
                    return Err(invalid(
                        pointer,
                        format!("{i} is outside ±9007199254740991 (2^53 − 1), the range every stored number keeps exactly"),
                    ));
                }
            } else if let Some(u) = n.as_u64() {
                return Err(invalid(
                    pointer,
                    format!("{u} is outside ±9007199254740991 (2^53 − 1), the range every stored number keeps exactly"),
                ));
            } else if let Some(f) = n.as_f64() {
                if !f.is_finite() || f.abs() > MAX_SAFE_INTEGER as f64 {
                    return Err(invalid(
                        pointer,
                        format!("{f} is outside ±9007199254740991 (2^53 − 1), the range every stored number keeps exactly"),
                    ));
                }
            }
            Ok(())
        }
        Value::String(s) => check_text(pointer, s, TextClass::Paragraph, false),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_json_value(&format!("{pointer}/{i}"), v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let escaped = k.replace('~', "~0").replace('/', "~1");
            let here = format!("{pointer}/{escaped}");
            check_text(&here, k, TextClass::Line, false)?;
            check_json_value(&here, v)
        }),
        Value::Null | Value::Bool(_) => Ok(()),
    }
}

/// Checks the acting user and the evidence of a command.
pub fn check_context(context: &CommandContext) -> Result<(), ProjectError> {
    check_text("actor", &context.actor, TextClass::Line, true)?;
    if context.evidence.len() > 50 {
        return Err(invalid(
            "evidence",
            format!("{} documents; at most 50 per step", context.evidence.len()),
        ));
    }
    for (i, doc) in context.evidence.iter().enumerate() {
        check_text(
            &format!("evidence/{i}/title"),
            &doc.title,
            TextClass::Line,
            true,
        )?;
        check_text(
            &format!("evidence/{i}/reference"),
            &doc.reference,
            TextClass::Line,
            true,
        )?;
        if let Some(sha) = &doc.sha256 {
            if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(invalid(
                    format!("evidence/{i}/sha256"),
                    "must be 64 lowercase hexadecimal digits (the SHA-256 of the scanned file)",
                ));
            }
        }
    }
    Ok(())
}

fn check_official(official: &Official) -> Result<(), ProjectError> {
    check_text("official/name", &official.name, TextClass::Line, true)?;
    check_text("official/post", &official.post, TextClass::Line, true)?;
    check_text("official/email", &official.email, TextClass::Line, true)?;
    if let Some(phone) = &official.phone {
        let ok = (3..=30).contains(&phone.len())
            && phone
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b' ' | b'(' | b')'));
        if !ok {
            return Err(invalid(
                "official/phone",
                "must be 3–30 characters of digits, spaces, '+', '-', '(' and ')'",
            ));
        }
    }
    if !matches!(official.language.as_str(), "zh" | "en") {
        return Err(invalid(
            "official/language",
            format!(
                "'{}' is not a language of the reminder e-mails; use 'zh' or 'en'",
                official.language.escape_debug()
            ),
        ));
    }
    Ok(())
}

fn check_entity(entity: &ConstructionEntity) -> Result<(), ProjectError> {
    check_text("entity/name", &entity.name, TextClass::Line, true)?;
    check_text("entity/kind", &entity.kind, TextClass::Line, true)?;
    // 统一社会信用代码 (GB 32100-2015): 18 characters of digits and capital letters without
    // I, O, S, V and Z.
    let ok = entity.credit_code.len() == 18
        && entity
            .credit_code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOSVZ".contains(&b)));
    if !ok {
        return Err(invalid(
            "entity/credit_code",
            "a unified social credit code is 18 digits and capital letters (not I, O, S, V, Z)",
        ));
    }
    Ok(())
}

/// The dates a project of `programme` may register on: the programme's application window
/// (`application_window` in its definition), both days included.
pub fn registration_window(programme: &Programme) -> (NaiveDate, NaiveDate) {
    let w = programme.application_window;
    (w.opens_on, w.closes_on)
}

/// The last date any step of a project of `programme` may carry: 31 December ten years after
/// the programme's year.
fn last_step_date(programme: &Programme) -> NaiveDate {
    NaiveDate::from_ymd_opt(programme.year + 10, 12, 31).expect("a valid year")
}

fn check_date(
    field: &str,
    date: NaiveDate,
    earliest: NaiveDate,
    latest: NaiveDate,
    why: &str,
) -> Result<(), ProjectError> {
    if date < earliest || date > latest {
        return Err(ProjectError::DateOutOfRange {
            field: field.to_string(),
            date: date.to_string(),
            earliest: earliest.to_string(),
            latest: latest.to_string(),
            why: why.to_string(),
        });
    }
    Ok(())
}

/// Whether `id` names a deadline the programme can derive: a deadline rule (`plan-due`, or
/// `rule#n` for a repeated one), the notice end, or a report slot `schedule@YYYY-MM-DD`.
pub fn deadline_id_exists(programme: &Programme, id: &str) -> bool {
    if id == workflows::deadlines::NOTICE_DEADLINE_ID {
        return true;
    }
    if let Some((schedule, date)) = id.split_once('@') {
        return programme.report_schedules.iter().any(|s| s.id == schedule)
            && NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
    }
    let (rule, n) = match id.split_once('#') {
        Some((rule, n)) => (rule, Some(n)),
        None => (id, None),
    };
    let numbered_ok =
        n.is_none_or(|n| n.parse::<u32>().is_ok_and(|n| n >= 1) && !n.starts_with('0'));
    numbered_ok && programme.deadlines.iter().any(|d| d.id == rule)
}

/// Checks every field of `command` for a project registered on `registered_on` (None while it
/// registers) under `programme`. Lifecycle rules come after this, in the aggregate.
pub fn check_command(
    command: &ProjectCommand,
    programme: Option<&Programme>,
    registered_on: Option<NaiveDate>,
) -> Result<(), ProjectError> {
    use ProjectCommand as C;
    use TextClass::*;
    // Every date of a registered project's steps: after its registration, before the end of
    // the programme's horizon.
    let step_date = |field: &str, date: NaiveDate| -> Result<(), ProjectError> {
        match (programme, registered_on) {
            (Some(p), Some(reg)) => check_date(
                field,
                date,
                reg,
                last_step_date(p),
                &format!(
                    "a step of this project falls on or after its registration ({reg}) and no later than ten years after its programme's year {}",
                    p.year
                ),
            ),
            _ => Ok(()),
        }
    };
    match command {
        C::RegisterProject {
            name,
            programme_id,
            description,
            registered_on,
            ..
        } => {
            check_text("name", name, Line, true)?;
            check_text("programme_id", programme_id, Identifier, true)?;
            check_text("description", description, Paragraph, false)?;
            if let Some(p) = programme {
                let (opens_on, closes_on) = registration_window(p);
                if *registered_on < opens_on || *registered_on > closes_on {
                    return Err(ProjectError::OutsideApplicationWindow {
                        date: registered_on.to_string(),
                        programme: p.key().to_string(),
                        opens_on: opens_on.to_string(),
                        closes_on: closes_on.to_string(),
                    });
                }
            }
        }
        C::SubmitPlan { submitted_on, form } => {
            step_date("submitted_on", *submitted_on)?;
            check_json_value("/form", form)?;
        }
        C::ReviewPlan {
            reviewed_on,
            decision,
        } => {
            step_date("reviewed_on", *reviewed_on)?;
            match decision {
                ReviewDecision::Approve { comment } => {
                    check_text("decision/comment", comment, Paragraph, false)?
                }
                ReviewDecision::Return { reasons } => {
                    if reasons.len() > 50 {
                        return Err(invalid("decision/reasons", "at most 50 reasons"));
                    }
                    for (i, r) in reasons.iter().enumerate() {
                        check_text(&format!("decision/reasons/{i}"), r, Paragraph, true)?;
                    }
                }
            }
        }
        C::DesignateConstructionEntity { entity } => check_entity(entity)?,
        C::PublishNotice {
            starts_on,
            ends_on,
            channel,
        } => {
            step_date("starts_on", *starts_on)?;
            step_date("ends_on", *ends_on)?;
            check_text("channel", channel, Line, true)?;
        }
        C::RaiseObjection {
            objection_id,
            raised_on,
            raised_by,
            summary,
        } => {
            check_text("objection_id", objection_id, Identifier, true)?;
            step_date("raised_on", *raised_on)?;
            check_text("raised_by", raised_by, Line, true)?;
            check_text("summary", summary, Paragraph, true)?;
        }
        C::ResolveObjection {
            objection_id,
            resolved_on,
            resolution,
            ..
        } => {
            check_text("objection_id", objection_id, Identifier, true)?;
            step_date("resolved_on", *resolved_on)?;
            check_text("resolution", resolution, Paragraph, true)?;
        }
        C::CloseNotice { closed_on } => step_date("closed_on", *closed_on)?,
        C::SubmitProgressReport {
            period,
            reported_on,
            form,
        } => {
            check_text("period", period, Line, true)?;
            step_date("reported_on", *reported_on)?;
            check_json_value("/form", form)?;
        }
        C::RequestAcceptance { requested_on } => step_date("requested_on", *requested_on)?,
        C::RecordInspection {
            inspected_on,
            inspector,
            results,
            rectify_by,
        } => {
            step_date("inspected_on", *inspected_on)?;
            check_text("inspector", inspector, Line, true)?;
            if let Some(by) = rectify_by {
                step_date("rectify_by", *by)?;
                if by < inspected_on {
                    return Err(ProjectError::DateBeforePrevious {
                        date: by.to_string(),
                        previous: inspected_on.to_string(),
                    });
                }
            }
            for (i, r) in results.iter().enumerate() {
                check_text(
                    &format!("results/{i}/item_id"),
                    &r.item_id,
                    Identifier,
                    true,
                )?;
                check_text(&format!("results/{i}/note"), &r.note, Paragraph, false)?;
                if let Some(m) = r.measured {
                    if !(0..=MAX_SAFE_INTEGER).contains(&m) {
                        return Err(invalid(
                            format!("results/{i}/measured"),
                            format!("{m} must be between 0 and 9007199254740991"),
                        ));
                    }
                }
            }
        }
        C::EvaluatePerformance {
            evaluated_on,
            scores,
        } => {
            step_date("evaluated_on", *evaluated_on)?;
            for (i, s) in scores.iter().enumerate() {
                check_text(
                    &format!("scores/{i}/indicator_id"),
                    &s.indicator_id,
                    Identifier,
                    true,
                )?;
            }
        }
        C::ApproveFunds {
            amount,
            approved_on,
            ..
        } => {
            check_amount("amount_fen", *amount, false)?;
            step_date("approved_on", *approved_on)?;
        }
        C::DisburseTranche {
            amount, paid_on, ..
        } => {
            check_amount("amount_fen", *amount, false)?;
            step_date("paid_on", *paid_on)?;
        }
        C::SettleFunds {
            amount, settled_on, ..
        } => {
            check_amount("amount_fen", *amount, true)?;
            step_date("settled_on", *settled_on)?;
        }
        C::OrderClawback {
            amount,
            ordered_on,
            reason,
            ..
        } => {
            check_amount("amount_fen", *amount, false)?;
            step_date("ordered_on", *ordered_on)?;
            check_text("reason", reason, Paragraph, true)?;
        }
        C::SettleClawback {
            amount, settled_on, ..
        } => {
            check_amount("amount_fen", *amount, false)?;
            step_date("settled_on", *settled_on)?;
        }
        C::SuspendProject {
            suspended_on,
            reason,
        } => {
            step_date("suspended_on", *suspended_on)?;
            check_text("reason", reason, Paragraph, true)?;
        }
        C::ResumeProject { resumed_on } => step_date("resumed_on", *resumed_on)?,
        C::TerminateProject {
            terminated_on,
            reason,
            clawbacks,
        } => {
            step_date("terminated_on", *terminated_on)?;
            check_text("reason", reason, Paragraph, true)?;
            for (i, line) in clawbacks.iter().enumerate() {
                check_amount(&format!("clawbacks/{i}/amount_fen"), line.amount, false)?;
            }
        }
        C::CloseProject { closed_on } => step_date("closed_on", *closed_on)?,
        C::AssignOfficial { official, .. } => check_official(official)?,
        C::ExtendDeadline {
            deadline_id,
            until,
            reason,
        } => {
            check_text("deadline_id", deadline_id, Identifier, true)?;
            check_text("reason", reason, Paragraph, true)?;
            step_date("until", *until)?;
            if let Some(p) = programme {
                if !deadline_id_exists(p, deadline_id) {
                    let mut known: Vec<String> = p.deadlines.iter().map(|d| d.id.clone()).collect();
                    known.push(workflows::deadlines::NOTICE_DEADLINE_ID.to_string());
                    known.extend(
                        p.report_schedules
                            .iter()
                            .map(|s| format!("{}@YYYY-MM-DD", s.id)),
                    );
                    return Err(ProjectError::UnknownDeadline {
                        deadline_id: deadline_id.clone(),
                        known: known.join(", "),
                    });
                }
            }
        }
    }
    Ok(())
}
