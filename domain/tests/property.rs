//! Property test: any sequence of commands leaves the project in a state reachable through the
//! transition table, never breaks finance discipline, and replaying the accepted events gives
//! the same state.

use chrono::Days;
use cqrs_es::Aggregate;
use domain::commands::{
    ChecklistResult, ClawbackLine, IndicatorScore, ObjectionOutcome, ReviewDecision,
};
use domain::fixtures::*;
use domain::stage::{allows, transition};
use domain::{Fen, JurisdictionCode, ProjectCommand as C, ProjectServices, Stage, SubsidyProject};
use proptest::prelude::*;
use workflows::programme::{FundSource, OfficialRole, ProgrammeRegistry, Requirement};

const SOURCES: [FundSource; 3] = [FundSource::Province, FundSource::City, FundSource::County];
const AMOUNTS: [i64; 5] = [0, 1, 10_000_000, 50_000_000, 60_000_000];

/// Builds a concrete command from generated choices. Most commands are well-formed so that
/// sequences get deep into the lifecycle; amounts, sources and verdicts vary.
fn command(programme: &str, choice: (u8, u8, u8, u8), day: u64) -> C {
    let (which, a, b, c) = choice;
    let registry = ProgrammeRegistry::builtin();
    let p = registry.get(programme, 1).unwrap();
    // Every date from the day the programme's application window opens.
    let on = p
        .application_window
        .opens_on
        .checked_add_days(Days::new(day))
        .unwrap();
    let source = SOURCES[a as usize % 3];
    let amount = Fen(AMOUNTS[b as usize % AMOUNTS.len()]);
    match which % 23 {
        0 => C::RegisterProject {
            name: "示例项目".to_string(),
            programme_id: programme.to_string(),
            programme_version: 1,
            jurisdiction: JurisdictionCode::parse("370323").unwrap(),
            description: String::new(),
            registered_on: on,
        },
        1 => C::SubmitPlan {
            submitted_on: on,
            form: plan_form(
                programme,
                if programme == LOCKERS_2017 {
                    "威海市"
                } else {
                    "示例镇"
                },
                on,
            ),
        },
        2 => C::ReviewPlan {
            reviewed_on: on,
            decision: if a % 3 == 0 {
                ReviewDecision::Return {
                    reasons: vec!["补充材料".to_string()],
                }
            } else {
                ReviewDecision::Approve {
                    comment: String::new(),
                }
            },
        },
        3 => C::DesignateConstructionEntity {
            entity: entity("示例建设主体"),
        },
        4 => C::PublishNotice {
            starts_on: on,
            ends_on: on.checked_add_days(Days::new(7 + (c as u64 % 10))).unwrap(),
            channel: "政府网站".to_string(),
        },
        5 => C::RaiseObjection {
            objection_id: format!("O{}", a % 3),
            raised_on: on,
            raised_by: "群众".to_string(),
            summary: "异议".to_string(),
        },
        6 => C::ResolveObjection {
            objection_id: format!("O{}", a % 3),
            resolved_on: on,
            outcome: if b % 2 == 0 {
                ObjectionOutcome::Dismissed
            } else {
                ObjectionOutcome::Upheld
            },
            resolution: "已处理".to_string(),
        },
        7 => C::CloseNotice {
            closed_on: on.checked_add_days(Days::new(20)).unwrap(),
        },
        8 => C::SubmitProgressReport {
            period: format!("P{day}"),
            reported_on: on,
            form: progress_form(
                programme,
                if programme == LOCKERS_2017 {
                    "威海市"
                } else {
                    "示例镇"
                },
                "上半年",
                on,
                10,
            ),
        },
        9 => C::RequestAcceptance { requested_on: on },
        10 => C::RecordInspection {
            inspected_on: on,
            inspector: "验收组".to_string(),
            results: p
                .checklist()
                .iter()
                .map(|item| ChecklistResult {
                    item_id: item.id.clone(),
                    passed: Some(c % 4 != 0),
                    measured: match &item.requirement {
                        Requirement::AtLeast { min, .. } => {
                            Some(if c % 5 == 0 { min - 1 } else { *min })
                        }
                        Requirement::Check => None,
                    },
                    note: String::new(),
                })
                .collect(),
            rectify_by: None,
        },
        11 => C::EvaluatePerformance {
            evaluated_on: on,
            scores: p
                .evaluation
                .indicators
                .iter()
                .map(|i| IndicatorScore {
                    indicator_id: i.id.clone(),
                    score: i.max_score * (c as u32 % 101) / 100,
                })
                .collect(),
        },
        12 => C::ApproveFunds {
            source,
            amount,
            approved_on: on,
        },
        13 => C::DisburseTranche {
            source,
            amount,
            paid_on: on,
        },
        14 => C::SettleFunds {
            source,
            amount,
            settled_on: on,
        },
        15 => C::OrderClawback {
            source,
            amount,
            ordered_on: on,
            reason: "审计发现".to_string(),
        },
        16 => C::SettleClawback {
            source,
            amount,
            settled_on: on,
        },
        17 => C::SuspendProject {
            suspended_on: on,
            reason: "暂停".to_string(),
        },
        18 => C::ResumeProject { resumed_on: on },
        19 => C::TerminateProject {
            terminated_on: on,
            reason: "终止".to_string(),
            clawbacks: if c % 2 == 0 {
                vec![]
            } else {
                vec![ClawbackLine { source, amount }]
            },
        },
        20 => C::CloseProject { closed_on: on },
        21 => C::AssignOfficial {
            role: if a % 2 == 0 {
                OfficialRole::Liaison
            } else {
                OfficialRole::OfficialInCharge
            },
            official: official("示例人", "科长", "someone@example.org"),
        },
        _ => C::ExtendDeadline {
            deadline_id: "x".to_string(),
            until: on,
            reason: "延期".to_string(),
        },
    }
}

