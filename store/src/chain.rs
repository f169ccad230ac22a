//! The per-aggregate hash chain: how an event's hash is computed and how a stream is verified.
//!
//! The rule (also in the crate README, for independent verifiers): `hash` is the lowercase hex
//! SHA-256 of the RFC 8785 (JCS) canonical JSON of the object
//! `{"aggregate_type", "aggregate_id", "sequence" (a number), "event_type", "event_version",
//! "payload", "metadata"}`, where `metadata` is the event's whole metadata object without its
//! `"hash"` key. `metadata.prev_hash` is the previous event's `hash`, or 64 zeros for sequence 1.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::event::{StoredEvent, HASH};

/// `prev_hash` of the first event of every aggregate: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one event, by the rule in the module documentation. A `"hash"` key in `metadata`
/// is ignored, so the stored metadata can be passed as it is.
pub fn event_hash(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
    metadata: &Map<String, Value>,
) -> String {
    let mut metadata = metadata.clone();
    metadata.remove(HASH);
    let subject = json!({
        "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_id,
        "sequence": sequence,
        "event_type": event_type,
        "event_version": event_version,
        "payload": payload,
        "metadata": Value::Object(metadata),
    });
    // Canonicalisation fails only for NaN, infinities and raw values, none of which a
    // `serde_json::Value` built without `arbitrary_precision` can hold.
    let canonical = serde_json_canonicalizer::to_vec(&subject)
        .expect("a serde_json::Value always has a canonical form");
    hex::encode(Sha256::digest(&canonical))
}

/// The largest magnitude of an integer the store keeps: 2^53 − 1. JCS (and every JSON reader
/// that uses IEEE doubles) represents integers exactly only up to it, so a larger one could be
/// altered without changing the hash.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// Why a value cannot be stored: it would not hash, or not read back, exactly as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct Unstorable {
    /// JSON pointer of the value inside the payload or metadata (`/payload/…`).
    pub pointer: String,
    pub reason: String,
}

/// Checks that every number in `value` is an integer within ±(2^53 − 1) or a finite double,
/// and that no string holds NUL (PostgreSQL's `jsonb` cannot store it). The store refuses an
/// event that fails, whoever produced it.
pub fn check_storable(pointer: &str, value: &Value) -> Result<(), Unstorable> {
    let refuse = |reason: String| Unstorable {
        pointer: pointer.to_string(),
        reason,
    };
    match value {
        Value::Number(n) => {
            let exact = if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_EXACT_INTEGER
            } else if n.as_u64().is_some() {
                false
            } else {
                n.as_f64().is_some_and(f64::is_finite)
            };
            if exact {
                Ok(())
            } else {
                Err(refuse(format!(
                    "the number {n} is outside ±{MAX_EXACT_INTEGER}, which the hash rule cannot protect"
                )))
            }
        }
        Value::String(s) if s.contains('\0') => Err(refuse("a string holds NUL".to_string())),
        Value::String(_) | Value::Null | Value::Bool(_) => Ok(()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_storable(&format!("{pointer}/{i}"), v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains('\0') {
                return Err(refuse("a key holds NUL".to_string()));
            }
            let k = k.replace('~', "~0").replace('/', "~1");
            check_storable(&format!("{pointer}/{k}"), v)
        }),
    }
}

/// The hash of a stored event, recomputed from its fields.
pub fn stored_event_hash(event: &StoredEvent) -> String {
    event_hash(
        &event.aggregate_type,
        &event.aggregate_id,
        event.sequence,
        &event.event_type,
        &event.event_version,
        &event.payload,
        &event.metadata,
    )
}

