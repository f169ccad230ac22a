//! Programmes as data: the versioned definitions of subsidy programmes (stages, deadlines,
//! report schedules, form schemas, acceptance checklists, funding rules), and the official
//! Chinese working-day calendar used to count deadlines.

pub mod calendar;
pub mod deadlines;
pub mod jurisdictions;
pub mod programme;

pub use programme::{
    DefinitionError, FieldError, FormError, FundSource, Grade, OfficialRole, Programme,
    ProgrammeKey, ProgrammeRegistry,
};
