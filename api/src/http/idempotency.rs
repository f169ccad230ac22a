//! Idempotency keys: a retried command with the same `Idempotency-Key` (same user, same route)
//! gets the first answer, and its events are appended once.
//!
//! Race handling: before running the command the key is inserted as "in progress" (status
//! NULL). The table's primary key (user, route, key) lets exactly one of two concurrent requests
//! insert; the other reads the row and gets 409 `idempotency.in_progress` (retry later) or, once
//! finished, the stored answer. A key reused with a different body gets 422. If the server
//! fails (5xx) the key is released so a retry can run. If the process dies between the event
//! commit and the answer being stored, the key stays "in progress": the retry gets 409, and the
//! project's history shows whether the command landed.

use chrono::Utc;

use super::db::{db_execute, db_fetch_optional, is_unique_violation, timestamp, Db};
use super::errors::ApiError;
use super::handlers::Outcome;

/// The result of claiming a key.
pub enum Claim {
    /// This request owns the key: run the command.
    Claimed,
    /// The key already has an answer: send it again.
    Replay(Outcome),
}

pub async fn claim(
    db: &Db,
    username: &str,
    route: &str,
    key: &str,
    request_hash: &str,
) -> Result<Claim, ApiError> {
    let inserted = db_execute!(
        db,
        "INSERT INTO http_idempotency (username, route, idem_key, request_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        username,
        route,
        key,
        request_hash,
        timestamp(Utc::now()),
    );
    match inserted {
        Ok(_) => return Ok(Claim::Claimed),
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    type Row = (String, Option<i64>, Option<String>, Option<String>);
    let row = db_fetch_optional!(
        db,
        Row,
        "SELECT request_hash, status, response_body, etag FROM http_idempotency WHERE username = ? AND route = ? AND idem_key = ?",
        username,
        route,
        key,
    )?;
    let Some((hash, status, body, etag)) = row else {
        // Released between our insert attempt and this read: the first request failed.
        return Err(ApiError::Conflict {
            code: "idempotency.in_progress",
            detail: "a request with this Idempotency-Key was just being processed; retry".into(),
        });
    };
    if hash != request_hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency.key_reused",
            detail: "this Idempotency-Key was already used for a different request; use a new key"
                .into(),
        });
    }
    match (status, body) {
        (Some(status), Some(body)) => {
            let (etag, location) = split_etag(etag);
            Ok(Claim::Replay(Outcome {
                status: status as u16,
                body,
                etag,
                location,
            }))
        }
        _ => Err(ApiError::Conflict {
            code: "idempotency.in_progress",
            detail: "a request with this Idempotency-Key is still being processed; retry later"
                .into(),
        }),
    }
}

// The `etag` column also keeps the Location of a registration, after a newline, so one text
// column holds the headers a replay needs.
fn join_etag(outcome: &Outcome) -> Option<String> {
    match (&outcome.etag, &outcome.location) {
        (None, None) => None,
        (etag, location) => Some(format!(
            "{}\n{}",
            etag.as_deref().unwrap_or(""),
            location.as_deref().unwrap_or("")
        )),
    }
}

fn split_etag(stored: Option<String>) -> (Option<String>, Option<String>) {
    let Some(stored) = stored else {
        return (None, None);
    };
    let (etag, location) = stored.split_once('\n').unwrap_or((stored.as_str(), ""));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    (some(etag), some(location))
}

pub async fn complete(
    db: &Db,
    username: &str,
    route: &str,
    key: &str,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    db_execute!(
        db,
        "UPDATE http_idempotency SET status = ?, response_body = ?, etag = ? WHERE username = ? AND route = ? AND idem_key = ?",
        outcome.status as i64,
        outcome.body.clone(),
        join_etag(outcome),
        username,
        route,
        key,
    )?;
    Ok(())
}

pub async fn release(db: &Db, username: &str, route: &str, key: &str) -> Result<(), ApiError> {
    db_execute!(
        db,
        "DELETE FROM http_idempotency WHERE username = ? AND route = ? AND idem_key = ? AND status IS NULL",
        username,
        route,
        key,
    )?;
    Ok(())
}