/// What is wrong with a stream of events, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainViolation {
    /// An event of another aggregate appears in the stream.
    #[error("event #{sequence} belongs to {found}, not to {expected}")]
    ForeignEvent {
        /// Its sequence number.
        sequence: i64,
        /// `type/id` of the stream being verified.
        expected: String,
        /// `type/id` of the event.
        found: String,
    },
    /// The sequence numbers are not 1, 2, 3, …: an event was removed, inserted or reordered.
    #[error("expected event #{expected} but found #{found}: an event was removed, inserted or reordered")]
    SequenceGap {
        /// The number that should come next.
        expected: i64,
        /// The number found instead.
        found: i64,
    },
    /// The event has no `hash` in its metadata.
    #[error("event #{sequence} carries no hash")]
    MissingHash {
        /// Its sequence number.
        sequence: i64,
    },
    /// The event's content no longer matches its stored hash: it was altered (or renumbered).
    #[error(
        "event #{sequence} was altered: its content hashes to {computed}, but {stored} is stored"
    )]
    Altered {
        /// Its sequence number.
        sequence: i64,
        /// The stored `hash`.
        stored: String,
        /// The hash recomputed from its content.
        computed: String,
    },
    /// The event's `prev_hash` is not the hash of the event before it: the link is broken
    /// (an event before it was removed, replaced, inserted or reordered).
    #[error("event #{sequence} does not follow the event before it: its prev_hash is {found}, expected {expected}")]
    BrokenLink {
        /// Its sequence number.
        sequence: i64,
        /// The previous event's hash (or 64 zeros).
        expected: String,
        /// The stored `prev_hash`.
        found: String,
    },
    /// The events of the aggregate were not committed in sequence order.
    #[error("event #{sequence} has global position {position}, not after {previous_position} of the event before it")]
    PositionOutOfOrder {
        /// Its sequence number.
        sequence: i64,
        /// Its global position.
        position: i64,
        /// The global position of the event before it.
        previous_position: i64,
    },
}

impl ChainViolation {
    /// The sequence number of the offending event.
    pub fn sequence(&self) -> i64 {
        match self {
            Self::ForeignEvent { sequence, .. }
            | Self::MissingHash { sequence }
            | Self::Altered { sequence, .. }
            | Self::BrokenLink { sequence, .. }
            | Self::PositionOutOfOrder { sequence, .. } => *sequence,
            Self::SequenceGap { found, .. } => *found,
        }
    }
}

/// Verifies the whole stream of ONE aggregate, given in sequence order from sequence 1 (as
/// `Store::read_stream` returns it). Reports the first problem found, checking each event in
/// turn for: the right aggregate, the next sequence number, a stored hash equal to the
/// recomputed one, a `prev_hash` equal to the previous hash, and a global position after the
/// previous event's. An empty stream verifies.
///
/// A chain alone cannot reveal events cut off the END of a stream, nor a forger who rewrites
/// every hash from some point on; compare the last hash with one kept elsewhere (an export, a
/// receipt) for that.
pub fn verify_chain(events: &[StoredEvent]) -> Result<(), ChainViolation> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let stream = format!("{}/{}", first.aggregate_type, first.aggregate_id);
    let mut previous_hash = GENESIS_HASH.to_string();
    let mut previous_position: Option<i64> = None;
    for (index, event) in events.iter().enumerate() {
        let expected_sequence = index as i64 + 1;
        let this = format!("{}/{}", event.aggregate_type, event.aggregate_id);
        if this != stream {
            return Err(ChainViolation::ForeignEvent {
                sequence: event.sequence,
                expected: stream,
                found: this,
            });
        }
        if event.sequence != expected_sequence {
            return Err(ChainViolation::SequenceGap {
                expected: expected_sequence,
                found: event.sequence,
            });
        }
        if event.hash.is_empty() {
            return Err(ChainViolation::MissingHash {
                sequence: event.sequence,
            });
        }
        let computed = stored_event_hash(event);
        if computed != event.hash {
            return Err(ChainViolation::Altered {
                sequence: event.sequence,
                stored: event.hash.clone(),
                computed,
            });
        }
        if event.prev_hash != previous_hash {
            return Err(ChainViolation::BrokenLink {
                sequence: event.sequence,
                expected: previous_hash,
                found: event.prev_hash.clone(),
            });
        }
        if let Some(previous_position) = previous_position {
            if event.global_position <= previous_position {
                return Err(ChainViolation::PositionOutOfOrder {
                    sequence: event.sequence,
                    position: event.global_position,
                    previous_position,
                });
            }
        }
        previous_hash = event.hash.clone();
        previous_position = Some(event.global_position);
    }
    Ok(())
}
