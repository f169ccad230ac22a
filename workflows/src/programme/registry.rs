//! Loading definitions (syntax → meta-schema → semantic rules) and the registry of loaded ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use jsonschema::Validator;
use serde_json::Value;

use super::forms::{self, child, CompiledForms};
use super::{
    parse_month_day, FundSource, Programme, ProgrammeKey, ScheduleRule, LABELLED_STAGES,
    REQUIRED_FORMS,
};

/// The meta-schema every definition must satisfy.
const META_SCHEMA: &str = include_str!("../../schema/programme.schema.json");
const META_SCHEMA_LABEL: &str = "schema/programme.schema.json";

/// The definitions shipped with the crate, as (file label, text).
const BUILTIN: [(&str, &str); 3] = [
    (
        "programmes/shandong-smart-lockers-2017.v1.json",
        include_str!("../../programmes/shandong-smart-lockers-2017.v1.json"),
    ),
    (
        "programmes/yiyuan-express-to-villages-2021.v1.json",
        include_str!("../../programmes/yiyuan-express-to-villages-2021.v1.json"),
    ),
    (
        "programmes/yiyuan-smart-lockers-2025.v1.json",
        include_str!("../../programmes/yiyuan-smart-lockers-2025.v1.json"),
    ),
];

/// A definition refused at load: which file, where in it (a JSON pointer, `""` for the whole
/// document) and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {pointer}: {reason}")]
pub struct DefinitionError {
    pub file: String,
    pub pointer: String,
    pub reason: String,
}

impl DefinitionError {
    fn new(file: &str, pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        DefinitionError {
            file: file.to_string(),
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

/// Every loaded programme definition, keyed by (id, version), and the versions withdrawn for
/// new registrations.
///
/// **Cloning shares the registry**: a version added ([`ProgrammeRegistry::add`]) or withdrawn
/// through one clone is seen by every clone, so the aggregate's services, the read models and
/// the HTTP handlers of a process all see a version published at run time at once (a version
/// is only ever added, never changed, so a reader needs no snapshot). [`ProgrammeRegistry::detached`]
/// is an independent copy.
#[derive(Debug, Clone, Default)]
pub struct ProgrammeRegistry {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    programmes: BTreeMap<ProgrammeKey, Arc<Programme>>,
    /// Withdrawn versions and why: no new project may register under them.
    withdrawn: BTreeMap<ProgrammeKey, String>,
}

impl ProgrammeRegistry {
    /// An empty registry.
    pub fn empty() -> ProgrammeRegistry {
        ProgrammeRegistry::default()
    }

    /// An independent copy: what is added to or withdrawn from it later is not shared.
    pub fn detached(&self) -> ProgrammeRegistry {
        ProgrammeRegistry {
            inner: Arc::new(RwLock::new(self.read().clone())),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The definitions shipped in `programmes/`, embedded in the binary.
    ///
    /// They are parsed and checked once per process. This does not panic: every shipped
    /// definition is loaded by `tests/programmes.rs`, so a broken one fails the build's tests,
    /// and should one still fail here it is left out rather than taking the process down.
    pub fn builtin() -> ProgrammeRegistry {
        static BUILTIN_REGISTRY: OnceLock<ProgrammeRegistry> = OnceLock::new();
        BUILTIN_REGISTRY
            .get_or_init(|| {
                let mut registry = ProgrammeRegistry::default();
                for (label, text) in BUILTIN {
                    if let Ok(p) = ProgrammeRegistry::parse(label, text) {
                        // Shipped keys are distinct, so insertion cannot conflict.
                        let _ = registry.insert(p);
                    }
                }
                registry
            })
            .detached()
    }

    /// The shipped definitions as (file label, text), for tests and for `programmes show`.
    pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
        &BUILTIN
    }

    /// Reads and checks one definition file.
    pub fn load_file(path: &Path) -> Result<Programme, DefinitionError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| DefinitionError::new(&label, "", format!("cannot read the file: {e}")))?;
        ProgrammeRegistry::parse(&label, &text)
    }

    /// Checks one definition given as text; `file_label` names it in errors.
    pub fn parse(file_label: &str, text: &str) -> Result<Programme, DefinitionError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            DefinitionError::new(
                file_label,
                "",
                format!(
                    "not valid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        check_meta_schema(file_label, &value)?;
        let mut programme: Programme = serde_json::from_value(value).map_err(|e| {
            // The meta-schema should have caught anything serde refuses; if not, say so plainly.
            DefinitionError::new(
                file_label,
                "",
                format!("does not match the definition format: {e}"),
            )
        })?;
        let compiled = check_semantics(file_label, &programme)?;
        programme.compiled = compiled;
        programme.origin = file_label.to_string();
        Ok(programme)
    }

    /// Adds every `*.json` file in `dir` (not recursively), in file-name order.
    pub fn with_dir(mut self, dir: &Path) -> Result<ProgrammeRegistry, DefinitionError> {
        let label = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            DefinitionError::new(&label, "", format!("cannot read the directory: {e}"))
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                DefinitionError::new(&label, "", format!("cannot read the directory: {e}"))
            })?;
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|ext| ext == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let programme = ProgrammeRegistry::load_file(&path)?;
            self.insert(programme)?;
        }
        Ok(self)
    }

