//! Shared test support: a small aggregate of our own and fresh databases for both backends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// A deliberately small aggregate: an account that must be opened and cannot be overdrawn.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub opened: bool,
    pub balance_fen: i64,
}

#[derive(Debug, Clone)]
pub enum LedgerCommand {
    Open,
    Deposit(i64),
    DepositMany(Vec<i64>),
    Withdraw(i64),
    /// Accepted, but produces no event.
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    Opened,
    Deposited { fen: i64 },
    Withdrawn { fen: i64 },
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened => "Opened",
            Self::Deposited { .. } => "Deposited",
            Self::Withdrawn { .. } => "Withdrawn",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is not open")]
    NotOpen,
    #[error("the ledger is already open")]
    AlreadyOpen,
    #[error("cannot withdraw {requested} fen from a balance of {balance} fen")]
    Overdraft { balance: i64, requested: i64 },
}

/// Services of the test aggregate: an optional gate every `handle` waits at before deciding,
/// so a test can hold several commands between their load and their commit.
#[derive(Clone, Default)]
pub struct LedgerServices {
    pub gate: Option<Arc<tokio::sync::Barrier>>,
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "Ledger";
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = LedgerError;
    type Services = LedgerServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(gate) = &services.gate {
            gate.wait().await;
        }
        match command {
            LedgerCommand::Open => {
                if self.opened {
                    return Err(LedgerError::AlreadyOpen);
                }
                sink.write(LedgerEvent::Opened, self).await;
            }
            LedgerCommand::Deposit(fen) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                sink.write(LedgerEvent::Deposited { fen }, self).await;
            }
            LedgerCommand::DepositMany(amounts) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                for fen in amounts {
                    sink.write(LedgerEvent::Deposited { fen }, self).await;
                }
            }
            LedgerCommand::Withdraw(fen) => {
                if !self.opened {
                    return Err(LedgerError::NotOpen);
                }
                if fen > self.balance_fen {
                    return Err(LedgerError::Overdraft {
                        balance: self.balance_fen,
                        requested: fen,
                    });
                }
                sink.write(LedgerEvent::Withdrawn { fen }, self).await;
            }
            LedgerCommand::Nothing => {}
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LedgerEvent::Opened => self.opened = true,
            LedgerEvent::Deposited { fen } => self.balance_fen += fen,
            LedgerEvent::Withdrawn { fen } => self.balance_fen -= fen,
        }
    }
}

pub fn actor(name: &str) -> HashMap<String, String> {
    HashMap::from([
        ("actor".to_string(), name.to_string()),
        ("evidence".to_string(), "doc-2025-001".to_string()),
    ])
}

// Each test binary uses a different part of the kit.
#[allow(unused_imports)]
pub use tests::{poll_until, Kind, TestDb};
