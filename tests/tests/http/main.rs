//! The HTTP API end to end: the real server on port 0 against a fresh SQLite file and a fresh
//! PostgreSQL database per test (`TEST_DATABASE_URL`, default
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres`), driven with reqwest.

mod helpers;

mod accounts;
mod audit_findings;
mod authorization;
mod bad_input;
mod calendar;
mod concurrency;
mod exports;
mod hardening;
mod headers;
mod idempotency;
mod limits;
mod logging;
mod notice_rules;
mod openapi;
mod outage;
mod programmes;
mod read_your_writes;
mod replica;
mod walk;
