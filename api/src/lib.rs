//! The `subsidy` application: configuration ([`engine::Settings`]), the wired [`engine::Engine`]
//! (store + programme registry + aggregate services), the command-line interface ([`cli`]) and
//! the invented demo data set ([`demo`]) and the HTTP API ([`http`], `subsidy serve`).

pub mod cli;
pub mod demo;
pub mod engine;
pub mod http;
pub mod reminders;
pub mod table;

pub use engine::{Engine, EngineError, Settings};