    /// Adds a definition. Inserting the same (id, version) again with identical content is a
    /// no-op; with different content it is refused, because a shipped version is immutable.
    pub fn insert(&mut self, p: Programme) -> Result<(), DefinitionError> {
        self.add(p).map(|_| ())
    }

    /// [`ProgrammeRegistry::insert`] through a shared registry (every clone sees it). Returns
    /// whether the version is new.
    pub fn add(&self, p: Programme) -> Result<bool, DefinitionError> {
        let key = p.key();
        let mut inner = self.write();
        if let Some(existing) = inner.programmes.get(&key) {
            if existing.same_definition(&p) {
                return Ok(false);
            }
            return Err(DefinitionError::new(
                p.origin(),
                "/version",
                format!(
                    "{key} is already registered (from {}) with different content; a shipped \
                     version never changes, publish the change as version {}",
                    if existing.origin().is_empty() {
                        "elsewhere"
                    } else {
                        existing.origin()
                    },
                    latest_of(&inner.programmes, &key.id).map_or(key.version, |l| l.version) + 1
                ),
            ));
        }
        inner.programmes.insert(key, Arc::new(p));
        Ok(true)
    }

    /// Withdraws a version for new registrations (projects already under it keep it). Returns
    /// whether it was in force before.
    pub fn withdraw(&self, id: &str, version: u32, reason: &str) -> bool {
        let key = ProgrammeKey {
            id: id.to_string(),
            version,
        };
        self.write()
            .withdrawn
            .insert(key, reason.to_string())
            .is_none()
    }

    /// Why a version was withdrawn for new registrations, if it was.
    pub fn withdrawal(&self, id: &str, version: u32) -> Option<String> {
        self.read()
            .withdrawn
            .get(&ProgrammeKey {
                id: id.to_string(),
                version,
            })
            .cloned()
    }

    pub fn get(&self, id: &str, version: u32) -> Option<Arc<Programme>> {
        self.read()
            .programmes
            .get(&ProgrammeKey {
                id: id.to_string(),
                version,
            })
            .cloned()
    }

    /// The highest version of a programme.
    pub fn latest(&self, id: &str) -> Option<Arc<Programme>> {
        latest_of(&self.read().programmes, id)
    }

    /// Every definition, sorted by id, then version.
    pub fn all(&self) -> Vec<Arc<Programme>> {
        self.read().programmes.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.read().programmes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().programmes.is_empty()
    }
}

fn latest_of(
    programmes: &BTreeMap<ProgrammeKey, Arc<Programme>>,
    id: &str,
) -> Option<Arc<Programme>> {
    programmes
        .iter()
        .filter(|(k, _)| k.id == id)
        .map(|(_, p)| p)
        .next_back()
        .cloned()
}

