//! The `ProgrammeRecord` aggregate: one stream per programme id (`programme` / `"<id>"`) holding
//! every version of its definition that was put in force (`subsidy programmes publish`,
//! `POST /programmes`, and the shipped definitions at first start), each with its content and
//! the SHA-256 of its canonical JSON (RFC 8785), and the withdrawals of versions for new
//! registrations. The actor and time are the event's metadata and `recorded_at`, like every
//! project event, so the auditor sees who put a version in force, when, and what it said.
//!
//! **A published version never changes.** The same content again is answered "unchanged" and
//! stores nothing; other content under a published (id, version) is refused with both hashes.
//! A withdrawal only stops new registrations: projects under the version keep it.

use std::collections::BTreeMap;
use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use workflows::programme::Programme;

/// The aggregate type of programme streams in the event store.
pub const PROGRAMME_TYPE: &str = "programme";

#[derive(Debug, Clone)]
pub enum ProgrammeCommand {
    /// Put a version in force. `programme` is `definition` as checked by
    /// `ProgrammeRegistry::parse` (the meta-schema, the semantic rules, every form compiled):
    /// only a definition that passed can be given here.
    Publish {
        programme: Arc<Programme>,
        definition: serde_json::Value,
        /// SHA-256 (hex) of `definition`'s canonical JSON (RFC 8785).
        sha256: String,
    },
    /// Stop new registrations under a version.
    Withdraw {
        id: String,
        version: u32,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProgrammeEvent {
    ProgrammeVersionPublished {
        id: String,
        version: u32,
        sha256: String,
        /// The definition exactly as published.
        definition: serde_json::Value,
    },
    ProgrammeVersionWithdrawn {
        id: String,
        version: u32,
        reason: String,
    },
}

impl DomainEvent for ProgrammeEvent {
    fn event_type(&self) -> String {
        match self {
            ProgrammeEvent::ProgrammeVersionPublished { .. } => "ProgrammeVersionPublished",
            ProgrammeEvent::ProgrammeVersionWithdrawn { .. } => "ProgrammeVersionWithdrawn",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// Why a version was not published or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgrammeRecordError {
    #[error("{id}@v{version} is already in force with the same content (sha256 {sha256}); nothing was stored")]
    Unchanged {
        id: String,
        version: u32,
        sha256: String,
    },
    #[error("{id}@v{version} is already in force (sha256 {recorded_sha256}) with other content than this definition (sha256 {sha256}); a published version never changes, publish the change as version {next}")]
    Conflict {
        id: String,
        version: u32,
        recorded_sha256: String,
        sha256: String,
        next: u32,
    },
    #[error("{id}@v{version} has not been published")]
    UnknownVersion { id: String, version: u32 },
    #[error("{id}@v{version} is already withdrawn ({reason})")]
    AlreadyWithdrawn {
        id: String,
        version: u32,
        reason: String,
    },
    #[error("the reason for the withdrawal: one line of 1 to 500 characters")]
    InvalidReason,
}

impl ProgrammeRecordError {
    /// Stable machine-readable code (problem documents).
    pub fn code(&self) -> &'static str {
        match self {
            ProgrammeRecordError::Unchanged { .. } => "programme.unchanged",
            ProgrammeRecordError::Conflict { .. } => "programme.version_published",
            ProgrammeRecordError::UnknownVersion { .. } => "programme.unknown",
            ProgrammeRecordError::AlreadyWithdrawn { .. } => "programme.already_withdrawn",
            ProgrammeRecordError::InvalidReason => "input.invalid_field",
        }
    }
}

/// One published version as the stream knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVersion {
    pub sha256: String,
    pub withdrawn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeRecord {
    pub id: String,
    pub versions: BTreeMap<u32, RecordedVersion>,
}

impl ProgrammeRecord {
    /// Decides on the programme's stream (the caller executes it on the stream of the
    /// programme's id).
    pub fn decide(
        &self,
        command: ProgrammeCommand,
    ) -> Result<Vec<ProgrammeEvent>, ProgrammeRecordError> {
        match command {
            ProgrammeCommand::Publish {
                programme,
                definition,
                sha256,
            } => {
                let (id, version) = (programme.id.clone(), programme.version);
                if let Some(recorded) = self.versions.get(&version) {
                    return Err(if recorded.sha256 == sha256 {
                        ProgrammeRecordError::Unchanged {
                            id,
                            version,
                            sha256,
                        }
                    } else {
                        ProgrammeRecordError::Conflict {
                            id,
                            version,
                            recorded_sha256: recorded.sha256.clone(),
                            sha256,
                            next: self.versions.keys().next_back().copied().unwrap_or(0) + 1,
                        }
                    });
                }
                Ok(vec![ProgrammeEvent::ProgrammeVersionPublished {
                    id,
                    version,
                    sha256,
                    definition,
                }])
            }
            ProgrammeCommand::Withdraw {
                id,
                version,
                reason,
            } => {
                let Some(recorded) = self.versions.get(&version) else {
                    return Err(ProgrammeRecordError::UnknownVersion { id, version });
                };
                if let Some(reason) = &recorded.withdrawn {
                    return Err(ProgrammeRecordError::AlreadyWithdrawn {
                        id,
                        version,
                        reason: reason.clone(),
                    });
                }
                let reason = reason.trim().to_string();
                if reason.is_empty()
                    || reason.chars().count() > 500
                    || reason.chars().any(char::is_control)
                {
                    return Err(ProgrammeRecordError::InvalidReason);
                }
                Ok(vec![ProgrammeEvent::ProgrammeVersionWithdrawn {
                    id,
                    version,
                    reason,
                }])
            }
        }
    }
}

impl Aggregate for ProgrammeRecord {
    const TYPE: &'static str = PROGRAMME_TYPE;
    type Command = ProgrammeCommand;
    type Event = ProgrammeEvent;
    type Error = ProgrammeRecordError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProgrammeEvent::ProgrammeVersionPublished {
                id,
                version,
                sha256,
                ..
            } => {
                self.id = id;
                self.versions.insert(
                    version,
                    RecordedVersion {
                        sha256,
                        withdrawn: None,
                    },
                );
            }
            ProgrammeEvent::ProgrammeVersionWithdrawn {
                id,
                version,
                reason,
            } => {
                self.id = id;
                if let Some(v) = self.versions.get_mut(&version) {
                    v.withdrawn = Some(reason);
                }
            }
        }
    }
}
