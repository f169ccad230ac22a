//! The engine conformance suite: the same cases against a real SQLite file and a real
//! PostgreSQL database, through the `SubsidyProject` aggregate and the store together.
//!
//! Modules: `lifecycle` (whole projects, demo data, replay and projections), `concurrency`
//! (two officers acting at once), `audit` (hash chain, state as of a moment), `projections`
//! (the persisted read models against a rebuild, crashes, racing runners, blue/green).

mod audit;
mod audit_export;
mod concurrency;
mod lifecycle;
mod projections;
