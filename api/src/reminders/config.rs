//! Mail configuration: the SMTP server, the sender and the link base, from CLI flags or the
//! `SUBSIDY_SMTP_*` environment variables.

use clap::{Args, ValueEnum};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Plain SMTP (only for a relay on the same host or a test server).
    None,
    /// Plain connection upgraded with STARTTLS (required; the default, port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// The mail settings shared by `subsidy remind` and `subsidy serve` (flatten into either).
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// SMTP server host name.
    #[arg(long, env = "SUBSIDY_SMTP_HOST", default_value = "localhost")]
    pub smtp_host: String,
    /// SMTP port (default: 25 for none, 587 for starttls, 465 for tls).
    #[arg(long, env = "SUBSIDY_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// Connection security: none, starttls or tls.
    #[arg(long, env = "SUBSIDY_SMTP_TLS", value_enum, default_value = "starttls")]
    pub smtp_tls: TlsMode,
    /// SMTP user name (AUTH); leave out for a server that needs none.
    #[arg(long, env = "SUBSIDY_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password (prefer the environment variable over the flag).
    #[arg(long, env = "SUBSIDY_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// The From address of reminder e-mails; its domain also names Message-IDs and UIDs.
    #[arg(
        long,
        env = "SUBSIDY_MAIL_FROM",
        default_value = "快递项目管理系统 <reminders@example.org>"
    )]
    pub mail_from: String,
    /// The address of the web front end, for the link in each e-mail.
    #[arg(
        long,
        env = "SUBSIDY_BASE_URL",
        default_value = "http://localhost:8080"
    )]
    pub base_url: String,
}

impl MailArgs {
    /// The port to connect to, from the flag or the TLS mode's usual port.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        })
    }

    /// Settings for a plain test server on 127.0.0.1:`port`.
    pub fn plain_local(port: u16) -> Self {
        MailArgs {
            smtp_host: "127.0.0.1".to_string(),
            smtp_port: Some(port),
            smtp_tls: TlsMode::None,
            smtp_user: None,
            smtp_password: None,
            mail_from: "快递项目管理系统 <reminders@example.org>".to_string(),
            base_url: "https://subsidy.example.org".to_string(),
        }
    }
}

/// Parses [`MailArgs`] from the environment and defaults only (for `subsidy serve`).
#[derive(Debug, clap::Parser)]
struct FromEnv {
    #[command(flatten)]
    mail: MailArgs,
}

impl MailArgs {
    /// The settings given by the `SUBSIDY_SMTP_*`, `SUBSIDY_MAIL_FROM` and `SUBSIDY_BASE_URL`
    /// environment variables, with the defaults of the flags.
    pub fn from_env() -> Result<MailArgs, super::ReminderError> {
        use clap::Parser;
        FromEnv::try_parse_from(["subsidy"])
            .map(|f| f.mail)
            .map_err(|e| super::ReminderError::Config(e.to_string()))
    }
}
