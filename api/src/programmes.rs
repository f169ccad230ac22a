//! Programme versions as records (`subsidy programmes publish|list|show|withdraw|diff`,
//! `POST /programmes`, `GET /programmes`, `GET /programmes/{id}`,
//! `POST /programmes/{id}/versions/{version}/withdrawal`, `GET /programmes/{id}/diff`): a
//! definition is checked exactly as the registry checks a file at start-up (meta-schema,
//! semantic rules, every form schema compiles), recorded as an event of the stream
//! `programme/<id>` (its content and the SHA-256 of its canonical JSON in the payload, who and
//! when in the metadata), and put in force in the running process at once: the process's
//! registry is shared by the aggregate's services, the read models and the handlers.
//!
//! The shipped definitions and those in `DATA_DIR/programmes/` are published by the `system`
//! actor when a store first meets them ([`Engine::publish_in_force`]), so every store records
//! every version it runs. Versions published or withdrawn by another process are taken in by
//! [`Engine::refresh_programmes`]: at start-up, before every registration, and every 30 s in a
//! server (`watch`); when no programme event was committed since its last look it costs one
//! indexed `MAX(global_position)`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::programme::{ProgrammeCommand, ProgrammeEvent, ProgrammeRecord, PROGRAMME_TYPE};
use domain::CommandContext;
use serde::Serialize;
use serde_json::Value;
use store::ExecuteError;
use workflows::programme::diff::Change;
use workflows::programme::{DefinitionError, Programme, ProgrammeRegistry};

use crate::calendar::content_sha256;
use crate::Engine;

/// The actor that publishes the definitions shipped with the program or dropped into the data
/// directory, when a store first meets them.
pub const SYSTEM_ACTOR: &str = "system";

/// One version of a programme as the store records it (`programmes list|show`,
/// `GET /programmes`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionRecord {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub title_en: String,
    pub year: i32,
    /// `in_force` or `withdrawn` (for new registrations; projects under it keep it).
    pub status: &'static str,
    /// SHA-256 (hex) of the definition's canonical JSON (RFC 8785).
    pub sha256: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    /// Global position of the event that published it.
    pub position: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// The definition exactly as published.
    #[serde(skip)]
    pub definition: Value,
}

/// What a publication did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishOutcome {
    pub id: String,
    pub version: u32,
    /// `published`, or `unchanged` when the same content was already in force (nothing stored).
    pub outcome: &'static str,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

/// What a withdrawal did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WithdrawOutcome {
    pub id: String,
    pub version: u32,
    pub reason: String,
    pub position: i64,
}

/// Two versions compared (`programmes diff`, `GET /programmes/{id}/diff`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionDiff {
    pub id: String,
    pub from: u32,
    pub to: u32,
    pub from_sha256: String,
    pub to_sha256: String,
    /// Every JSON pointer added, removed or changed, with the values (`pointer`, `change`,
    /// `from`, `to`).
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<Change>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The definition is broken: file (or label), JSON pointer, reason.
    #[error("{0}; nothing was stored")]
    Invalid(DefinitionError),
    #[error(transparent)]
    Refused(domain::programme::ProgrammeRecordError),
    #[error("someone else changed this programme's record at the same time; list the programmes and try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Every version recorded in the store, by id then version.
pub async fn recorded_versions(engine: &Engine) -> Result<Vec<VersionRecord>, store::StoreError> {
    let mut out = Vec::new();
    for id in engine.store.aggregate_ids(PROGRAMME_TYPE).await? {
        out.extend(recorded_versions_of(engine, &id).await?);
    }
    out.sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
    Ok(out)
}

