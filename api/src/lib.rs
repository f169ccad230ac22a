//! The `subsidy` application: configuration ([`engine::Settings`]), the wired [`engine::Engine`]
//! (store + programme registry + aggregate services), the command-line interface ([`cli`]),
//! the invented demo data set ([`demo`]), the HTTP API ([`http`], `subsidy serve`) and the log
//! output ([`logging`]: one escaped line per event), the annex spreadsheets ([`annex`]), the audit
//! tools ([`audit`]) and the web pages ([`web`], `/ui/`).

pub mod annex;
pub mod audit;
pub mod calendar;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod http;
pub mod logging;
pub mod programmes;
pub mod reminders;
pub mod table;
pub mod web;

pub use engine::{Engine, EngineError, Settings};
