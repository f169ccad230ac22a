//! First start on an empty store: load the demo data set and create the demo accounts, whose
//! names and password are printed (and documented in the README). Invented names only.

use cqrs_es::Aggregate;
use domain::{JurisdictionCode, SubsidyProject};

use super::auth::{AccountError, Accounts, Role};
use crate::engine::Engine;

/// The password of every demo account. Public on purpose: demo data only, on a fresh store.
pub const DEMO_PASSWORD: &str = "demo-password-2025";

/// The demo accounts: (name, role, grants).
pub const DEMO_ACCOUNTS: &[(&str, Role, &[&str])] = &[
    ("officer.yiyuan", Role::Officer, &["370323"]),
    ("officer.city", Role::Officer, &["370000"]),
    ("supervisor.zibo", Role::Supervisor, &["370300"]),
    ("supervisor.province", Role::Supervisor, &["370000"]),
    ("auditor.province", Role::Auditor, &["370000"]),
    ("admin", Role::Admin, &[]),
];

/// What the first start did.
#[derive(Debug, Default)]
pub struct Bootstrap {
    pub demo_report: Option<String>,
    pub accounts_created: Vec<String>,
}

/// On an empty store: creates the demo accounts, then loads the demo data. On a store that such
/// a first start left behind when it was killed mid-way (only demo accounts, each still with
/// the demo password, and only demo projects, some of them missing): finishes it, creating the
/// missing accounts and loading the missing projects. The accounts come first, so that a crash
/// while the demo data loads never leaves a store that nobody can log in to. Any other store
/// (a real account, a real project, a demo account whose password was changed or that was
/// disabled) is left alone.
pub async fn first_start(engine: &Engine) -> anyhow::Result<Bootstrap> {
    let accounts = Accounts::new(&engine.store);
    let mut done = Bootstrap::default();
    let users = accounts.list_users().await?;
    let projects = engine.store.aggregate_ids(SubsidyProject::TYPE).await?;
    let demo_projects = crate::demo::ids(engine)?;
    let is_demo_account = |name: &str| DEMO_ACCOUNTS.iter().any(|(n, _, _)| *n == name);
    let missing_accounts = DEMO_ACCOUNTS
        .iter()
        .filter(|(name, _, _)| !users.iter().any(|u| u.username == *name))
        .count();
    let missing_projects = demo_projects
        .iter()
        .filter(|id| !projects.contains(id))
        .count();
    if missing_accounts == 0 && missing_projects == 0 {
        return Ok(done);
    }
    let only_demo = users.iter().all(|u| is_demo_account(&u.username))
        && projects.iter().all(|id| demo_projects.contains(id));
    if !only_demo {
        return Ok(done);
    }
    for user in &users {
        if accounts
            .check_password(&user.username, DEMO_PASSWORD)
            .await?
            .is_none()
        {
            return Ok(done);
        }
    }
    if !users.is_empty() || !projects.is_empty() {
        tracing::warn!(
            missing_accounts,
            missing_projects,
            "the first start was interrupted; finishing it"
        );
    }
    for (name, role, grants) in DEMO_ACCOUNTS {
        if users.iter().any(|u| u.username == *name) {
            done.accounts_created.push(name.to_string());
            continue;
        }
        let codes = grants
            .iter()
            .map(|c| JurisdictionCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        match accounts
            .create_user(name, DEMO_PASSWORD, *role, &codes)
            .await
        {
            Ok(_) | Err(AccountError::Exists(_)) => done.accounts_created.push(name.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    if missing_projects > 0 {
        done.demo_report = Some(crate::demo::load_missing(engine).await?);
    }
    Ok(done)
}

/// `subsidy serve`: opens the engine, loads the demo on a fresh store, prints the URL and the
/// demo accounts, and serves until SIGINT/SIGTERM.
pub async fn serve(settings: &crate::engine::Settings, listen: &str) -> anyhow::Result<()> {
    let engine = Engine::open(settings).await?;
    // The installation's audit key, created in the data directory on first start.
    let audit_key = std::sync::Arc::new(crate::audit::key::InstallationKey::load_or_create(
        &settings.data_dir,
    )?);
    if audit_key.created {
        tracing::info!(path = %audit_key.path.display(), fingerprint = %audit_key.fingerprint(), "created the installation's audit key");
    }
    let boot = first_start(&engine).await?;
    // Deadline reminders (api/src/reminders), configured by SUBSIDY_SMTP_* and friends.
    let reminders = crate::reminders::start_with_server(engine.clone())?;
    let http = super::HttpSettings {
        listen: listen.to_string(),
        tls: tls_from_env()?,
        idempotency_lease: super::idempotency::lease_from_env().map_err(anyhow::Error::msg)?,
        read_database_url: settings.read_database_url.clone(),
        ..Default::default()
    };
    let digest_store = engine.store.clone();
    let mut app = super::Application::build(engine, &http)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    // A signed audit digest every day (crate::audit::daily_digests).
    app.spawn_background(move |token| async move {
        crate::audit::daily_digests(digest_store, audit_key, token.cancelled_owned()).await;
    });
    let host = listen
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("127.0.0.1");
    let url = format!("http://{host}:{}", app.port());
    if let Some(report) = &boot.demo_report {
        println!("{}", report.lines().last().unwrap_or_default());
    }
    tracing::info!(%url, "listening");
    println!(
        "subsidy API listening on {url}  (Swagger UI: {url}/swagger-ui/, spec: {url}/openapi.json)"
    );
    println!("pages: {url}/  (log in with a demo account)");
    if !boot.accounts_created.is_empty() {
        println!("demo accounts (password '{DEMO_PASSWORD}' — demo data only, change it before real use):");
        for (name, role, grants) in DEMO_ACCOUNTS {
            println!("  {name:<22} {:<10} {}", role.as_str(), grants.join(","));
        }
    }
    app.run_until_stopped().await?;
    if let Some(reminders) = reminders {
        reminders.abort();
    }
    println!("server stopped");
    Ok(())
}

/// `SUBSIDY_TLS=on|off` (default off): whether browsers reach the server over HTTPS.
fn tls_from_env() -> anyhow::Result<bool> {
    match std::env::var("SUBSIDY_TLS") {
        Err(_) => Ok(false),
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "false" | "0" | "no" => Ok(false),
            "on" | "true" | "1" | "yes" => Ok(true),
            _ => anyhow::bail!("SUBSIDY_TLS must be 'on' or 'off', got {v:?}"),
        },
    }
}

/// `subsidy users add|list|disable`.
pub async fn users(engine: &Engine, command: crate::cli::UsersCommand) -> anyhow::Result<()> {
    use crate::cli::UsersCommand;
    let accounts = Accounts::new(&engine.store);
    match command {
        UsersCommand::Add {
            username,
            role,
            jurisdictions,
            password,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown role '{role}'; roles are officer, supervisor, auditor, admin"
                )
            })?;
            let codes = jurisdictions
                .iter()
                .map(|c| JurisdictionCode::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            let generated = password.is_none();
            let password =
                password.unwrap_or_else(|| super::auth::random_token()[..20].to_string());
            let user = accounts
                .create_user(&username, &password, role, &codes)
                .await?;
            println!(
                "created {} ({}, {})",
                user.username,
                user.role.as_str(),
                grants_text(&user.jurisdictions)
            );
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::List { json } => {
            let users = accounts.list_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let mut t = crate::table::Table::new(["user", "role", "jurisdictions", "status"]);
                for u in &users {
                    t.row([
                        u.username.clone(),
                        u.role.as_str().to_string(),
                        grants_text(&u.jurisdictions),
                        if u.disabled { "disabled" } else { "active" }.to_string(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        UsersCommand::Disable { username } => {
            accounts.disable_user(&username).await?;
            println!("disabled {username}; its sessions are ended");
        }
    }
    Ok(())
}

fn grants_text(codes: &[JurisdictionCode]) -> String {
    if codes.is_empty() {
        "-".to_string()
    } else {
        codes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}
