//! Sending one stored message over SMTP with lettre, and classifying failures.
//!
//! SMTP replies follow RFC 5321: 4yz is a transient refusal (try again later), 5yz a permanent
//! one (do not retry: the address or message is refused). A connection, TLS or timeout failure
//! is transient: the server may be down or restarting.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{MailArgs, TlsMode};
use super::ReminderError;

/// How long one SMTP conversation may take. Leases are much longer than this.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    Transient { code: Option<i64>, detail: String },
    Permanent { code: Option<i64>, detail: String },
}

/// The SMTP transport built from [`MailArgs`].
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl Mailer {
    pub fn new(args: &MailArgs, from: Address) -> Result<Self, ReminderError> {
        let tls = |required: bool| -> Result<Tls, ReminderError> {
            let params = TlsParameters::new(args.smtp_host.clone()).map_err(|e| {
                ReminderError::Config(format!("TLS settings for {}: {e}", args.smtp_host))
            })?;
            Ok(if required {
                Tls::Required(params)
            } else {
                Tls::Wrapper(params)
            })
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&args.smtp_host)
            .port(args.port())
            .timeout(Some(SMTP_TIMEOUT))
            .tls(match args.smtp_tls {
                TlsMode::None => Tls::None,
                TlsMode::Starttls => tls(true)?,
                TlsMode::Tls => tls(false)?,
            });
        match (&args.smtp_user, &args.smtp_password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ReminderError::Config(
                    "give both SUBSIDY_SMTP_USER and SUBSIDY_SMTP_PASSWORD, or neither".into(),
                ))
            }
            (None, None) => {}
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `message` (already rendered) to `to`.
    pub async fn send(&self, to: &str, message: &str) -> Result<(), SendFailure> {
        let to: Address = to.parse().map_err(|e| SendFailure::Permanent {
            code: None,
            detail: format!("the recipient address {to:?} is invalid: {e}"),
        })?;
        let envelope = Envelope::new(Some(self.from.clone()), vec![to]).map_err(|e| {
            SendFailure::Permanent {
                code: None,
                detail: format!("no valid envelope: {e}"),
            }
        })?;
        match self.transport.send_raw(&envelope, message.as_bytes()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.status().map(|c| i64::from(u16::from(c)));
                let detail = e.to_string();
                if e.is_permanent() {
                    Err(SendFailure::Permanent { code, detail })
                } else {
                    Err(SendFailure::Transient { code, detail })
                }
            }
        }
    }
}
