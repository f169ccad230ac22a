//! Idempotency keys: a retried command with the same `Idempotency-Key` (same user, same route)
//! gets the first answer, and its events are appended once.
//!
//! Race handling: before running the command the key is inserted as "in progress" (status
//! NULL). The table's primary key (user, route, key) lets exactly one of two concurrent requests
//! insert; the other reads the row and gets 409 `idempotency.in_progress` (retry later) or, once
//! finished, the stored answer. A key reused with a different body gets 422.
//!
//! Crashes: a claim is a lease. Its row records a random claimant token, the lease's end
//! ([`LEASE`] after the claim by default, far longer than any command takes; `subsidy serve`
//! reads another length from `SUBSIDY_IDEMPOTENCY_LEASE_SECS`, see [`lease_from_env`]), the
//! project the command acts
//! on and that project's version when the key was claimed; every event the command appends
//! carries the key in its metadata ([`METADATA_KEY`], next to the actor, so it is covered by the
//! hash chain). A retry that finds an expired claim resolves it against the store: if events of
//! that project after that version carry this key and this user, the command was committed, and
//! the answer is rebuilt from those events, stored and sent (the same body, `ETag` and
//! `Location` the first request would have sent); otherwise nothing was committed and the retry
//! takes the claim over (only one retry can: the update is conditional on the old claimant) and
//! runs the command. A registration draws its project id before claiming, so its retry acts on
//! the same id. If the server fails (5xx) the claim is expired at once, so the next retry
//! resolves it the same way (a commit whose acknowledgement was lost is found, not repeated).

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{Store, StoredEvent};

use super::db::{db_execute, db_fetch_optional, is_unique_violation, timestamp, Db};
use super::errors::ApiError;
use super::handlers::Outcome;
use super::wire::{CommandResult, RecordedEvent};

/// How long a claim stays "in progress" before a retry may resolve it against the store, by
/// default ([`super::HttpSettings::idempotency_lease`]). Far longer than any command (the store's
/// pool gives up acquiring a connection after 2 s).
pub const LEASE: Duration = Duration::from_secs(30);

/// The environment variable `subsidy serve` reads the lease length from (whole seconds).
pub const LEASE_ENV: &str = "SUBSIDY_IDEMPOTENCY_LEASE_SECS";

/// The lease length `SUBSIDY_IDEMPOTENCY_LEASE_SECS` asks for (whole seconds, at least 1), or
/// [`LEASE`] when it is not set. Meant for tests that crash the server and must not wait 30 s
/// for its claims to expire; a lease shorter than a command can take lets a retry overtake a
/// live claimant and run the command twice.
pub fn lease_from_env() -> Result<Duration, String> {
    match std::env::var(LEASE_ENV) {
        Err(_) => Ok(LEASE),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{LEASE_ENV} must be a positive number of seconds, not {v:?}")),
    }
}

/// The event metadata key that carries the idempotency key of the request that appended it.
pub const METADATA_KEY: &str = "idempotency_key";

/// The aggregate type whose events the commands append.
const PROJECT_TYPE: &str = "SubsidyProject";

/// One request's idempotency identity and what it acts on.
pub struct Request<'a> {
    pub username: &'a str,
    pub route: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    /// The project the command acts on (for a registration: the freshly drawn id).
    pub project_id: &'a str,
    /// The project's version when the key is claimed (0 for a registration).
    pub project_version: usize,
}

/// A claim this request holds.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The project to run the command on: the request's, or for a registration taken over from
    /// a crashed claimant, the id that claimant had drawn.
    pub project_id: String,
    claimant: String,
}

/// The result of claiming a key.
pub enum Claim {
    /// This request owns the key: run the command on `lease.project_id`.
    Claimed(Lease),
    /// The key already has an answer: send it again.
    Replay(Outcome),
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> String {
    timestamp(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX))
}

fn in_progress() -> ApiError {
    ApiError::Conflict {
        code: "idempotency.in_progress",
        detail: "a request with this Idempotency-Key is still being processed; retry later".into(),
    }
}