fn check_finance(p: &SubsidyProject) {
    for (source, l) in &p.funds {
        assert!(
            l.paid <= l.approved,
            "{source:?}: paid {} above approved {}",
            l.paid,
            l.approved
        );
        assert!(
            l.clawback_ordered <= l.paid,
            "{source:?}: clawback above paid"
        );
        assert!(
            l.clawback_recovered <= l.clawback_ordered,
            "{source:?}: recovered above ordered"
        );
    }
    if p.total_paid() > Fen::ZERO {
        // Money was paid, so the notice must have closed clean at some point.
        assert!(
            p.notice.as_ref().is_some_and(|n| n.closed_on.is_some()),
            "money paid before the notice closed"
        );
    }
}

fn run(programme: &str, choices: Vec<(u8, u8, u8, u8)>) {
    let services = ProjectServices::new(ProgrammeRegistry::builtin());
    let mut state = SubsidyProject::default();
    let mut log = Vec::new();
    // Start registered most of the time so that sequences explore the lifecycle.
    let mut all = vec![(0u8, 0u8, 0u8, 0u8)];
    all.extend(choices);
    for (day, choice) in all.into_iter().enumerate() {
        let cmd = command(programme, choice, day as u64 * 3);
        let kind = cmd.kind();
        let before = state.clone();
        match state.decide(cmd, &services) {
            Ok(events) => {
                let row = transition(kind);
                if before.suspended.is_some() {
                    assert!(row.while_suspended, "{kind:?} accepted while suspended");
                }
                if before.stage == Stage::Terminated {
                    assert_eq!(
                        kind,
                        domain::CommandKind::SettleClawback,
                        "terminated project accepted {kind:?}"
                    );
                }
                for e in events {
                    state.apply(e.clone());
                    log.push(e);
                }
                if kind == domain::CommandKind::CloseProject {
                    // A clawback may still be ordered after closing (an audit finding), but no
                    // project closes while one is outstanding.
                    assert_eq!(
                        state.clawback_outstanding(),
                        Fen::ZERO,
                        "closed with clawback outstanding"
                    );
                }
                assert!(
                    allows(kind, before.stage, state.stage),
                    "{kind:?} moved {:?} → {:?}, not in the table",
                    before.stage,
                    state.stage
                );
            }
            Err(_) => assert_eq!(state, before, "a refused command changed the state"),
        }
        check_finance(&state);
    }
    let mut replayed = SubsidyProject::default();
    for e in log.clone() {
        replayed.apply(e);
    }
    assert_eq!(
        replayed, state,
        "replaying the events gives a different state"
    );
    // And through the stored form: events survive serialisation unchanged.
    let json = serde_json::to_string(&log).unwrap();
    let back: Vec<domain::ProjectEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, log);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_command_sequence_stays_within_the_table_and_replays_identically(
        programme in prop::sample::select(vec![LOCKERS_2017, VILLAGES_2021, LOCKERS_2025]),
        choices in prop::collection::vec((0u8..23, any::<u8>(), any::<u8>(), any::<u8>()), 0..80),
    ) {
        run(programme, choices);
    }

    /// Sequences biased along the happy path reach the late stages, where the finance rules bite.
    #[test]
    fn lifecycle_biased_sequences_keep_finance_discipline(
        programme in prop::sample::select(vec![VILLAGES_2021, LOCKERS_2025]),
        noise in prop::collection::vec((0u8..23, any::<u8>(), any::<u8>(), any::<u8>()), 0..40),
        seed in any::<u8>(),
    ) {
        let source = if programme == VILLAGES_2021 { 1u8 } else { 2u8 };
        let mut choices: Vec<(u8, u8, u8, u8)> = vec![
            (1, 0, 0, 0), (2, 1, 0, 0), (3, 0, 0, 0), (12, source, 3, 0), (4, 0, 0, 0), (7, 0, 0, 0),
            (13, source, 2, 0), (8, 0, 0, 0), (9, 0, 0, 0), (10, 0, 0, 1), (14, source, 2, 0),
            (11, 0, 0, seed), (15, source, 2, 0), (16, source, 2, 0), (20, 0, 0, 0),
        ];
        for (i, n) in noise.into_iter().enumerate() {
            let at = (i * 7 + seed as usize) % (choices.len() + 1);
            choices.insert(at, n);
        }
        run(programme, choices);
    }
}
