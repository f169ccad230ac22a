//! The command-line interface. Listing and showing commands print a readable table by default
//! and JSON with `--json` (for scripts). Errors are one line and a non-zero exit.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use domain::JurisdictionCode;
use workflows::programme::ProgrammeRegistry;

use crate::engine::{Engine, Settings};
use crate::table::Table;

#[derive(Debug, Parser)]
#[command(
    name = "subsidy",
    version,
    about = "Event-sourced engine for government-subsidised express-delivery infrastructure projects"
)]
pub struct Cli {
    /// Directory holding the embedded SQLite store and extra programme definitions.
    #[arg(
        long,
        global = true,
        default_value = "./data",
        env = "SUBSIDY_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// A postgres:// URL to use PostgreSQL instead of the embedded SQLite file.
    #[arg(long, global = true, env = "SUBSIDY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `serve`: a postgres:// URL of a streaming replica of the store for the read side
    /// (lists, roll-ups, ledgers, the reminder log); commands go to --database-url.
    #[arg(long, global = true, env = "SUBSIDY_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the store's schema (also done automatically at start-up).
    Migrate,
    /// Programme definitions.
    Programmes {
        #[command(subcommand)]
        command: ProgrammesCommand,
    },
    /// Projects and their histories.
    Projects {
        #[command(subcommand)]
        command: ProjectsCommand,
    },
    /// Deadlines of every project on a day (status, due date, responsible officials).
    Deadlines(crate::reminders::cli::DeadlinesArgs),
    /// Plan, record and send the deadline reminder e-mails owed on a day.
    Remind(crate::reminders::cli::RemindArgs),
    /// Load the invented demo data set (counties, projects of every programme in every stage).
    Demo,
    /// Start the HTTP API (loads the demo data and demo accounts into an empty store).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "SUBSIDY_LISTEN")]
        listen: String,
    },
    /// Accounts of the HTTP API.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The persisted read models: where each stands, and rebuilding one.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Files for other systems: the annex tables the bureaus exchange.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// The official working-day calendar: record next year's notice, list and show the years.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Audit: the installation key, signed digests and proofs, signed exports, offline verify.
    Audit {
        #[command(subcommand)]
        command: crate::audit::cli::AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One annex table as XLSX or CSV: 000-1, 000-2, 000-3, 000-4 (seed 000's annexes) or
    /// 002-townships (seed 002's township progress).
    Annex {
        /// 000-1, 000-2, 000-3, 000-4 or 002-townships.
        name: String,
        /// xlsx or csv (UTF-8 with a byte order mark).
        #[arg(long, default_value = "xlsx")]
        format: String,
        /// The GB/T 2260 code the table covers (370000: the province by city).
        #[arg(long)]
        jurisdiction: String,
        /// Only what was recorded up to this moment: a date (end of that day, Asia/Shanghai)
        /// or an RFC 3339 instant. Default: now.
        #[arg(long)]
        as_of: Option<String>,
        /// The file to write (default: the table's own name in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Record a year's holidays and adjusted working days (the file format: README, "Calendar
    /// years"). The same days again change nothing; other days for a year in force are refused.
    Load {
        file: PathBuf,
        /// The State Council notice the file transcribes, e.g. "国办发明电〔2026〕7号".
        #[arg(long)]
        notice: String,
        /// Who records it (default: `cli:` and the operating-system user).
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every covered year: shipped or recorded, the notice, who recorded it and when.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One year's days; `--format json` writes the file format (loadable as it is).
    Show {
        year: i32,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's slots: version, position, lag in events and seconds, rows.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Rebuild one projection (or all) from the whole log in its other slot while the live one
    /// keeps serving, then swap; shows progress.
    Rebuild {
        /// The projection's name (all when omitted).
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account; prints a generated password unless --password is given.
    Add {
        username: String,
        /// officer, supervisor, auditor or admin.
        #[arg(long)]
        role: String,
        /// A GB/T 2260 code granted to the account (repeatable).
        #[arg(long = "jurisdiction")]
        jurisdictions: Vec<String>,
        #[arg(long, env = "SUBSIDY_NEW_PASSWORD")]
        password: Option<String>,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account and end its sessions.
    Disable { username: String },
}

#[derive(Debug, Subcommand)]
pub enum ProgrammesCommand {
    /// List every programme version recorded in the store: status (in force / withdrawn),
    /// sha256, who published it and when.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one programme version as recorded (the latest unless --version is given).
    Show {
        id: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Check a definition file; prints the file, JSON path and reason of the first problem.
    Validate { file: PathBuf },
    /// Check a definition file and record it as a version in force. The same content again
    /// changes nothing; other content under a published (id, version) is refused.
    Publish {
        file: PathBuf,
        /// Who publishes it (default: `cli:` and the operating-system user).
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a version for new registrations (projects registered under it keep it).
    Withdraw {
        id: String,
        version: u32,
        #[arg(long)]
        reason: String,
        /// Who withdraws it (default: `cli:` and the operating-system user).
        #[arg(long)]
        by: Option<String>,
    },
    /// What changed between two recorded versions: JSON pointers added, removed or changed.
    Diff {
        id: String,
        from: u32,
        to: u32,
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List projects.
    List {
        /// Only projects inside this GB/T 2260 division (a city covers its counties).
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Only projects of this programme id.
        #[arg(long)]
        programme: Option<String>,
        /// Only projects in this stage (e.g. notice, construction).
        #[arg(long)]
        stage: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a project's current state.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Show every event of a project with actor, time, evidence and hashes.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        read_database_url: cli.read_database_url.clone(),
    };
    match cli.command {
        Command::Programmes {
            command: ProgrammesCommand::Validate { file },
        } => {
            let p = ProgrammeRegistry::load_file(&file)?;
            println!(
                "ok: {} is a valid definition of {}",
                file.display(),
                p.key()
            );
            Ok(())
        }
        Command::Programmes { command } => {
            let engine = Engine::open(&settings).await?;
            programmes(&engine, command).await
        }
        Command::Migrate => {
            let engine = Engine::open(&settings).await?;
            println!(
                "store ready ({}), {} events",
                engine.store.backend_name(),
                engine.store.last_position().await?
            );
            Ok(())
        }
        Command::Demo => {
            let engine = Engine::open(&settings).await?;
            let report = crate::demo::load(&engine).await?;
            println!("{report}");
            Ok(())
        }
        Command::Deadlines(args) => crate::reminders::cli::deadlines(&settings, args).await,
        Command::Remind(args) => crate::reminders::cli::remind(&settings, args).await,
        Command::Projects { command } => {
            let engine = Engine::open(&settings).await?;
            projects(&engine, command).await
        }
        Command::Serve { listen } => crate::http::bootstrap::serve(&settings, &listen).await,
        Command::Users { command } => {
            let engine = Engine::open(&settings).await?;
            crate::http::bootstrap::users(&engine, command).await
        }
        Command::Projections { command } => {
            let engine = Engine::open(&settings).await?;
            projections_command(&engine, command).await
        }
        Command::Export { command } => {
            let engine = Engine::open(&settings).await?;
            export(&engine, command).await
        }
        Command::Audit { command } => crate::audit::cli::run(&settings, command).await,
        Command::Calendar { command } => {
            let engine = Engine::open(&settings).await?;
            calendar_command(&engine, command).await
        }
    }
}

/// The acting user of a CLI command: `--by`, or `cli:` and the operating-system user.
fn cli_context(by: Option<String>) -> domain::CommandContext {
    let actor = by.unwrap_or_else(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("cli:{user}")
    });
    domain::CommandContext::new(actor)
}

/// `subsidy calendar load|list|show`.
async fn calendar_command(engine: &Engine, command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Load {
            file,
            notice,
            by,
            json,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let value: serde_json::Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => bail!(
                    "{}: not valid JSON (line {}, column {}): {e}; nothing was stored",
                    file.display(),
                    e.line(),
                    e.column()
                ),
            };
            let context = cli_context(by);
            let runtime = engine.projections();
            let outcome = match engine
                .load_calendar_year(&context, &value, &notice, &runtime)
                .await
            {
                Ok(o) => o,
                Err(crate::calendar::LoadError::Refused(
                    domain::calendar::CalendarYearError::Invalid { errors },
                )) => {
                    let lines: Vec<String> = errors
                        .iter()
                        .map(|e| {
                            if e.pointer.starts_with("/notice") {
                                format!("  --notice: {}", e.reason)
                            } else {
                                format!("  {}: {e}", file.display())
                            }
                        })
                        .collect();
                    bail!(
                        "{} is refused, nothing was stored:\n{}",
                        file.display(),
                        lines.join("\n")
                    );
                }
                Err(e) => bail!("{e}"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else if outcome.outcome == "recorded" {
                println!(
                    "recorded {} from {} (sha256 {}) at position {}; {} project(s) with undecided deadlines derived again; the calendar decides days up to {}",
                    outcome.year,
                    outcome.notice,
                    outcome.sha256,
                    outcome.position.unwrap_or_default(),
                    outcome.rederived_projects,
                    outcome.decided_until
                );
            } else {
                println!(
                    "unchanged: {} is already in force with the same days (sha256 {}); nothing was stored",
                    outcome.year, outcome.sha256
                );
            }
            Ok(())
        }
        CalendarCommand::List { json } => {
            let today = crate::reminders::shanghai_today(chrono::Utc::now());
            let overview = engine.calendar_overview(today).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&overview)?);
                return Ok(());
            }
            let mut t = Table::new([
                "year",
                "origin",
                "notice",
                "recorded by",
                "recorded at",
                "days off",
                "adjusted working days",
                "sha256",
            ]);
            for y in &overview.years {
                t.row([
                    y.year.to_string(),
                    y.origin.to_string(),
                    y.notice.clone().unwrap_or_default(),
                    y.recorded_by.clone().unwrap_or_default(),
                    y.recorded_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    y.days_off.to_string(),
                    y.adjusted_working_days.to_string(),
                    y.sha256.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
            println!("decided up to {}", overview.decided_until);
            if let Some(w) = overview.warning {
                println!("warning: {w}");
            }
            Ok(())
        }
        CalendarCommand::Show { year, format } => {
            let calendar = engine.services.calendar.current();
            let Some(notice) = calendar.notice(year) else {
                bail!(
                    "{year} is not in the calendar (it covers {}–{})",
                    calendar.covered_years().start(),
                    calendar.covered_years().end()
                );
            };
            match format.as_str() {
                "json" => print!("{}", notice.to_json()),
                "table" => {
                    let mut t = Table::new(["date", "weekday", "kind", "name"]);
                    for d in &notice.days {
                        t.row([
                            d.date.to_string(),
                            format!("{}", chrono::Datelike::weekday(&d.date)),
                            if d.is_off_day {
                                "day off".to_string()
                            } else {
                                "adjusted working day".to_string()
                            },
                            d.name.clone(),
                        ]);
                    }
                    print!("{}", t.render());
                }
                other => bail!("--format: '{other}' is neither table nor json"),
            }
            Ok(())
        }
    }
}

/// `subsidy export annex`: the table from the persisted facts, caught up with the log first.
async fn export(engine: &Engine, command: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Annex {
        name,
        format,
        jurisdiction,
        as_of,
        out,
    } = command;
    let name = crate::annex::AnnexName::parse(&name).map_err(|e| anyhow!(e))?;
    let format = crate::annex::Format::parse(&format).map_err(|e| anyhow!("--format: {e}"))?;
    let scope = JurisdictionCode::parse(&jurisdiction).context("--jurisdiction")?;
    let as_of = as_of
        .as_deref()
        .map(crate::annex::parse_as_of)
        .transpose()
        .map_err(|e| anyhow!("--as-of: {e}"))?;
    // Only the annex facts are caught up (the other read models are not needed here).
    let runtime = engine.projections();
    runtime.prepare().await?;
    let (slot, _) = runtime
        .live(projections::annex::ANNEX)
        .await?
        .ok_or_else(|| anyhow!("the annex facts have not been built"))?;
    let position = loop {
        match runtime.step(projections::annex::ANNEX, &slot).await? {
            projections::runtime::Step::Applied { .. } => continue,
            projections::runtime::Step::Idle { position } => break position,
            projections::runtime::Step::Gone => {
                bail!("the annex facts were swapped while being read; run the export again")
            }
        }
    };
    let sheet = crate::annex::build(
        runtime.db(),
        engine.programmes(),
        &crate::annex::Request {
            name,
            scope,
            as_of,
            slot,
            position,
        },
    )
    .await?;
    let bytes = crate::annex::render(&sheet, format)?;
    let out = out.unwrap_or_else(|| PathBuf::from(sheet.file_name(format)));
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}: {} ({} rows, {} bytes, events up to position {position})",
        out.display(),
        sheet.title,
        sheet.rows.len(),
        bytes.len()
    );
    Ok(())
}

/// `subsidy projections status|rebuild`.
async fn projections_command(engine: &Engine, command: ProjectionsCommand) -> anyhow::Result<()> {
    let runtime = engine.projections();
    for line in runtime.prepare().await? {
        eprintln!("{line}");
    }
    match command {
        ProjectionsCommand::Status { json } => {
            let statuses = runtime.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
            } else {
                let mut t = Table::new([
                    "projection",
                    "slot",
                    "state",
                    "version",
                    "position",
                    "lag (events)",
                    "lag (s)",
                    "rows",
                    "updated",
                ]);
                for s in &statuses {
                    let state = if s.live { "live" } else { "rebuilding" };
                    let version = if s.version == s.code_version {
                        s.version.to_string()
                    } else {
                        format!("{} (code {})", s.version, s.code_version)
                    };
                    t.row([
                        s.name.clone(),
                        s.slot.clone(),
                        state.to_string(),
                        version,
                        format!("{} / {}", s.position, s.head),
                        s.lag_events.to_string(),
                        format!("{:.1}", s.lag_seconds),
                        s.rows.to_string(),
                        s.updated_at.clone(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        ProjectionsCommand::Rebuild { name } => {
            let names = match name {
                Some(n) => vec![n],
                None => runtime.names().into_iter().map(String::from).collect(),
            };
            for name in names {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:12} [{bar:40}] {pos}/{len} events ({per_sec}, {eta})",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(name.clone());
                let started = std::time::Instant::now();
                runtime
                    .rebuild(&name, |position, head| {
                        bar.set_length(head.max(0) as u64);
                        bar.set_position(position.max(0) as u64);
                    })
                    .await?;
                bar.finish();
                println!(
                    "{name}: rebuilt and swapped in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(())
}

/// `subsidy programmes list|show|publish|withdraw|diff` (the versions recorded in the store).
async fn programmes(engine: &Engine, command: ProgrammesCommand) -> anyhow::Result<()> {
    use crate::programmes::{recorded_versions, recorded_versions_of, PublishError};
    match command {
        ProgrammesCommand::List { json } => {
            let all = recorded_versions(engine).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                let mut t = Table::new([
                    "id",
                    "version",
                    "year",
                    "status",
                    "title",
                    "published by",
                    "published at",
                    "position",
                    "sha256",
                ]);
                for p in &all {
                    t.row([
                        p.id.clone(),
                        p.version.to_string(),
                        p.year.to_string(),
                        p.status.replace('_', " "),
                        p.title.clone(),
                        p.published_by.clone(),
                        p.published_at.to_rfc3339(),
                        p.position.to_string(),
                        p.sha256.clone(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        ProgrammesCommand::Show { id, version, json } => {
            let versions = recorded_versions_of(engine, &id).await?;
            let record = match version {
                Some(v) => versions.into_iter().find(|r| r.version == v),
                None => versions.into_iter().next_back(),
            }
            .ok_or_else(|| {
                anyhow!(
                    "no programme '{id}'{}",
                    version.map(|v| format!(" version {v}")).unwrap_or_default()
                )
            })?;
            if json {
                let mut v = serde_json::to_value(&record)?;
                v["definition"] = record.definition.clone();
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let p = engine
                .programmes()
                .get(&record.id, record.version)
                .ok_or_else(|| anyhow!("{id}@v{} is recorded but not in force here: its definition cannot be loaded (see the log)", record.version))?;
            println!("{} — {} ({})", p.key(), p.title, p.title_en);
            println!(
                "source: {} {} ({})",
                p.source.issuer, p.source.document, p.source.date
            );
            println!(
                "registers projects dated {} – {}; notice at least {} working days, {}",
                p.application_window.opens_on,
                p.application_window.closes_on,
                p.notice.min_working_days,
                match p.notice.counting {
                    workflows::programme::NoticeCounting::FromNextDay =>
                        "counted from the day after it starts (民法典 第二百零一条)",
                    workflows::programme::NoticeCounting::FromStartDay =>
                        "counted from the day it starts",
                }
            );
            println!(
                "status: {}{}",
                record.status.replace('_', " "),
                record
                    .withdrawn_reason
                    .as_ref()
                    .map(|r| format!(
                        " ({r}; by {} at {})",
                        record.withdrawn_by.clone().unwrap_or_default(),
                        record
                            .withdrawn_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default()
                    ))
                    .unwrap_or_default()
            );
            println!(
                "published by {} at {}, position {}, sha256 {}",
                record.published_by,
                record.published_at.to_rfc3339(),
                record.position,
                record.sha256
            );
            println!(
                "\nforms: {}",
                p.forms.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            let mut t = Table::new(["deadline", "name", "stage"]);
            for d in &p.deadlines {
                t.row([d.id.clone(), d.name.clone(), d.stage.clone()]);
            }
            println!();
            print!("{}", t.render());
            let mut t = Table::new(["report schedule", "name", "form"]);
            for r in &p.report_schedules {
                t.row([r.id.clone(), r.name.clone(), r.form.clone()]);
            }
            println!();
            print!("{}", t.render());
            let mut t = Table::new(["checklist item", "text"]);
            for c in p.checklist() {
                t.row([c.id.clone(), c.text.clone()]);
            }
            println!();
            print!("{}", t.render());
        }
        ProgrammesCommand::Publish { file, by, json } => {
            let label = file.display().to_string();
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {label}"))?;
            let value: serde_json::Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => bail!(
                    "{label}: not valid JSON at line {}, column {}: {e}; nothing was stored",
                    e.line(),
                    e.column()
                ),
            };
            let outcome = match engine
                .publish_programme(&cli_context(by), &label, &value)
                .await
            {
                Ok(o) => o,
                Err(PublishError::Refused(e)) => bail!("{label}: {e}; nothing was stored"),
                Err(e) => bail!("{e}"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else if outcome.outcome == "published" {
                println!(
                    "published {}@v{} (sha256 {}) at position {}; it is in force for new registrations",
                    outcome.id,
                    outcome.version,
                    outcome.sha256,
                    outcome.position.unwrap_or_default()
                );
            } else {
                println!(
                    "unchanged: {}@v{} is already in force with the same content (sha256 {}); nothing was stored",
                    outcome.id, outcome.version, outcome.sha256
                );
            }
        }
        ProgrammesCommand::Withdraw {
            id,
            version,
            reason,
            by,
        } => {
            let outcome = engine
                .withdraw_programme(&cli_context(by), &id, version, &reason)
                .await?;
            println!(
                "withdrawn {}@v{} for new registrations ({}) at position {}; projects registered under it keep it",
                outcome.id, outcome.version, outcome.reason, outcome.position
            );
        }
        ProgrammesCommand::Diff {
            id,
            from,
            to,
            format,
        } => {
            let diff = engine.diff_programme(&id, from, to).await?.ok_or_else(|| {
                anyhow!("programme '{id}' has no recorded versions {from} and {to}")
            })?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&diff)?),
                "text" => {
                    println!(
                        "{id}: v{from} (sha256 {}) → v{to} (sha256 {}): {} change(s)",
                        diff.from_sha256,
                        diff.to_sha256,
                        diff.changes.len()
                    );
                    let show = |v: &Option<serde_json::Value>| {
                        v.as_ref().map(|v| v.to_string()).unwrap_or_default()
                    };
                    for c in &diff.changes {
                        match c.change {
                            "added" => println!("+ {}: {}", c.pointer, show(&c.to)),
                            "removed" => println!("- {}: {}", c.pointer, show(&c.from)),
                            _ => println!("~ {}: {} → {}", c.pointer, show(&c.from), show(&c.to)),
                        }
                    }
                }
                other => bail!("unknown format '{other}': use text or json"),
            }
        }
        ProgrammesCommand::Validate { .. } => unreachable!("handled before opening the store"),
    }
    Ok(())
}

async fn projects(engine: &Engine, command: ProjectsCommand) -> anyhow::Result<()> {
    match command {
        ProjectsCommand::List {
            jurisdiction,
            programme,
            stage,
            json,
        } => {
            let scope = jurisdiction
                .as_deref()
                .map(JurisdictionCode::parse)
                .transpose()?;
            let stage = stage
                .as_deref()
                .map(|s| {
                    domain::Stage::from_id(s).ok_or_else(|| {
                        anyhow!(
                            "unknown stage '{s}'; stages are: {}",
                            domain::Stage::ALL.map(|s| s.id()).join(", ")
                        )
                    })
                })
                .transpose()?;
            // The persisted project list, first caught up with the log from its checkpoint.
            let runtime = engine.projections();
            runtime.prepare().await?;
            runtime.catch_up().await?;
            let (slot, _) = runtime
                .live(projections::PROJECTS)
                .await?
                .ok_or_else(|| anyhow!("the project list has not been built"))?;
            let (_, rows) = projections::projects::list(
                runtime.db(),
                &slot,
                &projections::projects::ListQuery {
                    grants: None,
                    scope,
                    programme,
                    stage,
                    limit: i64::MAX,
                    ..Default::default()
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut t = Table::new([
                    "id",
                    "jurisdiction",
                    "stage",
                    "name",
                    "programme",
                    "approved",
                    "paid",
                ]);
                for s in &rows {
                    let stage = if s.suspended {
                        format!("{}（暂停）", s.stage_label)
                    } else {
                        s.stage_label.to_string()
                    };
                    t.row([
                        s.id.clone(),
                        s.jurisdiction.clone(),
                        stage,
                        s.name.clone(),
                        format!("{}@v{}", s.programme_id, s.programme_version),
                        s.approved.to_string(),
                        s.paid.to_string(),
                    ]);
                }
                print!("{}", t.render());
                println!("{} project(s)", rows.len());
            }
        }
        ProjectsCommand::Show { id, json } => {
            let (p, version) = engine.load(&id).await?;
            if !p.is_registered() {
                bail!("no project '{id}'");
            }
            if json {
                let mut v = serde_json::to_value(&p)?;
                v["id"] = id.clone().into();
                v["version"] = version.into();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{} — {}", id, p.name);
                println!("programme     {}@v{}", p.programme_id, p.programme_version);
                println!(
                    "jurisdiction  {}",
                    p.jurisdiction
                        .as_ref()
                        .map(|j| j.to_string())
                        .unwrap_or_default()
                );
                println!("stage         {}", p.stage);
                if let Some(s) = &p.suspended {
                    println!("suspended     since {}: {}", s.since, s.reason);
                }
                println!("version       {version}");
                if let Some(e) = &p.construction_entity {
                    println!("entity        {} ({})", e.name, e.credit_code);
                }
                if let Some(ev) = &p.evaluation {
                    println!(
                        "evaluation    {} points, grade {}",
                        ev.total,
                        ev.grade.label_zh()
                    );
                }
                for (role, o) in &p.officials {
                    let label = role.label_zh();
                    let pad = 14usize.saturating_sub(unicode_width::UnicodeWidthStr::width(label));
                    println!(
                        "{label}{} {} {} <{}>",
                        " ".repeat(pad),
                        o.name,
                        o.post,
                        o.email
                    );
                }
                if !p.funds.is_empty() {
                    let mut t = Table::new([
                        "source",
                        "approved",
                        "paid",
                        "tranches",
                        "settled",
                        "clawback ordered",
                        "recovered",
                    ]);
                    for (source, l) in &p.funds {
                        t.row([
                            source.label_zh().to_string(),
                            l.approved.to_string(),
                            l.paid.to_string(),
                            l.tranches.to_string(),
                            if l.settled { "yes" } else { "no" }.to_string(),
                            l.clawback_ordered.to_string(),
                            l.clawback_recovered.to_string(),
                        ]);
                    }
                    println!();
                    print!("{}", t.render());
                }
            }
        }
        ProjectsCommand::History { id, json } => {
            let events = engine
                .store
                .read_stream(<domain::SubsidyProject as cqrs_es::Aggregate>::TYPE, &id)
                .await?;
            if events.is_empty() {
                bail!("no project '{id}'");
            }
            let history = projections::history::history(&id, &events)
                .with_context(|| format!("reading the history of {id}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&history)?);
            } else {
                let mut t = Table::new([
                    "seq",
                    "recorded at (UTC)",
                    "actor",
                    "event",
                    "summary",
                    "evidence",
                    "prev_hash",
                    "hash",
                ]);
                for e in &history.entries {
                    t.row([
                        e.sequence.to_string(),
                        e.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.actor.clone(),
                        e.event_type.clone(),
                        e.summary.clone(),
                        e.evidence
                            .iter()
                            .map(|d| d.reference.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                        e.prev_hash[..12.min(e.prev_hash.len())].to_string(),
                        e.hash[..12.min(e.hash.len())].to_string(),
                    ]);
                }
                print!("{}", t.render());
                match &history.chain_violation {
                    None => println!(
                        "hash chain verified: {} event(s), head {}",
                        history.entries.len(),
                        history
                            .entries
                            .last()
                            .map(|e| e.hash.as_str())
                            .unwrap_or("")
                    ),
                    Some(v) => println!("HASH CHAIN BROKEN: {v}"),
                }
            }
        }
    }
    Ok(())
}
