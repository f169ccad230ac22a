//! Compiling form schemas and turning validation failures into [`FieldError`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde::Serialize;
use serde_json::Value;

/// One failing field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON pointer of the failing field, `""` for the whole form.
    pub pointer: String,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(form)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.reason)
    }
}

/// A form that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("programme has no form '{form}'")]
    UnknownForm { form: String },
    #[error("form '{form}' is invalid: {}", join(errors))]
    Invalid {
        form: String,
        errors: Vec<FieldError>,
    },
}

impl FormError {
    /// The failing pointers, in the order reported (empty for an unknown form).
    pub fn pointers(&self) -> Vec<&str> {
        match self {
            FormError::UnknownForm { .. } => Vec::new(),
            FormError::Invalid { errors, .. } => {
                errors.iter().map(|e| e.pointer.as_str()).collect()
            }
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The compiled validators of a programme's forms. Cloning shares them.
#[derive(Clone, Default)]
pub(crate) struct CompiledForms(Arc<BTreeMap<String, Validator>>);

impl CompiledForms {
    pub(crate) fn new(map: BTreeMap<String, Validator>) -> Self {
        CompiledForms(Arc::new(map))
    }

    pub(crate) fn get(&self, form: &str) -> Option<&Validator> {
        self.0.get(form)
    }
}

impl fmt::Debug for CompiledForms {
    // The validators' own Debug output is a large tree of no use to a reader of a Programme.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Compiles a form schema as draft 2020-12 with formats asserted and unknown formats refused,
/// so that a misspelt `format` is caught when the definition is loaded rather than ignored.
pub(crate) fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Every failure of `instance` against `validator`, each at the pointer of the failing field.
pub(crate) fn field_errors(validator: &Validator, instance: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        push_field_errors(&error, &mut out);
    }
    out
}

fn push_field_errors(error: &ValidationError<'_>, out: &mut Vec<FieldError>) {
    let at = error.instance_path().as_str().to_string();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            out.push(FieldError {
                pointer: child(&at, &name),
                reason: "required field is missing".to_string(),
            });
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                out.push(FieldError {
                    pointer: child(&at, name),
                    reason: "field is not part of this form".to_string(),
                });
            }
        }
        _ => out.push(FieldError {
            pointer: at,
            reason: error.to_string(),
        }),
    }
}

/// Appends one reference token to a JSON pointer, escaped as RFC 6901 requires.
pub(crate) fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}
