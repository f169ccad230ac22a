//! `subsidy deadlines` and `subsidy remind`.

use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use domain::JurisdictionCode;
use projections::deadlines::{DeadlineQuery, DeadlinesView};

use super::config::MailArgs;
use super::{shanghai_today, Scheduler};
use crate::engine::{Engine, Settings};
use crate::table::Table;

/// Where to find how to update the working-day calendar, printed with calendar problems.
const CALENDAR_HELP: &str = "the official working-day calendar ends with the last State Council notice shipped or recorded; \
an admin records the next one with `subsidy calendar load FILE --notice \"国办发明电〔YYYY〕N号\"` (or POST /calendar/years), \
no rebuild needed: see `subsidy calendar list` and the README, \"Calendar years\"";

#[derive(Debug, Clone, Args)]
pub struct DeadlinesArgs {
    /// The day to evaluate (Asia/Shanghai date); default today.
    #[arg(long)]
    pub at: Option<NaiveDate>,
    /// Only projects inside this GB/T 2260 division (a city covers its counties).
    #[arg(long)]
    pub jurisdiction: Option<String>,
    /// Only deadlines due on or after this date.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Only deadlines due on or before this date.
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Also show met, paused and waived deadlines.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RemindArgs {
    /// The day to remind for (Asia/Shanghai date); default today.
    #[arg(long)]
    pub at: Option<NaiveDate>,
    /// Only print what would be sent and why; record and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub mail: MailArgs,
}

fn today_or(at: Option<NaiveDate>) -> NaiveDate {
    at.unwrap_or_else(|| shanghai_today(chrono::Utc::now()))
}

pub async fn deadlines(settings: &Settings, args: DeadlinesArgs) -> anyhow::Result<()> {
    let engine = Engine::open(settings).await?;
    let today = today_or(args.at);
    let view = DeadlinesView::load(&engine.store).await?;
    let query = DeadlineQuery {
        jurisdiction: args
            .jurisdiction
            .as_deref()
            .map(JurisdictionCode::parse)
            .transpose()?,
        from: args.from,
        to: args.to,
        open_only: !args.all,
    };
    let listing = view.deadlines(
        engine.programmes(),
        &engine.services.calendar.current(),
        today,
        &query,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    let mut t = Table::new(["due", "status", "project", "deadline", "name", "officials"]);
    for d in &listing.deadlines {
        t.row([
            d.deadline
                .due_on
                .map(|x| x.to_string())
                .unwrap_or_else(|| "paused".into()),
            d.status_label.to_string(),
            d.project_id.clone(),
            d.deadline.id.clone(),
            d.deadline.name.clone(),
            d.officials
                .iter()
                .map(|o| format!("{} {}", o.role_label, o.name))
                .collect::<Vec<_>>()
                .join("、"),
        ]);
    }
    print!("{}", t.render());
    println!("{} deadline(s) on {today}", listing.deadlines.len());
    for (project, u) in &listing.undecided {
        println!(
            "undecided: project {project}, {} ({}): {}",
            u.id, u.nominal_due, u.reason
        );
    }
    if !listing.undecided.is_empty() {
        println!("note: {CALENDAR_HELP}");
    }
    for p in &listing.problems {
        println!("problem: {p}");
    }
    Ok(())
}

pub async fn remind(settings: &Settings, args: RemindArgs) -> anyhow::Result<()> {
    let engine = Engine::open(settings).await?;
    let today = today_or(args.at);
    let scheduler = Scheduler::new(engine, &args.mail, Arc::new(store::SystemClock))?;
    let plan = scheduler.plan(today).await?;
    let mut recorded = Vec::with_capacity(plan.reminders.len());
    for r in &plan.reminders {
        recorded.push(scheduler.is_recorded(r).await?);
    }
    if args.json && args.dry_run {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    let mut t = Table::new([
        "due",
        "kind",
        "project",
        "deadline",
        "recipient",
        "state",
        "why",
    ]);
    for (r, already) in plan.reminders.iter().zip(&recorded) {
        t.row([
            r.deadline
                .deadline
                .due_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
            r.kind.id().to_string(),
            format!("{} {}", r.deadline.project_id, r.deadline.project_name),
            format!("{} {}", r.deadline.deadline.id, r.deadline.deadline.name),
            format!(
                "{} {} <{}>",
                r.recipient.role_label, r.recipient.name, r.recipient.email
            ),
            if *already { "already recorded" } else { "new" }.to_string(),
            r.reason.clone(),
        ]);
    }
    print!("{}", t.render());
    let new = recorded.iter().filter(|x| !**x).count();
    println!(
        "{} reminder(s) owed on {today}, {new} not yet recorded",
        plan.reminders.len()
    );
    for p in &plan.problems {
        println!("problem: {p}");
    }
    if plan
        .problems
        .iter()
        .any(|p| p.contains("not yet published"))
    {
        println!("note: {CALENDAR_HELP}");
    }
    if args.dry_run {
        println!("dry run: nothing recorded, nothing sent");
        return Ok(());
    }
    let enqueued = scheduler
        .enqueue(&plan)
        .await
        .context("recording reminders in the outbox")?;
    let delivered = scheduler
        .deliver_ready()
        .await
        .context("delivering reminders")?;
    println!(
        "recorded {} new reminder(s); delivered {}, retry later {}, failed permanently {}",
        enqueued.inserted, delivered.delivered, delivered.retry_later, delivered.failed
    );
    if delivered.retry_later > 0 {
        println!(
            "the mail server could not take every message now; they stay in the outbox and are retried \
             by `subsidy serve` or the next `subsidy remind`"
        );
    }
    Ok(())
}
