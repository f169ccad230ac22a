//! The project list: one summary per project, rebuilt by applying each project's events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use domain::{Fen, Stage, SubsidyProject};
use serde::Serialize;
use store::{Store, StoredEvent};

use crate::{decode, ProjectionError};

/// One project as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectSummary {
    pub id: String,
    pub name: String,
    pub programme_id: String,
    pub programme_version: u32,
    pub jurisdiction: String,
    pub stage: Stage,
    pub stage_label: &'static str,
    pub suspended: bool,
    pub registered_on: Option<NaiveDate>,
    pub approved: Fen,
    pub paid: Fen,
    pub clawback_outstanding: Fen,
    pub version: i64,
    pub last_recorded_at: DateTime<Utc>,
}

/// Every project's state, caught up to `position`.
#[derive(Debug, Default, Clone)]
pub struct ProjectsView {
    projects: BTreeMap<String, (SubsidyProject, i64, DateTime<Utc>)>,
    position: i64,
}

impl ProjectsView {
    /// Builds the view from the whole store.
    pub async fn load(store: &Store) -> Result<Self, ProjectionError> {
        let mut view = Self::default();
        view.catch_up(store).await?;
        Ok(view)
    }

    /// Reads every event after the last one seen, in position order.
    pub async fn catch_up(&mut self, store: &Store) -> Result<(), ProjectionError> {
        crate::catch_up(self, store).await
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.projects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    pub fn state(&self, id: &str) -> Option<(&SubsidyProject, i64)> {
        self.projects.get(id).map(|(p, v, _)| (p, *v))
    }

    pub fn summary(&self, id: &str) -> Option<ProjectSummary> {
        self.projects
            .get(id)
            .map(|(p, v, at)| summarize(id, p, *v, *at))
    }

    /// All projects, ordered by jurisdiction then name.
    pub fn summaries(&self) -> Vec<ProjectSummary> {
        let mut all: Vec<ProjectSummary> = self
            .projects
            .iter()
            .map(|(id, (p, v, at))| summarize(id, p, *v, *at))
            .collect();
        all.sort_by(|a, b| {
            (a.jurisdiction.as_str(), a.name.as_str(), a.id.as_str()).cmp(&(
                b.jurisdiction.as_str(),
                b.name.as_str(),
                b.id.as_str(),
            ))
        });
        all
    }
}

impl crate::Projection for ProjectsView {
    fn position(&self) -> i64 {
        self.position
    }

    fn apply(&mut self, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.position = self.position.max(event.global_position);
        if event.aggregate_type != SubsidyProject::TYPE {
            return Ok(());
        }
        let decoded = decode(event)?;
        let entry = self
            .projects
            .entry(event.aggregate_id.clone())
            .or_insert_with(|| (SubsidyProject::default(), 0, event.recorded_at));
        entry.0.apply(decoded);
        entry.1 = event.sequence;
        entry.2 = event.recorded_at;
        Ok(())
    }
}

fn summarize(id: &str, p: &SubsidyProject, version: i64, at: DateTime<Utc>) -> ProjectSummary {
    ProjectSummary {
        id: id.to_string(),
        name: p.name.clone(),
        programme_id: p.programme_id.clone(),
        programme_version: p.programme_version,
        jurisdiction: p
            .jurisdiction
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default(),
        stage: p.stage,
        stage_label: p.stage.label_zh(),
        suspended: p.suspended.is_some(),
        registered_on: p.registered_on,
        approved: p.total_approved(),
        paid: p.total_paid(),
        clawback_outstanding: p.clawback_outstanding(),
        version,
        last_recorded_at: at,
    }
}
