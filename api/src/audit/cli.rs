//! `subsidy audit key | digest | digests | prove | consistency | export | verify | verify-store |
//! check`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;

use super::{digest, export, key::InstallationKey, verify};
use crate::engine::{Engine, Settings};
use crate::http::db::Db;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the installation's public key and its fingerprint (creating the key on first use).
    Key {
        #[arg(long)]
        json: bool,
    },
    /// Record a digest now: every project's chain head in the Merkle tree, root signed.
    Digest {
        #[arg(long)]
        json: bool,
    },
    /// List the recorded digests.
    Digests {
        #[arg(long)]
        json: bool,
    },
    /// The inclusion proof of a project's chain head in a digest (default: the latest).
    Prove {
        project: String,
        #[arg(long)]
        digest: Option<i64>,
    },
    /// The consistency proof that digest TO extends digest FROM.
    Consistency { from: i64, to: i64 },
    /// Write a signed export (JSON Lines + manifest) of the events in scope.
    Export {
        /// Only projects inside this GB/T 2260 division.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Only projects with an event recorded on or after this day (Asia/Shanghai).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// The store as it was at the end of this day (Asia/Shanghai).
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long)]
        out: PathBuf,
    },
    /// The compliance report: every finance-discipline and deadline finding in scope, each with
    /// the events that prove it, judged from the stored events. Exits 0 when there is no
    /// finance finding, 3 when there is one or more (deadline findings alone exit 0), 1 when
    /// the check itself failed.
    Check {
        /// Only projects inside this GB/T 2260 division.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// The store as it was at the end of this day (Asia/Shanghai), deadlines judged on it
        /// (default: the whole store, today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Verify the live store: every hash, link and sequence, and every digest leaf against it;
    /// exits non-zero on any problem.
    VerifyStore,
    /// Verify an export offline (no database, no server); exits non-zero on any problem.
    Verify {
        file: PathBuf,
        /// The published public key (64 hex digits), as `subsidy audit key` prints it.
        #[arg(long)]
        key: Option<String>,
        /// Skip replaying the events through the rules (signature, chains, manifest only).
        #[arg(long)]
        no_replay: bool,
    },
}

