//! Deadline reminders by e-mail, exactly once and never lost.
//!
//! Main types: [`Scheduler`] (plans the reminders owed on a day from the persisted deadlines,
//! [`projections::deadlines::plan_reminders_persisted`], records them in the [`outbox::Outbox`] and
//! delivers them with the [`mailer::Mailer`]), [`config::MailArgs`] (SMTP settings from flags or
//! `SUBSIDY_SMTP_*`), [`render`] (subject, text, HTML and the .ics attachment) and
//! [`ReminderError`].
//!
//! # Exactly once
//!
//! 1. A reminder is identified by project, deadline, due date, kind and recipient; it is
//!    rendered and inserted into `reminder_outbox` under that UNIQUE key (`ON CONFLICT DO
//!    NOTHING`) before anything is sent, so planning it again, from any process, adds nothing.
//! 2. A worker claims rows with a lease in one statement (see [`outbox`]); a row is sent only by
//!    the worker holding its lease, and marked `sent` only if that worker still holds it.
//! 3. Transient failures (server down, 4yz) set `next_attempt_at` with exponential backoff
//!    (30 s doubling up to one hour); permanent ones (5yz, invalid address) mark the row
//!    `failed`. Every attempt is logged in `reminder_deliveries`. A restart finds the pending
//!    rows and goes on; a crashed worker's rows become claimable when its lease expires.
//! 4. The one unavoidable window: the SMTP server accepted the message and the process died
//!    before marking the row `sent`. After the lease expires the row is sent again, with the
//!    same bytes and the same `Message-ID` (derived from the reminder key), so the receiving
//!    side (or a person) can recognise and drop the duplicate. No protocol closes this window:
//!    SMTP has no idempotent submission.

pub mod cli;
pub mod config;
pub mod mailer;
pub mod outbox;
pub mod render;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use lettre::message::Mailbox;
use projections::deadlines::{plan_reminders_persisted, DueReminder, ReminderPlan};
use serde::Serialize;
use store::Clock;

use crate::engine::Engine;
use config::MailArgs;
use mailer::{Mailer, SendFailure};
use outbox::{Claimed, NewReminder, Outbox, Outcome};

/// How long a claim protects a row from other workers, by default; far longer than one SMTP
/// conversation. `subsidy serve` reads another length from `SUBSIDY_REMINDER_LEASE_SECS`.
pub const LEASE: Duration = Duration::minutes(5);
/// How many rows one worker claims at a time.
pub const CLAIM_BATCH: i64 = 20;

/// Errors of the reminder layer.
#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("the sender address {address:?} is invalid: {reason}")]
    BadSender { address: String, reason: String },
    #[error("the recipient address {address:?} is invalid: {reason}")]
    BadAddress { address: String, reason: String },
    #[error("cannot render the reminder e-mail: {0}")]
    Render(String),
    #[error("database error while {doing}: {source}")]
    Database {
        doing: &'static str,
        source: sqlx::Error,
    },
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
}

impl ReminderError {
    fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> ReminderError {
        move |source| ReminderError::Database { doing, source }
    }
}

/// The Asia/Shanghai civil date at `now`: "today" for deadlines.
pub fn shanghai_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Shanghai).date_naive()
}

/// What one enqueue pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnqueueReport {
    pub planned: usize,
    pub inserted: usize,
    pub already_recorded: usize,
    pub problems: Vec<String>,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retry_later: usize,
    pub failed: usize,
    pub lease_lost: usize,
}

/// Plans, records and delivers reminders. Cheap to share (`Arc`); several schedulers (even in
/// different processes) may run against one store.
pub struct Scheduler {
    engine: Engine,
    outbox: Outbox,
    mailer: Mailer,
    from: Mailbox,
    base_url: String,
    clock: Arc<dyn Clock>,
    worker: String,
    projections: projections::Runtime,
    lease: Duration,
}

/// Exponential backoff after the n-th failed attempt: 30 s, 1 min, 2 min… at most one hour.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 8) - 1;
    Duration::seconds((30i64 << exp).min(3600))
}

impl Scheduler {
    /// A scheduler over `engine`'s store, sending with `mail`, telling time by `clock`.
    pub fn new(
        engine: Engine,
        mail: &MailArgs,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ReminderError> {
        let from: Mailbox = mail
            .mail_from
            .parse()
            .map_err(|e| ReminderError::BadSender {
                address: mail.mail_from.clone(),
                reason: format!("{e}"),
            })?;
        let mailer = Mailer::new(mail, from.email.clone())?;
        let outbox = Outbox::new(&engine.store)?;
        let worker = format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Scheduler {
            outbox,
            mailer,
            from,
            base_url: mail.base_url.clone(),
            clock,
            worker,
            projections: engine.projections(),
            engine,
            lease: LEASE,
        })
    }

