//! Events as stored, read directly from the events table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::StoreError;

/// Metadata key of the instant the store recorded the event (RFC 3339 UTC, microseconds).
pub const RECORDED_AT: &str = "recorded_at";
/// Metadata key of the hash of the previous event of the same aggregate.
pub const PREV_HASH: &str = "prev_hash";
/// Metadata key of this event's own hash.
pub const HASH: &str = "hash";

/// One stored event with everything an auditor or a projection needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Commit-ordered position over all aggregates (strictly increasing; may have gaps).
    pub global_position: i64,
    /// `Aggregate::TYPE` of the aggregate.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// 1-based number of the event within its aggregate.
    pub sequence: i64,
    /// `DomainEvent::event_type`.
    pub event_type: String,
    /// `DomainEvent::event_version`.
    pub event_version: String,
    /// The event body as stored.
    pub payload: Value,
    /// The whole metadata object as stored (includes `recorded_at`, `prev_hash` and `hash`).
    pub metadata: Map<String, Value>,
    /// `metadata.recorded_at`, parsed.
    pub recorded_at: DateTime<Utc>,
    /// `metadata.prev_hash` ("" when absent, which `verify_chain` reports).
    pub prev_hash: String,
    /// `metadata.hash` ("" when absent, which `verify_chain` reports).
    pub hash: String,
}

/// A row as the SQL layer returns it, before its JSON is parsed.
pub(crate) struct RawEventRow {
    pub global_position: Option<i64>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

impl RawEventRow {
    pub(crate) fn into_stored(self) -> Result<StoredEvent, StoreError> {
        let corrupt = |reason: String| StoreError::CorruptEvent {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
            reason,
        };
        let global_position = self
            .global_position
            .ok_or_else(|| corrupt("it has no global position".to_string()))?;
        let payload: Value = serde_json::from_str(&self.payload)
            .map_err(|e| corrupt(format!("the payload is not valid JSON ({e})")))?;
        let metadata = match serde_json::from_str::<Value>(&self.metadata) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(corrupt("the metadata is not a JSON object".to_string())),
            Err(e) => return Err(corrupt(format!("the metadata is not valid JSON ({e})"))),
        };
        let recorded_at = match metadata.get(RECORDED_AT) {
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    corrupt(format!(
                        "recorded_at {text:?} is not an RFC 3339 time ({e})"
                    ))
                })?
                .with_timezone(&Utc),
            _ => return Err(corrupt("the metadata has no recorded_at".to_string())),
        };
        let text_of = |key: &str| match metadata.get(key) {
            Some(Value::String(text)) => text.clone(),
            _ => String::new(),
        };
        let prev_hash = text_of(PREV_HASH);
        let hash = text_of(HASH);
        Ok(StoredEvent {
            global_position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            event_version: self.event_version,
            payload,
            metadata,
            recorded_at,
            prev_hash,
            hash,
        })
    }
}