fn meta_validator() -> Result<&'static Validator, DefinitionError> {
    static META: OnceLock<Result<Validator, String>> = OnceLock::new();
    META.get_or_init(|| {
        let schema: Value = serde_json::from_str(META_SCHEMA).map_err(|e| e.to_string())?;
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|reason| {
        DefinitionError::new(
            META_SCHEMA_LABEL,
            "",
            format!("the meta-schema does not compile: {reason}"),
        )
    })
}

/// Refuses a definition that violates the meta-schema, naming the first violation (errors
/// inside a failing `if/then` branch come out at the exact field, e.g. `/deadlines/0/due/days`).
fn check_meta_schema(file: &str, value: &Value) -> Result<(), DefinitionError> {
    let errors = forms::field_errors(meta_validator()?, value);
    match errors.split_first() {
        None => Ok(()),
        Some((first, rest)) => {
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" (and {} more problem(s))", rest.len())
            };
            Err(DefinitionError::new(
                file,
                first.pointer.clone(),
                format!("{}{more}", first.reason),
            ))
        }
    }
}

/// The rules the meta-schema cannot express. Returns the compiled form validators.
fn check_semantics(file: &str, p: &Programme) -> Result<CompiledForms, DefinitionError> {
    let err = |pointer: String, reason: String| DefinitionError::new(file, pointer, reason);

    // The application window is a range of days, not an empty one.
    let window = p.application_window;
    if window.closes_on < window.opens_on {
        return Err(err(
            "/application_window/closes_on".to_string(),
            format!(
                "the window closes on {} before it opens on {}",
                window.closes_on, window.opens_on
            ),
        ));
    }

    // Stages: each labelled engine stage exactly once, in lifecycle order, so that a reader of
    // the definition sees the lifecycle as the engine runs it.
    for (i, (label, expected)) in p.stages.iter().zip(LABELLED_STAGES).enumerate() {
        if label.stage != expected {
            return Err(err(
                format!("/stages/{i}/stage"),
                format!("expected stage '{expected}' here (stages are labelled once each, in lifecycle order), found '{}'", label.stage),
            ));
        }
    }

    // Forms: the engine's own forms exist and every schema compiles.
    for required in REQUIRED_FORMS {
        if !p.forms.contains_key(required) {
            return Err(err(
                "/forms".into(),
                format!("the required form '{required}' is missing"),
            ));
        }
    }
    let mut compiled = BTreeMap::new();
    for (key, def) in &p.forms {
        let validator = forms::compile(&def.schema).map_err(|reason| {
            err(
                child(&child("/forms", key), "schema"),
                format!("not a valid JSON Schema (draft 2020-12): {reason}"),
            )
        })?;
        compiled.insert(key.clone(), validator);
    }

    // Ids are unique within each list, since the engine and reminders refer to items by id.
    unique_ids(
        file,
        "/deadlines",
        p.deadlines.iter().map(|d| d.id.as_str()),
    )?;
    unique_ids(
        file,
        "/report_schedules",
        p.report_schedules.iter().map(|r| r.id.as_str()),
    )?;
    unique_ids(
        file,
        "/acceptance/checklist",
        p.acceptance.checklist.iter().map(|c| c.id.as_str()),
    )?;
    unique_ids(
        file,
        "/evaluation/indicators",
        p.evaluation.indicators.iter().map(|i| i.id.as_str()),
    )?;

    // Report schedules: an existing form, valid dates, and a stage window that is not empty.
    for (i, r) in p.report_schedules.iter().enumerate() {
        if !p.forms.contains_key(&r.form) {
            return Err(err(
                format!("/report_schedules/{i}/form"),
                format!(
                    "the report uses form '{}', which the programme does not define",
                    r.form
                ),
            ));
        }
        if let ScheduleRule::YearlyDates { dates } = &r.rule {
            for (j, md) in dates.iter().enumerate() {
                if parse_month_day(md).is_none() {
                    return Err(err(
                        format!("/report_schedules/{i}/rule/dates/{j}"),
                        format!("'{md}' is not a month-day that exists every year (MM-DD)"),
                    ));
                }
            }
        }
        let from = stage_index(&r.from_stage);
        let until = stage_index(&r.until_stage);
        if from >= until {
            return Err(err(
                format!("/report_schedules/{i}/until_stage"),
                format!(
                    "reports run from entering '{}' until entering '{}', so '{}' must come later in the lifecycle",
                    r.from_stage, r.until_stage, r.until_stage
                ),
            ));
        }
        if let Some(through) = r.through_year.filter(|y| *y < p.year) {
            return Err(err(
                format!("/report_schedules/{i}/through_year"),
                format!("{through} is before the programme year {}", p.year),
            ));
        }
    }

    // Funding: one rule per source; a prerequisite is another listed source; no cycles.
    let mut seen = BTreeSet::new();
    for (i, rule) in p.funding.sources.iter().enumerate() {
        if !seen.insert(rule.source) {
            return Err(err(
                format!("/funding/sources/{i}/source"),
                format!("the source '{}' is listed twice", rule.source.label_zh()),
            ));
        }
    }
    for (i, rule) in p.funding.sources.iter().enumerate() {
        for (j, first) in rule.requires_disbursed_first.iter().enumerate() {
            let pointer = format!("/funding/sources/{i}/requires_disbursed_first/{j}");
            if *first == rule.source {
                return Err(err(pointer, "a source cannot wait for itself".into()));
            }
            if !seen.contains(first) {
                return Err(err(
                    pointer,
                    format!(
                        "'{}' funds are not part of this programme",
                        first.label_zh()
                    ),
                ));
            }
            if waits_for(p, *first, rule.source) {
                return Err(err(
                    pointer,
                    format!(
                        "'{}' and '{}' would each wait for the other to disburse first",
                        rule.source.label_zh(),
                        first.label_zh()
                    ),
                ));
            }
        }
    }

    // Evaluation: the indicators make up 100 points and the grades are strictly ordered.
    let total = p.max_total_score();
    if total != 100 {
        return Err(err(
            "/evaluation/indicators".into(),
            format!("the indicators' max_score values add up to {total}, not 100"),
        ));
    }
    let t = p.evaluation.thresholds;
    if t.excellent <= t.good {
        return Err(err(
            "/evaluation/thresholds/good".into(),
            format!(
                "the 良 threshold ({}) must be below the 优 threshold ({})",
                t.good, t.excellent
            ),
        ));
    }
    if t.good <= t.fair {
        return Err(err(
            "/evaluation/thresholds/fair".into(),
            format!(
                "the 中 threshold ({}) must be below the 良 threshold ({})",
                t.fair, t.good
            ),
        ));
    }

    Ok(CompiledForms::new(compiled))
}

fn unique_ids<'a>(
    file: &str,
    list: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), DefinitionError> {
    let mut seen = BTreeMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(first) = seen.insert(id, i) {
            return Err(DefinitionError::new(
                file,
                format!("{list}/{i}/id"),
                format!("the id '{id}' is already used at {list}/{first}"),
            ));
        }
    }
    Ok(())
}

/// Whether `source` waits (directly or through others) for `target` to disburse first.
fn waits_for(p: &Programme, source: FundSource, target: FundSource) -> bool {
    let mut stack = vec![source];
    let mut visited = BTreeSet::new();
    while let Some(s) = stack.pop() {
        if !visited.insert(s) {
            continue;
        }
        if let Some(rule) = p.funding_rule(s) {
            for &first in &rule.requires_disbursed_first {
                if first == target {
                    return true;
                }
                stack.push(first);
            }
        }
    }
    false
}

fn stage_index(stage: &str) -> usize {
    LABELLED_STAGES
        .iter()
        .position(|s| *s == stage)
        .unwrap_or(usize::MAX)
}
