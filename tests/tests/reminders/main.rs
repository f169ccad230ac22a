//! Deadlines and reminder e-mails.
//!
//! Modules: `derivation` (deadlines of the shipped programmes against dates worked out by hand
//! on the official calendar), `delivery` (reminders through a real SMTP server process on
//! SQLite and PostgreSQL: content, server down, restart mid-batch, two schedulers at once).

mod delivery;
mod derivation;
mod smtp;
