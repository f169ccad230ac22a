//! Crafted histories for the compliance report (`api::audit::check`): seven invented projects
//! of the Yiyuan 2021 programme (370323), each breaking exactly one rule, written to the store
//! *behind the engine's back* (through the chained repository, so every hash and link is
//! right, but no rule of the aggregate is asked), as an imported past would be. Each project
//! ends (terminated or closed) before any other deadline falls due, so the findings are the
//! same on any check day from 2021-03-15 on.

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::DomainEvent;
use domain::commands::IndicatorScore;
use domain::events::InspectedItem;
use domain::{CommandContext, Fen, JurisdictionCode, ProjectEvent as E, SubsidyProject};
use workflows::programme::{FundSource, Grade};

/// One finding the crafted histories must give: project, kind id, deadline id, the sequences
/// of the proving events, working days late.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub project: String,
    pub kind: &'static str,
    pub deadline_id: Option<String>,
    pub sequences: Vec<i64>,
    pub working_days_late: Option<u32>,
}

fn d(month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2021, month, day).unwrap()
}

fn registered(name: &str) -> E {
    E::ProjectRegistered {
        name: name.to_string(),
        programme_id: domain::fixtures::VILLAGES_2021.to_string(),
        programme_version: 1,
        jurisdiction: JurisdictionCode::parse("370323").unwrap(),
        description: "导入的历史数据（测试）".to_string(),
        registered_on: d(3, 1),
    }
}

fn plan() -> E {
    E::PlanSubmitted {
        revision: 1,
        submitted_on: d(3, 1),
        form: serde_json::json!({}),
    }
}

fn approve(amount: i64) -> E {
    E::FundsApproved {
        source: FundSource::City,
        amount: Fen(amount),
        approved_on: d(3, 1),
    }
}

/// A notice from 2021-03-01 (a Monday) to 2021-03-`ends`: five working days, counted from the
/// next day (the programme's civil count), end on 2021-03-08, so the notice may close from
/// 2021-03-09.
fn notice(ends: u32) -> E {
    E::NoticePublished {
        starts_on: d(3, 1),
        ends_on: d(3, ends),
        channel: "县人民政府网站".to_string(),
    }
}

fn tranche(n: u32, amount: i64, on: u32) -> E {
    E::TrancheDisbursed {
        source: FundSource::City,
        tranche: n,
        amount: Fen(amount),
        paid_on: d(3, on),
    }
}

fn terminated(on: u32) -> E {
    E::ProjectTerminated {
        terminated_on: d(3, on),
        reason: "历史数据导入：项目已终止".to_string(),
    }
}

/// Appends `events` as project `id`'s whole history, bypassing the aggregate.
pub async fn write_history(store: &store::Store, id: &str, events: &[E]) {
    let metadata = CommandContext::new("importer.test").to_metadata("ImportHistory");
    let rows: Vec<SerializedEvent> = events
        .iter()
        .enumerate()
        .map(|(i, e)| SerializedEvent {
            aggregate_id: id.to_string(),
            sequence: i + 1,
            aggregate_type: "SubsidyProject".to_string(),
            event_type: e.event_type(),
            event_version: e.event_version(),
            payload: serde_json::to_value(e).unwrap(),
            metadata: serde_json::to_value(&metadata).unwrap(),
        })
        .collect();
    store
        .repository()
        .persist::<SubsidyProject>(&rows, None)
        .await
        .expect("the crafted history is stored");
}

