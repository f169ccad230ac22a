//! The engine conformance suite: the same cases against a real SQLite file and a real
//! PostgreSQL database, through the `SubsidyProject` aggregate and the store together.
//!
//! Modules: `lifecycle` (whole projects, demo data, replay and projections), `concurrency`
//! (two officers acting at once), `audit` (hash chain, state as of a moment), `projections`
//! (the persisted read models against a rebuild, crashes, racing runners, blue/green), `annex`
//! (the facts of the annex tables, in scope and as of a moment, against a fold of the log).

mod annex;
mod audit;
mod audit_check;
mod audit_export;
mod concurrency;
mod lifecycle;
mod projections;
