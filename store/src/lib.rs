//! The event store: [`Store`] keeps the events of every aggregate in one `events` table, in an
//! embedded SQLite file or in PostgreSQL, chosen by URL, and runs commands against any
//! `cqrs_es::Aggregate` with optimistic concurrency ([`Store::execute`] returning
//! [`Committed`] or an [`ExecuteError`]).
//!
//! Main types:
//! - [`Store`]: connect/migrate, `execute`, `load`, `load_as_of`, `read_stream`, `read_all`.
//! - [`AnyRepository`] (sqlite-es or postgres-es) wrapped by [`ChainedRepository`], the cqrs-es
//!   repository that stamps every event's metadata with `recorded_at`, `prev_hash` and `hash`.
//! - [`StoredEvent`], an event as stored, with its commit-ordered `global_position`.
//! - [`event_hash`] and [`verify_chain`] / [`ChainViolation`]: the per-aggregate hash chain
//!   that lets an auditor detect altered, removed, reordered or inserted events.
//! - [`Clock`] with [`SystemClock`] and [`FixedClock`], the source of `recorded_at`.
//! - [`StoreError`], the errors of this layer.
//! - [`merkle`]: RFC 6962 Merkle trees with inclusion and consistency proofs (audit digests).
//!
//! # Commit order
//!
//! Readers follow the store by `global_position` (`read_all(after, limit)`), so a position must
//! never become visible after a higher one, or a reader that already moved past it would miss
//! an event. A plain auto-increment does not give this under concurrent writers: numbers are
//! drawn at insert time and transactions commit in any order. So:
//! - PostgreSQL: a BEFORE INSERT trigger takes a transaction-level advisory lock (held until
//!   commit or rollback) and only then draws `nextval()`; the next writer draws after the previous
//!   commit is visible. Rolled-back numbers leave gaps, which readers tolerate.
//! - SQLite: one writer at a time holds the database write lock from its first write to its
//!   commit, and starts from the newest committed state; an AFTER INSERT trigger increments a
//!   one-row counter and stores it in the row, so numbers are issued in commit order.
//!
//! # Write path
//!
//! [`Store::execute`] does not replay a project's events on every command: the state after each
//! commit stays in a bounded in-process cache (checked against the stored version whenever the
//! cached decision is anything but a commit), and concurrent commands share one transaction
//! (group commit: one commit, one fsync, one hold of the commit-order lock for many commands;
//! each keeps its own optimistic concurrency). Both are described in the `writer` module; the
//! appends themselves are plain `INSERT … ON CONFLICT DO NOTHING` on the events table, whose
//! primary key makes a stale cached state cost a retry, never a wrong event.
//!
//! # Snapshots
//!
//! The `snapshots` table exists for layout compatibility but stays empty: cqrs-es 0.5.0's
//! snapshot and aggregate stores apply newly committed events twice, so only
//! `PersistedEventStore::new_event_store` is used.
//!
//! See `store/README.md` for the hash rule an independent verifier must follow.

mod chain;
mod clock;
mod error;
mod event;
pub mod merkle;
mod repository;
mod store;
mod writer;

pub use chain::{
    check_storable, event_hash, stored_event_hash, verify_chain, ChainViolation, Unstorable,
    GENESIS_HASH, MAX_EXACT_INTEGER,
};
pub use clock::{format_recorded_at, Clock, FixedClock, SystemClock};
pub use error::{ExecuteError, StoreError};
pub use event::{StoredEvent, HASH, PREV_HASH, RECORDED_AT};
pub use repository::{AnyRepository, ChainedRepository};
pub use store::{event_columns, stored_event_from_columns, Committed, Store, SQLITE_FILE_NAME};

/// Re-exported so callers name the same cqrs-es types as this crate.
pub use cqrs_es;