/// The output of `audit check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what:10} [{{bar:40}}] {{pos}}/{{len}} {{msg}} ({{per_sec}}, {{eta}})"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    if let AuditCommand::Verify {
        file,
        key,
        no_replay,
    } = &command
    {
        return verify_file(file, key.as_deref(), !no_replay);
    }
    if let AuditCommand::Check {
        jurisdiction,
        as_of,
        format,
    } = &command
    {
        // Read-only: needs no installation key.
        return check(settings, jurisdiction.as_deref(), *as_of, *format).await;
    }
    let key = InstallationKey::load_or_create(&settings.data_dir)?;
    if key.created {
        eprintln!(
            "created the installation's audit key {}",
            key.path.display()
        );
    }
    match command {
        AuditCommand::Key { json } => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"algorithm": "ed25519", "public_key": key.public_hex(), "fingerprint": key.fingerprint()})
                );
            } else {
                println!("algorithm    ed25519");
                println!("public key   {}", key.public_hex());
                println!("fingerprint  {}", key.fingerprint());
            }
            Ok(())
        }
        AuditCommand::Digest { json } => {
            let engine = Engine::open(settings).await?;
            let d = digest::record(&engine.store, &key, Utc::now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!(
                    "digest #{} at position {}: {} leaves, root {}\nsigned by {}",
                    d.id, d.position, d.tree_size, d.root, d.key_fingerprint
                );
            }
            Ok(())
        }
        AuditCommand::Digests { json } => {
            let engine = Engine::open(settings).await?;
            let all = digest::list(&Db::of(&engine.store)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                let mut t = Table::new(["id", "created at (UTC)", "position", "leaves", "root"]);
                for d in &all {
                    t.row([
                        d.id.to_string(),
                        d.created_at.clone(),
                        d.position.to_string(),
                        d.tree_size.to_string(),
                        d.root.clone(),
                    ]);
                }
                print!("{}", t.render());
            }
            Ok(())
        }
        AuditCommand::Prove {
            project,
            digest: id,
        } => {
            let engine = Engine::open(settings).await?;
            let db = Db::of(&engine.store);
            let id = match id {
                Some(id) => id,
                None => {
                    digest::list(&db)
                        .await?
                        .last()
                        .ok_or_else(|| {
                            anyhow!("no digest has been recorded yet: run `subsidy audit digest`")
                        })?
                        .id
                }
            };
            let proof = digest::inclusion(&db, id, &project).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(())
        }
        AuditCommand::Consistency { from, to } => {
            let engine = Engine::open(settings).await?;
            let proof = digest::consistency(&Db::of(&engine.store), from, to).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(())
        }
        AuditCommand::Export {
            jurisdiction,
            from,
            to,
            out,
        } => {
            let scope = export::Scope {
                jurisdiction: jurisdiction
                    .as_deref()
                    .map(domain::JurisdictionCode::parse)
                    .transpose()
                    .context("--jurisdiction")?,
                from,
                to,
            };
            let engine = Engine::open(settings).await?;
            let progress = bar(0, "export");
            let summary = export::export(&engine, &key, &scope, &out, Utc::now(), |done, total| {
                progress.set_length(total);
                progress.set_position(done);
            })
            .await?;
            progress.finish_and_clear();
            println!(
                "wrote {}: {} events of {} projects up to position {}, {} digest(s), sha256 {}\nsigned by {}",
                out.display(),
                summary.events,
                summary.projects,
                summary.cut_position,
                summary.digests,
                summary.sha256,
                key.fingerprint()
            );
            Ok(())
        }
        AuditCommand::VerifyStore => {
            let engine = Engine::open(settings).await?;
            let progress = bar(0, "verify");
            let report =
                super::verify_store::verify_store(&engine.store, &key.public(), |done, total| {
                    progress.set_length(total.max(0) as u64);
                    progress.set_position(done.max(0) as u64);
                })
                .await?;
            progress.finish_and_clear();
            for problem in &report.problems {
                println!("PROBLEM {problem}");
            }
            if report.problems.is_empty() {
                println!(
                    "verified: {} events of {} projects, {} digest(s)",
                    report.events, report.projects, report.digests
                );
                Ok(())
            } else {
                bail!("{} problem(s) in the store", report.problems.len())
            }
        }
        AuditCommand::Verify { .. } | AuditCommand::Check { .. } => {
            unreachable!("handled before opening the key")
        }
    }
}

async fn check(
    settings: &Settings,
    jurisdiction: Option<&str>,
    as_of: Option<NaiveDate>,
    format: CheckFormat,
) -> anyhow::Result<()> {
    let scope = super::check::CheckScope {
        jurisdiction: jurisdiction
            .map(domain::JurisdictionCode::parse)
            .transpose()
            .context("--jurisdiction")?,
        as_of,
    };
    let engine = Engine::open(settings).await?;
    let report = super::check::check_store(
        &engine.store,
        engine.programmes(),
        &engine.services.calendar.current(),
        &scope,
        crate::reminders::shanghai_today(Utc::now()),
    )
    .await?;
    match format {
        CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        CheckFormat::Text => print!("{}", super::check::render_text(&report)),
    }
    if report.finance_findings > 0 {
        return Err(super::check::FinanceFindings(report.finance_findings).into());
    }
    Ok(())
}

fn verify_file(file: &std::path::Path, key: Option<&str>, replay: bool) -> anyhow::Result<()> {
    let handle =
        std::fs::File::open(file).map_err(|e| anyhow!("cannot open {}: {e}", file.display()))?;
    let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = bar(size, "verify");
    let started = std::time::Instant::now();
    let report = verify::verify_with(std::io::BufReader::new(handle), key, replay, |bytes| {
        progress.set_position(bytes)
    });
    progress.finish_and_clear();
    let elapsed = started.elapsed();
    for problem in &report.problems {
        println!("PROBLEM {problem}");
    }
    eprintln!("checked in {:.2} s", elapsed.as_secs_f64());
    if key.is_none() {
        if let Some(fp) = &report.signed_by {
            eprintln!("note: no --key given; the file says it was signed by {fp}: compare it with the published fingerprint");
        }
    }
    if report.problems.is_empty() {
        println!(
            "verified: {} events of {} projects ({} replayed through the rules), {} digest(s), signed by {}",
            report.events,
            report.projects,
            report.replayed,
            report.digests,
            report.signed_by.as_deref().unwrap_or("?")
        );
        Ok(())
    } else {
        bail!("{} problem(s) in {}", report.problems.len(), file.display())
    }
}
