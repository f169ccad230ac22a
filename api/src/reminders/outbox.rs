//! The outbox tables (`reminder_outbox`, `reminder_deliveries`, migration 0100) on either
//! backend: enqueue with a unique key, claim with a lease, record every outcome.
//!
//! Claiming is one statement on both backends, so two schedulers can never claim one row:
//! PostgreSQL `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`; SQLite the
//! same `UPDATE … RETURNING` without the lock clause (SQLite runs one writer at a time, and the
//! lease condition is evaluated inside that writer's statement).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgPool, SqlitePool};
use store::{format_recorded_at, Store};

use super::ReminderError;

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Rewrites `?` placeholders as `$1, $2…` for PostgreSQL.
fn pg(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

macro_rules! execute {
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            Db::Sqlite(pool) => sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
            Db::Postgres(pool) => sqlx::query(&pg($sql))$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()),
        }
    };
}

macro_rules! fetch_all {
    ($db:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            Db::Sqlite(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as::<_, $ty>(&pg($sql))$(.bind($arg))*.fetch_all(pool).await,
        }
    };
}

/// A reminder to insert.
#[derive(Debug, Clone)]
pub struct NewReminder {
    pub key: String,
    pub project_id: String,
    pub deadline_id: String,
    pub due_on: String,
    pub kind: String,
    pub recipient_email: String,
    pub recipient_name: String,
    pub recipient_role: String,
    pub message_id: String,
    pub subject: String,
    pub message: String,
    pub reason: String,
}

/// A claimed row, to be sent.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    pub recipient_email: String,
    pub message: String,
    pub attempts: i64,
    pub worker: String,
    pub claimed_at: DateTime<Utc>,
}

/// One outbox row as an auditor reads it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub reminder_key: String,
    pub project_id: String,
    pub deadline_id: String,
    pub due_on: String,
    pub kind: String,
    pub recipient_email: String,
    pub message_id: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub outbox_id: i64,
    pub attempt: i64,
    pub worker: String,
    pub started_at: String,
    pub finished_at: String,
    pub outcome: String,
    pub smtp_code: Option<i64>,
    pub detail: String,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at the given instant.
    Transient {
        retry_at: DateTime<Utc>,
        code: Option<i64>,
        detail: String,
    },
    Permanent {
        code: Option<i64>,
        detail: String,
    },
}

/// The outbox on the store's database.
#[derive(Clone)]
pub struct Outbox {
    db: Db,
}

fn ts(at: DateTime<Utc>) -> String {
    format_recorded_at(at)
}

impl Outbox {
    pub fn new(store: &Store) -> Result<Self, ReminderError> {
        let db = match (store.pool_sqlite(), store.pool_postgres()) {
            (Some(p), _) => Db::Sqlite(p.clone()),
            (_, Some(p)) => Db::Postgres(p.clone()),
            _ => {
                return Err(ReminderError::Render(
                    "the store has no database pool".into(),
                ))
            }
        };
        Ok(Outbox { db })
    }

    /// Inserts the reminder unless one with the same key exists; true when inserted.
    ///
    /// The conflict clause names no target on purpose: `message_id` is derived from the key and
    /// is UNIQUE too, and PostgreSQL raises on a unique index that is not the named arbiter when a
    /// concurrent scheduler inserted the same reminder first (seen with two schedulers at once).
    pub async fn enqueue(
        &self,
        r: &NewReminder,
        now: DateTime<Utc>,
    ) -> Result<bool, ReminderError> {
        let now = ts(now);
        let n = execute!(
            &self.db,
            "INSERT INTO reminder_outbox (reminder_key, project_id, deadline_id, due_on, kind, \
             recipient_email, recipient_name, recipient_role, message_id, subject, message, reason, \
             created_at, status, attempts, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) \
             ON CONFLICT DO NOTHING",
            &r.key,
            &r.project_id,
            &r.deadline_id,
            &r.due_on,
            &r.kind,
            &r.recipient_email,
            &r.recipient_name,
            &r.recipient_role,
            &r.message_id,
            &r.subject,
            &r.message,
            &r.reason,
            &now,
            &now,
        )
        .map_err(ReminderError::db("recording a reminder in the outbox"))?;
        Ok(n == 1)
    }

    /// Whether a reminder with this key is already in the outbox (any status).
    pub async fn contains(&self, key: &str) -> Result<bool, ReminderError> {
        let rows = fetch_all!(
            &self.db,
            (i64,),
            "SELECT id FROM reminder_outbox WHERE reminder_key = ?",
            key
        )
        .map_err(ReminderError::db("looking up a reminder"))?;
        Ok(!rows.is_empty())
    }

