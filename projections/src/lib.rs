//! Read models folded from the event log by global position.
//!
//! Main types: [`ProjectsView`] (every project's current summary, caught up from the store by
//! position), [`ProjectSummary`] (one row of it), [`history::HistoryEntry`] (one event as an
//! auditor reads it: actor, time, evidence, hashes) and [`history::describe`] (a one-line
//! Chinese description of an event), and [`deadlines::DeadlinesView`] (every project's deadline
//! facts, from which [`deadlines::Deadline`]s and the reminders owed on a day are derived).
//!
//! The persisted read models live in SQL tables beside the events: [`runtime::Runtime`] keeps
//! them caught up by position and rebuilds them blue/green; [`projects::ProjectsProjection`] is
//! the project list and the fund ledger (`projects::list`, `projects::get`, `projects::ledger`).
//! [`ProjectsView`] is the same fold in memory: the reference a rebuild is compared with.
//! [`annex::AnnexProjection`] keeps the facts behind the bureaus' annex tables (plans, progress
//! reports, officials), read by jurisdiction and as of a moment (`annex::facts`).
//!
//! Projections are pure functions of the events up to a position, so replaying the whole
//! store gives exactly what the live system shows.

pub mod annex;
pub mod deadlines;
pub mod history;
pub mod projects;
pub mod runtime;
pub mod sql;

pub use projects::{ProjectSummary, ProjectsProjection, ProjectsView, PROJECTS};
pub use runtime::{Runtime, SqlProjection};

/// Errors of the read side.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("event {aggregate_id}#{sequence} ({event_type}) cannot be read: {reason}")]
    UnreadableEvent {
        aggregate_id: String,
        sequence: i64,
        event_type: String,
        reason: String,
    },
    #[error("there is no projection '{name}'; the projections are: {known}")]
    UnknownProjection { name: String, known: String },
    #[error("row {id} of {table} cannot be read: {reason}")]
    UnreadableRow {
        table: String,
        id: String,
        reason: String,
    },
    #[error("injected fault {0:?}: the batch was not committed")]
    Fault(runtime::Fault),
}

/// A read model folded from the event log in position order.
pub trait Projection {
    /// The position of the last event applied.
    fn position(&self) -> i64;
    /// Applies one stored event (events of other aggregate types are skipped).
    fn apply(&mut self, event: &store::StoredEvent) -> Result<(), ProjectionError>;
}

/// How many events a catch-up reads per query.
const BATCH: i64 = 1000;

/// Reads every event after the last one `view` has seen, in position order, and applies it.
pub async fn catch_up<P: Projection>(
    view: &mut P,
    store: &store::Store,
) -> Result<(), ProjectionError> {
    loop {
        let batch = store.read_all(view.position(), BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for event in &batch {
            view.apply(event)?;
        }
    }
}

/// Decodes a stored project event's payload.
pub fn decode(event: &store::StoredEvent) -> Result<domain::ProjectEvent, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::UnreadableEvent {
        aggregate_id: event.aggregate_id.clone(),
        sequence: event.sequence,
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}
