//! The `SubsidyProject` aggregate (cqrs-es): a funded project whose whole life is an
//! append-only log of [`ProjectEvent`]s, decided from [`ProjectCommand`]s under the rules of
//! the [`stage::TRANSITIONS`] table and finance discipline, refusing with [`ProjectError`].
//!
//! Main types: [`SubsidyProject`] (state + rules), [`ProjectCommand`], [`ProjectEvent`],
//! [`ProjectError`], [`Stage`], value types [`Fen`], [`JurisdictionCode`], and
//! [`CommandContext`] (the acting user and evidence, written to event metadata by the store).
//!
//! The crate does no IO and never reads the clock: dates come in commands, programme rules
//! and the working-day calendar come from the `workflows` crate through [`ProjectServices`].

pub mod aggregate;
pub mod calendar;
pub mod commands;
pub mod error;
pub mod events;
pub mod fixtures;
pub mod programme;
pub mod replay;
pub mod stage;
pub mod types;
pub mod validate;

pub use aggregate::{FundLedger, ProjectServices, SubsidyProject};
pub use commands::{
    ChecklistResult, ClawbackLine, IndicatorScore, ObjectionOutcome, ProjectCommand, ReviewDecision,
};
pub use error::ProjectError;
pub use events::ProjectEvent;
pub use stage::{CommandKind, Stage};
pub use types::{
    CommandContext, ConstructionEntity, DocumentRef, Fen, JurisdictionCode, JurisdictionLevel,
    Official,
};