/// Claims `request`'s key for `lease` (see the module documentation).
pub async fn claim(
    db: &Db,
    store: &Store,
    request: &Request<'_>,
    lease: Duration,
) -> Result<Claim, ApiError> {
    let now = Utc::now();
    let claimant = super::auth::random_token();
    let inserted = db_execute!(
        db,
        "INSERT INTO http_idempotency (username, route, idem_key, request_hash, created_at, project_id, project_version, lease_until, claimant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        request.username,
        request.route,
        request.key,
        request.request_hash,
        timestamp(now),
        request.project_id,
        request.project_version as i64,
        lease_end(now, lease),
        claimant.clone(),
    );
    match inserted {
        Ok(_) => {
            return Ok(Claim::Claimed(Lease {
                project_id: request.project_id.to_string(),
                claimant,
            }))
        }
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    type Row = (
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let row = db_fetch_optional!(
        db,
        Row,
        "SELECT request_hash, status, response_body, etag, project_id, project_version, lease_until, claimant FROM http_idempotency WHERE username = ? AND route = ? AND idem_key = ?",
        request.username,
        request.route,
        request.key,
    )?;
    let Some((hash, status, body, etag, project_id, project_version, lease_until, holder)) = row
    else {
        // Deleted between our insert attempt and this read (only an old server version deletes).
        return Err(ApiError::Conflict {
            code: "idempotency.in_progress",
            detail: "a request with this Idempotency-Key was just being processed; retry".into(),
        });
    };
    if hash != request.request_hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency.key_reused",
            detail: "this Idempotency-Key was already used for a different request; use a new key"
                .into(),
        });
    }
    if let (Some(status), Some(body)) = (status, body) {
        let (etag, location) = split_etag(etag);
        return Ok(Claim::Replay(Outcome {
            status: status as u16,
            body,
            etag,
            location,
        }));
    }
    // In progress. A live lease, or a claim written before leases existed, is left alone.
    let (Some(project_id), Some(project_version), Some(lease_until), Some(holder)) =
        (project_id, project_version, lease_until, holder)
    else {
        return Err(in_progress());
    };
    if lease_until > timestamp(now) {
        return Err(in_progress());
    }
    // The claimant died (or failed) without storing an answer: did its command commit?
    let committed: Vec<StoredEvent> = store
        .read_stream(PROJECT_TYPE, &project_id)
        .await?
        .into_iter()
        .filter(|e| e.sequence > project_version)
        .filter(|e| {
            let meta = |k: &str| e.metadata.get(k).and_then(|v| v.as_str());
            meta(METADATA_KEY) == Some(request.key)
                && meta(domain::types::metadata_keys::ACTOR) == Some(request.username)
        })
        .collect();
    if let Some(last) = committed.last() {
        let created = committed[0].sequence == 1;
        let events = committed.iter().map(recorded_event).collect();
        let outcome = command_outcome(
            &project_id,
            last.sequence as usize,
            last.global_position,
            created,
            events,
        )?;
        // Conditional on the dead claimant, so a concurrent resolver's identical answer stays.
        db_execute!(
            db,
            "UPDATE http_idempotency SET status = ?, response_body = ?, etag = ? WHERE username = ? AND route = ? AND idem_key = ? AND status IS NULL AND claimant = ?",
            outcome.status as i64,
            outcome.body.clone(),
            join_etag(&outcome),
            request.username,
            request.route,
            request.key,
            holder,
        )?;
        tracing::warn!(user = ?request.username, key = ?request.key, project = ?project_id, "idempotency: an expired claim's command had committed; its answer was rebuilt from the events");
        return Ok(Claim::Replay(outcome));
    }
    // Nothing committed: take the claim over. Only one retry matches the old claimant.
    let taken = db_execute!(
        db,
        "UPDATE http_idempotency SET lease_until = ?, claimant = ? WHERE username = ? AND route = ? AND idem_key = ? AND status IS NULL AND claimant = ?",
        lease_end(Utc::now(), lease),
        claimant.clone(),
        request.username,
        request.route,
        request.key,
        holder,
    )?;
    if taken != 1 {
        return Err(in_progress());
    }
    tracing::warn!(user = ?request.username, key = ?request.key, project = ?project_id, "idempotency: took over an expired claim whose command had not committed");
    Ok(Claim::Claimed(Lease {
        project_id,
        claimant,
    }))
}

fn recorded_event(e: &StoredEvent) -> RecordedEvent {
    RecordedEvent {
        sequence: e.sequence as usize,
        event_type: e.event_type.clone(),
        recorded_at: e
            .metadata
            .get(store::RECORDED_AT)
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        hash: e
            .metadata
            .get(store::HASH)
            .and_then(|h| h.as_str())
            .map(String::from),
    }
}

/// The answer to a committed command: 201 with `Location` for a registration, else 200; the
/// version as `ETag`. Used for fresh answers and for answers rebuilt from the events.
pub fn command_outcome(
    project_id: &str,
    version: usize,
    position: i64,
    created: bool,
    events: Vec<RecordedEvent>,
) -> Result<Outcome, ApiError> {
    let result = CommandResult {
        project_id: project_id.to_string(),
        version,
        position,
        events,
    };
    Ok(Outcome {
        status: if created { 201 } else { 200 },
        body: serde_json::to_string(&result).map_err(|e| ApiError::Internal(e.to_string()))?,
        etag: Some(format!("\"{version}\"")),
        location: created.then(|| format!("/projects/{project_id}")),
    })
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

/// Stores the answer of the claim this request holds.
pub async fn complete(
    db: &Db,
    request: &Request<'_>,
    lease: &Lease,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    db_execute!(
        db,
        "UPDATE http_idempotency SET status = ?, response_body = ?, etag = ? WHERE username = ? AND route = ? AND idem_key = ? AND claimant = ?",
        outcome.status as i64,
        outcome.body.clone(),
        join_etag(outcome),
        request.username,
        request.route,
        request.key,
        lease.claimant.clone(),
    )?;
    Ok(())
}

/// After a server failure: ends the lease at once, so that the next retry resolves the claim
/// against the store (the failure may have come after the commit) instead of waiting for it.
pub async fn release(db: &Db, request: &Request<'_>, lease: &Lease) -> Result<(), ApiError> {
    db_execute!(
        db,
        "UPDATE http_idempotency SET lease_until = ? WHERE username = ? AND route = ? AND idem_key = ? AND status IS NULL AND claimant = ?",
        timestamp(Utc::now()),
        request.username,
        request.route,
        request.key,
        lease.claimant.clone(),
    )?;
    Ok(())
}