/// Writes the seven crafted projects and returns the findings they must give.
pub async fn write_crafted_histories(store: &store::Store) -> Vec<Expected> {
    let expect = |project: &str, kind, deadline: Option<&str>, seqs: &[i64], late| Expected {
        project: project.to_string(),
        kind,
        deadline_id: deadline.map(str::to_string),
        sequences: seqs.to_vec(),
        working_days_late: late,
    };
    let mut out = Vec::new();

    // Paid after a notice that was closed with an objection still open.
    let id = "crafted-payment-before-notice";
    write_history(
        store,
        id,
        &[
            registered("导入项目（公示未了即拨款）"),
            plan(),
            approve(100_000),
            notice(8),
            E::ObjectionRaised {
                objection_id: "YY-9".to_string(),
                raised_on: d(3, 2),
                raised_by: "村民代表（匿名）".to_string(),
                summary: "选址有异议".to_string(),
            },
            E::NoticeClosed { closed_on: d(3, 9) },
            tranche(1, 40_000, 9),
            terminated(9),
        ],
    )
    .await;
    out.push(expect(
        id,
        "payment_before_notice_closed",
        None,
        &[4, 5, 6, 7],
        None,
    ));

    // Settled without any inspection.
    let id = "crafted-settlement-before-acceptance";
    write_history(
        store,
        id,
        &[
            registered("导入项目（未验收即清算）"),
            plan(),
            approve(100_000),
            notice(8),
            E::NoticeClosed { closed_on: d(3, 9) },
            E::FundsSettled {
                source: FundSource::City,
                amount: Fen(100_000),
                settled_on: d(3, 9),
            },
            terminated(9),
        ],
    )
    .await;
    out.push(expect(id, "settlement_before_acceptance", None, &[6], None));

    // Two tranches that together exceed the approval.
    let id = "crafted-payment-above-approval";
    write_history(
        store,
        id,
        &[
            registered("导入项目（超批复拨款）"),
            plan(),
            approve(100_000),
            notice(8),
            E::NoticeClosed { closed_on: d(3, 9) },
            tranche(1, 60_000, 9),
            tranche(2, 50_000, 9),
            terminated(9),
        ],
    )
    .await;
    out.push(expect(
        id,
        "payment_exceeds_approval",
        None,
        &[3, 6, 7],
        None,
    ));

    // Evaluated 差, half the clawback recovered, closed anyway.
    let id = "crafted-poor-evaluation";
    write_history(
        store,
        id,
        &[
            registered("导入项目（绩效差未追回）"),
            plan(),
            approve(100_000),
            notice(8),
            E::NoticeClosed { closed_on: d(3, 9) },
            tranche(1, 60_000, 9),
            E::AcceptanceRequested {
                requested_on: d(3, 9),
            },
            E::AcceptancePassed {
                inspected_on: d(3, 9),
                inspector: "县商务局验收组".to_string(),
                results: vec![InspectedItem {
                    item_id: "signage".to_string(),
                    passed: true,
                    measured: None,
                    note: String::new(),
                }],
            },
            E::PerformanceEvaluated {
                evaluated_on: d(3, 9),
                scores: vec![IndicatorScore {
                    indicator_id: "coverage".to_string(),
                    score: 40,
                }],
                total: 40,
                grade: Grade::Poor,
            },
            E::ClawbackOrdered {
                source: FundSource::City,
                amount: Fen(60_000),
                ordered_on: d(3, 9),
                reason: "绩效评价等级为差".to_string(),
            },
            E::ClawbackSettled {
                source: FundSource::City,
                amount: Fen(30_000),
                settled_on: d(3, 9),
            },
            E::ProjectClosed { closed_on: d(3, 9) },
        ],
    )
    .await;
    out.push(expect(
        id,
        "poor_evaluation_without_settled_clawback",
        None,
        &[6, 9, 10, 11, 12],
        None,
    ));

    // A notice of two working days counted from the day after its start (the programme asks
    // for five).
    let id = "crafted-short-notice";
    write_history(
        store,
        id,
        &[
            registered("导入项目（公示期不足）"),
            plan(),
            notice(3),
            E::NoticeClosed { closed_on: d(3, 3) },
            terminated(3),
        ],
    )
    .await;
    out.push(expect(
        id,
        "notice_shorter_than_minimum",
        None,
        &[1, 3],
        None,
    ));

    // The work plan, due 5 working days after registration (2021-03-08), submitted on
    // 2021-03-10: 2 working days late. The officials list, due the same day and met by the
    // same submission, was extended to 2021-03-31: not late.
    let id = "crafted-late-plan";
    write_history(
        store,
        id,
        &[
            registered("导入项目（方案逾期）"),
            E::DeadlineExtended {
                deadline_id: "officials-list".to_string(),
                until: d(3, 31),
                reason: "名单待调整".to_string(),
            },
            E::PlanSubmitted {
                revision: 1,
                submitted_on: d(3, 10),
                form: serde_json::json!({}),
            },
            terminated(10),
        ],
    )
    .await;
    out.push(expect(
        id,
        "deadline_missed",
        Some("work-plan"),
        &[1, 3],
        Some(2),
    ));

    // Reports are due before the 10th and the 20th (the programme's slots fall on the 9th and
    // the 19th) from the plan's approval; none was filed for 2021-03-09, and the project ended
    // on 2021-03-15, 4 working days later.
    let id = "crafted-missing-report";
    write_history(
        store,
        id,
        &[
            registered("导入项目（未报送调度）"),
            plan(),
            E::PlanApproved {
                reviewed_on: d(3, 2),
                comment: "同意".to_string(),
            },
            terminated(15),
        ],
    )
    .await;
    out.push(expect(
        id,
        "report_not_filed",
        Some("progress@2021-03-09"),
        &[3, 4],
        Some(4),
    ));
    out.sort();
    out
}