    /// Claims up to `limit` pending rows that are due for an attempt and not leased by a live
    /// worker, for `lease`; counts the attempt.
    pub async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Claimed>, ReminderError> {
        let now_s = ts(now);
        let until = ts(now + lease);
        type Row = (i64, String, String, String, i64);
        let rows: Vec<Row> = match &self.db {
            Db::Sqlite(pool) => sqlx::query_as::<_, Row>(
                "UPDATE reminder_outbox SET claimed_by = ?, lease_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM reminder_outbox WHERE status = 'pending' \
                   AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) \
                   ORDER BY id LIMIT ?) \
                 RETURNING id, message_id, recipient_email, message, attempts",
            )
            .bind(worker)
            .bind(&until)
            .bind(&now_s)
            .bind(&now_s)
            .bind(limit)
            .fetch_all(pool)
            .await,
            Db::Postgres(pool) => sqlx::query_as::<_, Row>(
                "UPDATE reminder_outbox SET claimed_by = $1, lease_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM reminder_outbox WHERE status = 'pending' \
                   AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
                   ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, message_id, recipient_email, message, attempts",
            )
            .bind(worker)
            .bind(&until)
            .bind(&now_s)
            .bind(limit)
            .fetch_all(pool)
            .await,
        }
        .map_err(ReminderError::db("claiming reminders to send"))?;
        let mut claimed: Vec<Claimed> = rows
            .into_iter()
            .map(
                |(id, message_id, recipient_email, message, attempts)| Claimed {
                    id,
                    message_id,
                    recipient_email,
                    message,
                    attempts,
                    worker: worker.to_string(),
                    claimed_at: now,
                },
            )
            .collect();
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Records the outcome of an attempt on a row this worker claimed. Returns false (and
    /// records `lease_lost`) when the lease was taken over meanwhile.
    pub async fn record(
        &self,
        claimed: &Claimed,
        outcome: &Outcome,
        finished: DateTime<Utc>,
    ) -> Result<bool, ReminderError> {
        let fin = ts(finished);
        let err = ReminderError::db("recording a delivery outcome");
        let updated = match outcome {
            Outcome::Delivered => execute!(
                &self.db,
                "UPDATE reminder_outbox SET status = 'sent', sent_at = ?, claimed_by = NULL, \
                 lease_until = NULL, last_error = NULL \
                 WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                &fin,
                claimed.id,
                &claimed.worker,
            ),
            Outcome::Transient {
                retry_at, detail, ..
            } => execute!(
                &self.db,
                "UPDATE reminder_outbox SET next_attempt_at = ?, claimed_by = NULL, \
                 lease_until = NULL, last_error = ? \
                 WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                ts(*retry_at),
                detail,
                claimed.id,
                &claimed.worker,
            ),
            Outcome::Permanent { detail, .. } => execute!(
                &self.db,
                "UPDATE reminder_outbox SET status = 'failed', claimed_by = NULL, \
                 lease_until = NULL, last_error = ? \
                 WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                detail,
                claimed.id,
                &claimed.worker,
            ),
        }
        .map_err(err)?;
        let (kind, code, detail) = match (updated, outcome) {
            (0, Outcome::Delivered) => (
                "lease_lost",
                None,
                "delivered, but the lease had been taken over; the row was not marked by this worker"
                    .to_string(),
            ),
            (0, _) => ("lease_lost", None, "the lease had been taken over".to_string()),
            (_, Outcome::Delivered) => ("delivered", Some(250), "accepted by the SMTP server".to_string()),
            (_, Outcome::Transient { code, detail, .. }) => ("transient_failure", *code, detail.clone()),
            (_, Outcome::Permanent { code, detail }) => ("permanent_failure", *code, detail.clone()),
        };
        execute!(
            &self.db,
            "INSERT INTO reminder_deliveries (outbox_id, attempt, worker, started_at, finished_at, \
             outcome, smtp_code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            claimed.id,
            claimed.attempts,
            &claimed.worker,
            ts(claimed.claimed_at),
            &fin,
            kind,
            code,
            &detail,
        )
        .map_err(ReminderError::db("logging a delivery attempt"))?;
        Ok(updated == 1)
    }

    /// Every outbox row, oldest first.
    pub async fn rows(&self) -> Result<Vec<OutboxRow>, ReminderError> {
        fetch_all!(
            &self.db,
            OutboxRow,
            "SELECT id, reminder_key, project_id, deadline_id, due_on, kind, recipient_email, \
             message_id, subject, status, attempts, next_attempt_at, sent_at, last_error \
             FROM reminder_outbox ORDER BY id"
        )
        .map_err(ReminderError::db("reading the outbox"))
    }

    /// Every recorded attempt, oldest first.
    pub async fn deliveries(&self) -> Result<Vec<DeliveryRow>, ReminderError> {
        fetch_all!(
            &self.db,
            DeliveryRow,
            "SELECT id, outbox_id, attempt, worker, started_at, finished_at, outcome, smtp_code, \
             detail FROM reminder_deliveries ORDER BY id"
        )
        .map_err(ReminderError::db("reading the delivery log"))
    }
}