/// The versions of one programme recorded in the store, by version.
pub async fn recorded_versions_of(
    engine: &Engine,
    id: &str,
) -> Result<Vec<VersionRecord>, store::StoreError> {
    let mut versions: BTreeMap<u32, VersionRecord> = BTreeMap::new();
    for event in engine.store.read_stream(PROGRAMME_TYPE, id).await? {
        let corrupt = |reason: String| store::StoreError::CorruptEvent {
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            reason,
        };
        let decoded: ProgrammeEvent =
            serde_json::from_value(event.payload.clone()).map_err(|e| corrupt(e.to_string()))?;
        let actor = event
            .metadata
            .get(domain::types::metadata_keys::ACTOR)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        match decoded {
            ProgrammeEvent::ProgrammeVersionPublished {
                id,
                version,
                sha256,
                definition,
            } => {
                let text = |key: &str| {
                    definition
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                versions.insert(
                    version,
                    VersionRecord {
                        title: text("title"),
                        title_en: text("title_en"),
                        year: definition
                            .get("year")
                            .and_then(Value::as_i64)
                            .and_then(|y| i32::try_from(y).ok())
                            .unwrap_or_default(),
                        id,
                        version,
                        status: "in_force",
                        sha256,
                        published_by: actor,
                        published_at: event.recorded_at,
                        position: event.global_position,
                        withdrawn_reason: None,
                        withdrawn_by: None,
                        withdrawn_at: None,
                        definition,
                    },
                );
            }
            ProgrammeEvent::ProgrammeVersionWithdrawn {
                version, reason, ..
            } => {
                let record = versions.get_mut(&version).ok_or_else(|| {
                    corrupt(format!("withdraws version {version}, never published"))
                })?;
                record.status = "withdrawn";
                record.withdrawn_reason = Some(reason);
                record.withdrawn_by = Some(actor);
                record.withdrawn_at = Some(event.recorded_at);
            }
        }
    }
    Ok(versions.into_values().collect())
}

/// The definitions a store must record because this process runs them: the shipped ones (with
/// their file text) and any other in the registry (the data directory's files, read again; a
/// definition built otherwise as serde writes it).
fn sources_in_force(registry: &ProgrammeRegistry) -> Vec<(Arc<Programme>, Value)> {
    let shipped: BTreeMap<&str, &str> = ProgrammeRegistry::builtin_sources()
        .iter()
        .copied()
        .collect();
    registry
        .all()
        .into_iter()
        .filter_map(|p| {
            let text = match shipped.get(p.origin()) {
                Some(text) => Some(text.to_string()),
                None => std::fs::read_to_string(p.origin()).ok(),
            };
            let value = match text.map(|t| serde_json::from_str::<Value>(&t)) {
                Some(Ok(v)) => v,
                _ => serde_json::to_value(&*p).ok()?,
            };
            Some((p, value))
        })
        .collect()
}

impl Engine {
    /// Publishes, as [`SYSTEM_ACTOR`], every definition this process runs that the store does
    /// not record yet (the shipped ones at a store's first start), then takes in the versions
    /// the store records that this process lacks. A definition in force here whose (id,
    /// version) the store records with other content is an error: one (id, version) names one
    /// content.
    pub async fn publish_in_force(&self) -> Result<Vec<PublishOutcome>, PublishError> {
        let recorded = recorded_versions(self).await?;
        let mut done = Vec::new();
        for (programme, definition) in sources_in_force(self.programmes()) {
            if let Some(r) = recorded
                .iter()
                .find(|r| r.id == programme.id && r.version == programme.version)
            {
                let sha256 = content_sha256(&definition);
                if r.sha256 != sha256 && !same_content(&r.definition, &programme) {
                    return Err(PublishError::Invalid(DefinitionError {
                        file: programme.origin().to_string(),
                        pointer: "/version".into(),
                        reason: format!(
                            "{} is recorded in the store (published by {} at {}, sha256 {}) with other content than this definition (sha256 {sha256}); a published version never changes, publish the change as a new version",
                            programme.key(),
                            r.published_by,
                            r.published_at.to_rfc3339(),
                            r.sha256
                        ),
                    }));
                }
                continue;
            }
            let context = CommandContext::new(SYSTEM_ACTOR);
            done.push(self.record_version(&context, programme, definition).await?);
        }
        self.refresh_programmes().await?;
        Ok(done)
    }

    /// Takes into the process's registry the versions recorded in the store that it lacks, and
    /// the withdrawals. Returns whether anything changed.
    pub async fn refresh_programmes(&self) -> Result<bool, store::StoreError> {
        use std::sync::atomic::Ordering;
        // Nothing published or withdrawn since the last look: one indexed MAX instead of
        // reading and decoding every definition (this runs before every registration).
        let head = self.store.last_position_of(PROGRAMME_TYPE).await?;
        if head == self.programmes_seen.load(Ordering::Acquire) {
            return Ok(false);
        }
        let registry = self.programmes();
        let mut changed = false;
        for r in recorded_versions(self).await? {
            if registry.get(&r.id, r.version).is_none() {
                let label = format!("{PROGRAMME_TYPE}/{} v{} in the store", r.id, r.version);
                match ProgrammeRegistry::parse(&label, &r.definition.to_string())
                    .and_then(|p| registry.add(p))
                {
                    Ok(added) => changed |= added,
                    // Only a store written by another program could hold such a version: keep
                    // serving on the definitions we have, and say so.
                    Err(e) => tracing::error!("a recorded programme version cannot be used: {e}"),
                }
            }
            if let Some(reason) = &r.withdrawn_reason {
                changed |= registry.withdraw(&r.id, r.version, reason);
            }
        }
        // Events committed after `head` was read are taken in now or at the next call (their
        // position is above `head`).
        self.programmes_seen.store(head, Ordering::Release);
        Ok(changed)
    }

    /// Checks a definition (`file` names it in errors) and records it as `context.actor`, then
    /// puts it in force in this process. Nothing is stored on any refusal.
    pub async fn publish_programme(
        &self,
        context: &CommandContext,
        file: &str,
        definition: &Value,
    ) -> Result<PublishOutcome, PublishError> {
        let programme = ProgrammeRegistry::parse(file, &definition.to_string())
            .map_err(PublishError::Invalid)?;
        self.record_version(context, Arc::new(programme), definition.clone())
            .await
    }

    async fn record_version(
        &self,
        context: &CommandContext,
        programme: Arc<Programme>,
        definition: Value,
    ) -> Result<PublishOutcome, PublishError> {
        let sha256 = content_sha256(&definition);
        let (id, version) = (programme.id.clone(), programme.version);
        let metadata = context.to_metadata("PublishProgrammeVersion");
        let command = ProgrammeCommand::Publish {
            programme: programme.clone(),
            definition,
            sha256: sha256.clone(),
        };
        let committed = match self
            .store
            .execute::<ProgrammeRecord>(&id, command, &(), metadata, None)
            .await
        {
            Ok(c) => c,
            Err(ExecuteError::Rejected(domain::programme::ProgrammeRecordError::Unchanged {
                ..
            })) => {
                return Ok(PublishOutcome {
                    id,
                    version,
                    outcome: "unchanged",
                    sha256,
                    position: None,
                })
            }
            Err(e) => return Err(execute_error(e)),
        };
        tracing::info!(programme = ?id, version, sha256 = %sha256, actor = ?context.actor, "programme version published");
        // In force in this process at once (the registry is shared by every reader of it). A
        // version this registry already holds with other content cannot have been recorded: the
        // registry's versions are all recorded before any other is accepted.
        if let Err(e) = self.programmes().add((*programme).clone()) {
            tracing::error!("the published version cannot be put in force here: {e}");
        }
        Ok(PublishOutcome {
            id,
            version,
            outcome: "published",
            sha256,
            position: Some(committed.position),
        })
    }

    /// Withdraws a version for new registrations, as `context.actor`.
    pub async fn withdraw_programme(
        &self,
        context: &CommandContext,
        id: &str,
        version: u32,
        reason: &str,
    ) -> Result<WithdrawOutcome, PublishError> {
        let metadata = context.to_metadata("WithdrawProgrammeVersion");
        let command = ProgrammeCommand::Withdraw {
            id: id.to_string(),
            version,
            reason: reason.to_string(),
        };
        let committed = self
            .store
            .execute::<ProgrammeRecord>(id, command, &(), metadata, None)
            .await
            .map_err(execute_error)?;
        let reason = reason.trim().to_string();
        self.programmes().withdraw(id, version, &reason);
        tracing::info!(programme = ?id, version, reason = ?reason, actor = ?context.actor, "programme version withdrawn");
        Ok(WithdrawOutcome {
            id: id.to_string(),
            version,
            reason,
            position: committed.position,
        })
    }

    /// The differences between two recorded versions of a programme.
    pub async fn diff_programme(
        &self,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<Option<VersionDiff>, store::StoreError> {
        let versions = recorded_versions_of(self, id).await?;
        let find = |v: u32| versions.iter().find(|r| r.version == v);
        let (Some(a), Some(b)) = (find(from), find(to)) else {
            return Ok(None);
        };
        Ok(Some(VersionDiff {
            id: id.to_string(),
            from,
            to,
            from_sha256: a.sha256.clone(),
            to_sha256: b.sha256.clone(),
            changes: workflows::programme::diff::diff(&a.definition, &b.definition),
        }))
    }
}

fn execute_error(e: ExecuteError<domain::programme::ProgrammeRecordError>) -> PublishError {
    match e {
        ExecuteError::Rejected(e) => PublishError::Refused(e),
        ExecuteError::Conflict | ExecuteError::StaleVersion { .. } => PublishError::Conflict,
        ExecuteError::Store(e) => PublishError::Store(e),
    }
}

/// Whether a recorded definition says what `programme` says (the registry's notion of the same
/// definition, for a definition whose text was, say, re-indented since it was recorded).
fn same_content(recorded: &Value, programme: &Programme) -> bool {
    ProgrammeRegistry::parse("recorded", &recorded.to_string())
        .is_ok_and(|r| r.same_definition(programme))
}

/// Takes in, every `every`, the versions published or withdrawn by another process
/// (`subsidy programmes publish` beside a running server).
pub async fn watch(
    engine: Engine,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(every) => {}
        }
        match engine.refresh_programmes().await {
            Ok(true) => tracing::info!(
                "programmes: a version published or withdrawn elsewhere is now in force"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!("programmes: cannot read the recorded versions: {e}"),
        }
    }
}