    /// The same scheduler with claims leased for `lease` instead of [`LEASE`]. A lease shorter
    /// than an SMTP conversation ([`mailer::SMTP_TIMEOUT`]) lets another worker send a row
    /// again while its claimant is still sending it; tests that crash the server use a short
    /// one so that a dead worker's rows come back quickly.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// This worker's name in leases and the delivery log.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The reminders owed on `today`, from the persisted deadlines once they have caught up
    /// with the store (an index range query for the projects that may owe something, each then
    /// derived exactly as of `today`).
    pub async fn plan(&self, today: NaiveDate) -> Result<ReminderPlan, ReminderError> {
        self.projections.prepare().await?;
        self.projections.catch_up().await?;
        let (slot, _) = self
            .projections
            .live(projections::deadlines::DEADLINES)
            .await?
            .unwrap_or_else(|| ("a".to_string(), 0));
        Ok(plan_reminders_persisted(
            self.projections.db(),
            &slot,
            self.engine.programmes(),
            &self.engine.services.calendar.current(),
            today,
        )
        .await?)
    }

    /// Whether `reminder` is already in the outbox (for the dry run).
    pub async fn is_recorded(&self, reminder: &DueReminder) -> Result<bool, ReminderError> {
        self.outbox.contains(&reminder.key()).await
    }

    /// Renders and records every reminder of `plan` not yet in the outbox.
    pub async fn enqueue(&self, plan: &ReminderPlan) -> Result<EnqueueReport, ReminderError> {
        let now = self.clock.now();
        let mut report = EnqueueReport {
            planned: plan.reminders.len(),
            problems: plan.problems.clone(),
            ..Default::default()
        };
        let keys: Vec<String> = plan.reminders.iter().map(DueReminder::key).collect();
        let recorded = self.outbox.recorded_keys(&keys).await?;
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (r, key) in plan.reminders.iter().zip(keys) {
            if recorded.contains(&key) || !seen.insert(key.clone()) {
                report.already_recorded += 1;
                continue;
            }
            let rendered = match render::render(r, &self.from, &self.base_url, now) {
                Ok(rendered) => rendered,
                Err(e) => {
                    report.problems.push(format!(
                        "project {}, deadline {}: {e}",
                        r.deadline.project_id, r.deadline.deadline.id
                    ));
                    continue;
                }
            };
            rows.push(NewReminder {
                key,
                project_id: r.deadline.project_id.clone(),
                deadline_id: r.deadline.deadline.id.clone(),
                due_on: r
                    .deadline
                    .deadline
                    .due_on
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                kind: r.kind.id().to_string(),
                recipient_email: r.recipient.email.clone(),
                recipient_name: r.recipient.name.clone(),
                recipient_role: format!("{:?}", r.recipient.role),
                message_id: rendered.message_id,
                subject: rendered.subject,
                message: rendered.message,
                reason: r.reason.clone(),
            });
        }
        // One transaction for the whole plan; a row another scheduler recorded meanwhile is
        // skipped by the conflict clause and counted as already recorded.
        let inserted = self.outbox.enqueue_all(&rows, now).await?;
        report.inserted = inserted;
        report.already_recorded += rows.len() - inserted.min(rows.len());
        Ok(report)
    }

    /// Claims up to `limit` rows ready for an attempt (for tests that stop mid-batch).
    pub async fn claim(&self, limit: i64) -> Result<Vec<Claimed>, ReminderError> {
        self.outbox
            .claim(&self.worker, self.clock.now(), self.lease, limit)
            .await
    }

    /// Sends one claimed row and records the outcome.
    pub async fn deliver_one(&self, claimed: &Claimed) -> Result<Outcome, ReminderError> {
        let outcome = match self
            .mailer
            .send(&claimed.recipient_email, &claimed.message)
            .await
        {
            Ok(()) => Outcome::Delivered,
            Err(SendFailure::Transient { code, detail }) => {
                let retry_at = self.clock.now() + backoff(claimed.attempts);
                tracing::warn!(
                    id = claimed.id,
                    to = %claimed.recipient_email,
                    code = ?code,
                    retry_at = %retry_at,
                    "reminder not delivered, will retry: {detail}"
                );
                Outcome::Transient {
                    retry_at,
                    code,
                    detail,
                }
            }
            Err(SendFailure::Permanent { code, detail }) => {
                tracing::warn!(
                    id = claimed.id,
                    to = %claimed.recipient_email,
                    code = ?code,
                    "reminder refused by the mail server, not retried: {detail}"
                );
                Outcome::Permanent { code, detail }
            }
        };
        let held = self
            .outbox
            .record(claimed, &outcome, self.clock.now())
            .await?;
        if !held {
            tracing::warn!(id = claimed.id, "lease lost while delivering a reminder");
        }
        Ok(outcome)
    }

    /// Delivers every row ready now, batch after batch, until none is left.
    pub async fn deliver_ready(&self) -> Result<DeliveryReport, ReminderError> {
        let mut report = DeliveryReport::default();
        loop {
            let batch = self.claim(CLAIM_BATCH).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            for claimed in &batch {
                match self.deliver_one(claimed).await? {
                    Outcome::Delivered => report.delivered += 1,
                    Outcome::Transient { .. } => report.retry_later += 1,
                    Outcome::Permanent { .. } => report.failed += 1,
                }
            }
        }
    }

