//! A project's history as an auditor reads it: every event in order with who recorded it,
//! when, on what evidence, and the hashes that chain it to its predecessor.

use chrono::{DateTime, Utc};
use domain::{DocumentRef, ProjectEvent};
use serde::Serialize;
use store::StoredEvent;

use crate::{decode, ProjectionError};

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub sequence: i64,
    pub global_position: i64,
    pub event_type: String,
    pub event_version: String,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub evidence: Vec<DocumentRef>,
    pub summary: String,
    pub payload: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The history of one project with the verdict of the hash chain check.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub aggregate_id: String,
    pub entries: Vec<HistoryEntry>,
    /// `None` when the chain verifies; otherwise what is wrong.
    pub chain_violation: Option<String>,
}

pub fn history(aggregate_id: &str, events: &[StoredEvent]) -> Result<History, ProjectionError> {
    let mut entries = Vec::with_capacity(events.len());
    for e in events {
        let decoded = decode(e)?;
        let meta = |k: &str| {
            e.metadata
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let evidence: Vec<DocumentRef> =
            serde_json::from_str(&meta(domain::types::metadata_keys::EVIDENCE)).unwrap_or_default();
        entries.push(HistoryEntry {
            sequence: e.sequence,
            global_position: e.global_position,
            event_type: e.event_type.clone(),
            event_version: e.event_version.clone(),
            recorded_at: e.recorded_at,
            actor: meta(domain::types::metadata_keys::ACTOR),
            evidence,
            summary: describe(&decoded),
            payload: e.payload.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        });
    }
    Ok(History {
        aggregate_id: aggregate_id.to_string(),
        entries,
        chain_violation: store::verify_chain(events).err().map(|v| v.to_string()),
    })
}

/// One line, in Chinese, saying what an event means.
pub fn describe(event: &ProjectEvent) -> String {
    use ProjectEvent as E;
    match event {
        E::ProjectRegistered {
            name,
            programme_id,
            programme_version,
            jurisdiction,
            ..
        } => {
            format!("项目登记：{name}（{programme_id}@v{programme_version}，区划 {jurisdiction}）")
        }
        E::PlanSubmitted { revision, .. } => format!("申报工作推进方案（第 {revision} 稿）"),
        E::PlanApproved { comment, .. } => format!("方案审核通过 {comment}").trim().to_string(),
        E::PlanReturned { reasons, .. } => format!("方案退回修改：{}", reasons.join("；")),
        E::ConstructionEntityDesignated { entity } => {
            format!("确定建设主体：{}（{}）", entity.name, entity.credit_code)
        }
        E::NoticePublished {
            starts_on, ends_on, ..
        } => format!("项目公示 {starts_on} 至 {ends_on}"),
        E::ObjectionRaised {
            objection_id,
            summary,
            ..
        } => format!("收到异议 {objection_id}：{summary}"),
        E::ObjectionResolved {
            objection_id,
            outcome,
            ..
        } => format!(
            "异议 {objection_id} 处理完毕（{}）",
            match outcome {
                domain::ObjectionOutcome::Dismissed => "不成立",
                domain::ObjectionOutcome::Upheld => "成立，已整改",
            }
        ),
        E::NoticeClosed { closed_on } => format!("公示结束（{closed_on}），进入建设实施"),
        E::ProgressReportSubmitted {
            period,
            reported_on,
            ..
        } => format!("报送进展情况：{period}（{reported_on}）"),
        E::AcceptanceRequested { requested_on } => format!("申请考核验收（{requested_on}）"),
        E::AcceptancePassed { inspector, .. } => format!("考核验收通过（验收人：{inspector}）"),
        E::AcceptanceFailed { rectification, .. } => format!(
            "考核验收未通过，整改 {} 项：{}",
            rectification.len(),
            rectification
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("；")
        ),
        E::PerformanceEvaluated { total, grade, .. } => {
            format!("绩效评价：{total} 分，等级 {}", grade.label_zh())
        }
        E::FundsApproved { source, amount, .. } => {
            format!("批复{}资金 {amount}", source.label_zh())
        }
        E::TrancheDisbursed {
            source,
            tranche,
            amount,
            ..
        } => format!("拨付{}资金第 {tranche} 笔 {amount}", source.label_zh()),
        E::FundsSettled { source, amount, .. } => {
            format!("{}资金清算 {amount}", source.label_zh())
        }
        E::ClawbackOrdered {
            source,
            amount,
            reason,
            ..
        } => format!("责令追回{}资金 {amount}：{reason}", source.label_zh()),
        E::ClawbackSettled { source, amount, .. } => {
            format!("追回{}资金到账 {amount}", source.label_zh())
        }
        E::ProjectSuspended { reason, .. } => format!("项目暂停：{reason}"),
        E::ProjectResumed { resumed_on } => format!("项目恢复（{resumed_on}）"),
        E::ProjectTerminated { reason, .. } => format!("项目终止：{reason}"),
        E::ProjectClosed { closed_on } => format!("项目结项（{closed_on}）"),
        E::OfficialAssigned { role, official } => {
            format!(
                "指定{}：{}（{}）",
                role.label_zh(),
                official.name,
                official.post
            )
        }
        E::DeadlineExtended {
            deadline_id, until, ..
        } => format!("期限 {deadline_id} 延期至 {until}"),
    }
}
