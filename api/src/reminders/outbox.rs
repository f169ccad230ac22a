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

    /// Inserts every reminder of `rows` whose key is not yet recorded, in one transaction (one
    /// commit for a whole plan instead of one per reminder); returns how many were inserted.
    /// The conflict clause is the one of [`Outbox::enqueue`], for the same reason.
    pub async fn enqueue_all(
        &self,
        rows: &[NewReminder],
        now: DateTime<Utc>,
    ) -> Result<usize, ReminderError> {
        /// Rows per statement: 14 parameters each, far below either backend's limit.
        const CHUNK: usize = 64;
        macro_rules! insert_all {
            ($pool:expr, $db:ty) => {{
                let mut tx = $pool
                    .begin()
                    .await
                    .map_err(ReminderError::db("recording reminders in the outbox"))?;
                let mut inserted = 0u64;
                let now = ts(now);
                for chunk in rows.chunks(CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO reminder_outbox (reminder_key, project_id, deadline_id, due_on, \
                         kind, recipient_email, recipient_name, recipient_role, message_id, subject, \
                         message, reason, created_at, status, attempts, next_attempt_at) ",
                    );
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.key)
                            .push_bind(&r.project_id)
                            .push_bind(&r.deadline_id)
                            .push_bind(&r.due_on)
                            .push_bind(&r.kind)
                            .push_bind(&r.recipient_email)
                            .push_bind(&r.recipient_name)
                            .push_bind(&r.recipient_role)
                            .push_bind(&r.message_id)
                            .push_bind(&r.subject)
                            .push_bind(&r.message)
                            .push_bind(&r.reason)
                            .push_bind(now.clone())
                            .push("'pending'")
                            .push("0")
                            .push_bind(now.clone());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    inserted += q
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(ReminderError::db("recording reminders in the outbox"))?
                        .rows_affected();
                }
                tx.commit()
                    .await
                    .map_err(ReminderError::db("recording reminders in the outbox"))?;
                inserted
            }};
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let inserted = match &self.db {
            Db::Sqlite(pool) => insert_all!(pool, sqlx::Sqlite),
            Db::Postgres(pool) => insert_all!(pool, sqlx::Postgres),
        };
        Ok(usize::try_from(inserted).unwrap_or(usize::MAX))
    }

    /// Which of `keys` are already in the outbox (any status): one query per 500 keys rather
    /// than one per key, so a plan of thousands of reminders costs a few round trips.
    pub async fn recorded_keys(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, ReminderError> {
        const CHUNK: usize = 500;
        let mut found = std::collections::HashSet::new();
        for chunk in keys.chunks(CHUNK) {
            macro_rules! select {
                ($pool:expr, $db:ty) => {{
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT reminder_key FROM reminder_outbox WHERE reminder_key IN (",
                    );
                    let mut list = q.separated(", ");
                    for k in chunk {
                        list.push_bind(k);
                    }
                    q.push(")");
                    q.build_query_as::<(String,)>().fetch_all($pool).await
                }};
            }
            let rows = match &self.db {
                Db::Sqlite(pool) => select!(pool, sqlx::Sqlite),
                Db::Postgres(pool) => select!(pool, sqlx::Postgres),
            }
            .map_err(ReminderError::db("looking up reminders"))?;
            found.extend(rows.into_iter().map(|(k,)| k));
        }
        Ok(found)
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