    /// Plans the reminders owed on the Shanghai date of the clock and records the new ones.
    pub async fn enqueue_owed(&self) -> Result<EnqueueReport, ReminderError> {
        let today = shanghai_today(self.clock.now());
        let plan = self.plan(today).await?;
        let enqueued = self.enqueue(&plan).await?;
        for p in &enqueued.problems {
            tracing::warn!("{p}");
        }
        Ok(enqueued)
    }

    /// One scheduler tick: plan for the Shanghai date of the clock, record, deliver.
    pub async fn tick(&self) -> Result<(EnqueueReport, DeliveryReport), ReminderError> {
        let enqueued = self.enqueue_owed().await?;
        let delivered = self.deliver_ready().await?;
        Ok((enqueued, delivered))
    }

    /// Runs until `shutdown` resolves (for `subsidy serve`): planning every `every`, and
    /// delivery every `every` and whenever planning recorded something. The two run side by
    /// side, so that mail already in the outbox never waits for a plan: planning a province's
    /// day can take seconds, and after a restart the pending rows go out at once. Errors are
    /// logged and the next round tries again: the outbox keeps every reminder meanwhile.
    pub async fn run(
        self: Arc<Self>,
        every: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let recorded = Arc::new(tokio::sync::Notify::new());
        let planner = {
            let this = self.clone();
            let recorded = recorded.clone();
            async move {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    match this.enqueue_owed().await {
                        Ok(e) => {
                            if e.inserted > 0 {
                                recorded.notify_one();
                            }
                            tracing::info!(
                                planned = e.planned,
                                inserted = e.inserted,
                                "reminders planned"
                            );
                        }
                        Err(e) => tracing::error!("planning reminders failed: {e}"),
                    }
                }
            }
        };
        let deliverer = async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = recorded.notified() => {}
                }
                match self.deliver_ready().await {
                    Ok(d) if d == DeliveryReport::default() => {}
                    Ok(d) => tracing::info!(
                        delivered = d.delivered,
                        retry_later = d.retry_later,
                        failed = d.failed,
                        lease_lost = d.lease_lost,
                        "reminders delivered"
                    ),
                    Err(e) => tracing::error!("delivering reminders failed: {e}"),
                }
            }
        };
        tokio::select! {
            _ = shutdown => {}
            _ = planner => {}
            _ = deliverer => {}
        }
    }
}

/// Starts the reminder scheduler for `subsidy serve`: ticks every `every` with the system
/// clock until `shutdown` resolves. Spawn the returned future on the server's runtime.
pub fn spawn_in_server(
    engine: Engine,
    mail: &MailArgs,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, ReminderError> {
    spawn_in_server_with_lease(engine, mail, every, LEASE, shutdown)
}

/// [`spawn_in_server`] with claims leased for `lease` (see [`Scheduler::with_lease`]).
pub fn spawn_in_server_with_lease(
    engine: Engine,
    mail: &MailArgs,
    every: std::time::Duration,
    lease: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, ReminderError> {
    let scheduler =
        Arc::new(Scheduler::new(engine, mail, Arc::new(store::SystemClock))?.with_lease(lease));
    Ok(tokio::spawn(scheduler.run(every, shutdown)))
}

/// The reminder scheduler of `subsidy serve`, configured from the environment: the
/// `SUBSIDY_SMTP_*`, `SUBSIDY_MAIL_FROM` and `SUBSIDY_BASE_URL` variables of
/// [`config::MailArgs`], `SUBSIDY_REMIND_EVERY_SECS` (tick interval, default 300) and
/// `SUBSIDY_REMINDERS=off` to run the server without reminders, and
/// `SUBSIDY_REMINDER_LEASE_SECS` (how long a claim protects a row, default [`LEASE`]; for tests
/// that crash the server). Returns `None` when turned off; abort the handle when the server
/// stops.
pub fn start_with_server(
    engine: Engine,
) -> Result<Option<tokio::task::JoinHandle<()>>, ReminderError> {
    if std::env::var("SUBSIDY_REMINDERS").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return Ok(None);
    }
    let seconds = |name: &str, default: u64| match std::env::var(name) {
        Ok(v) => v.parse::<u64>().ok().filter(|s| *s > 0).ok_or_else(|| {
            ReminderError::Config(format!(
                "{name} must be a positive number of seconds, not {v:?}"
            ))
        }),
        Err(_) => Ok(default),
    };
    let every = seconds("SUBSIDY_REMIND_EVERY_SECS", 300)?;
    let lease = seconds(
        "SUBSIDY_REMINDER_LEASE_SECS",
        LEASE.num_seconds().unsigned_abs(),
    )?;
    let lease = i64::try_from(lease)
        .ok()
        .and_then(Duration::try_seconds)
        .ok_or_else(|| {
            ReminderError::Config(format!("SUBSIDY_REMINDER_LEASE_SECS={lease} is too long"))
        })?;
    let mail = config::MailArgs::from_env()?;
    spawn_in_server_with_lease(
        engine,
        &mail,
        std::time::Duration::from_secs(every),
        lease,
        std::future::pending(),
    )
    .map(Some)
}
