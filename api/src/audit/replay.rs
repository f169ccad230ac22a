//! Rule replay for `audit verify`: every recorded event is turned back into the command that
//! produced it and handed to the aggregate (`SubsidyProject::decide`) in the state before it,
//! under the programme version the project was registered under. An event the rules refuse, or
//! one that differs from what the rules would have recorded, is a problem naming the project,
//! the sequence and the rule.
//!
//! A command can record several events (`TerminateProject`: its clawback orders, then the
//! termination); the events of a project wait in a queue until the whole group is there.

use std::collections::{HashMap, VecDeque};

use domain::commands::ClawbackLine;
use domain::{ProjectCommand as C, ProjectEvent as E, ProjectServices, SubsidyProject};

use super::verify::Problem;

struct Queued {
    line: u64,
    sequence: i64,
    event: E,
    command: String,
}

#[derive(Default)]
struct ProjectReplay {
    state: SubsidyProject,
    queue: VecDeque<Queued>,
    /// After a refusal the rest of the project is not judged (its state is unknown).
    stopped: bool,
}

/// Replays the events of every project as they are fed, in file order.
pub struct Replayer {
    services: ProjectServices,
    projects: HashMap<String, ProjectReplay>,
    pub problems: Vec<Problem>,
    pub replayed: u64,
    /// Whether events are replayed at all.
    pub enabled: bool,
}

impl Replayer {
    pub fn new(services: ProjectServices) -> Self {
        Self {
            services,
            projects: HashMap::new(),
            problems: Vec::new(),
            replayed: 0,
            enabled: true,
        }
    }

    /// One event line: its project, sequence, payload and metadata `command`.
    pub fn feed(
        &mut self,
        line: u64,
        project: &str,
        sequence: i64,
        payload: &serde_json::Value,
        command: &str,
    ) {
        let event: E = match serde_json::from_value(payload.clone()) {
            Ok(e) => e,
            Err(e) => {
                self.problems.push(problem(
                    line,
                    project,
                    sequence,
                    format!("the payload is not an event of this engine ({e})"),
                ));
                self.projects
                    .entry(project.to_string())
                    .or_default()
                    .stopped = true;
                return;
            }
        };
        let entry = self.projects.entry(project.to_string()).or_default();
        if entry.stopped {
            return;
        }
        entry.queue.push_back(Queued {
            line,
            sequence,
            event,
            command: command.to_string(),
        });
        self.pump(project, false);
    }

    /// The end of the file: judges what is still queued.
    pub fn finish(&mut self) {
        let ids: Vec<String> = self.projects.keys().cloned().collect();
        for id in ids {
            self.pump(&id, true);
        }
    }

    fn pump(&mut self, project: &str, eof: bool) {
        loop {
            let services = &self.services;
            let Some(p) = self.projects.get_mut(project) else {
                return;
            };
            if p.stopped || p.queue.is_empty() {
                return;
            }
            // The command of the event at the head of the queue, and how many events it spans.
            let head = &p.queue[0];
            let command = if head.command == "TerminateProject"
                && matches!(
                    head.event,
                    E::ClawbackOrdered { .. } | E::ProjectTerminated { .. }
                ) {
                let Some(end) = p
                    .queue
                    .iter()
                    .position(|q| matches!(q.event, E::ProjectTerminated { .. }))
                else {
                    if eof {
                        let (line, sequence) = (head.line, head.sequence);
                        p.stopped = true;
                        self.problems.push(problem(
                            line,
                            project,
                            sequence,
                            "a clawback ordered by a termination, but no termination follows"
                                .to_string(),
                        ));
                    }
                    return;
                };
                let mut clawbacks = Vec::new();
                for q in p.queue.iter().take(end) {
                    if let E::ClawbackOrdered { source, amount, .. } = &q.event {
                        clawbacks.push(ClawbackLine {
                            source: *source,
                            amount: *amount,
                        });
                    }
                }
                let E::ProjectTerminated {
                    terminated_on,
                    reason,
                } = &p.queue[end].event
                else {
                    unreachable!("found above")
                };
                C::TerminateProject {
                    terminated_on: *terminated_on,
                    reason: reason.clone(),
                    clawbacks,
                }
            } else {
                domain::replay::command_of(&head.event)
            };
            let (line, sequence) = (head.line, head.sequence);
            match p.state.decide(command, services) {
                Err(e) => {
                    p.stopped = true;
                    self.problems.push(problem(
                        line,
                        project,
                        sequence,
                        format!("the rules refuse this event ({}): {e}", e.code()),
                    ));
                    return;
                }
                Ok(events) => {
                    if p.queue.len() < events.len() {
                        if eof {
                            p.stopped = true;
                            self.problems.push(problem(
                                line,
                                project,
                                sequence,
                                format!("the rules record {} events for this command, but the file ends before them", events.len()),
                            ));
                        }
                        return;
                    }
                    for (i, expected) in events.iter().enumerate() {
                        if &p.queue[i].event != expected {
                            let q = &p.queue[i];
                            let (line, sequence) = (q.line, q.sequence);
                            p.stopped = true;
                            self.problems.push(problem(
                                line,
                                project,
                                sequence,
                                format!(
                                    "the rules would have recorded {}, not what the file holds",
                                    serde_json::to_string(expected).unwrap_or_default()
                                ),
                            ));
                            return;
                        }
                    }
                    for event in events {
                        p.queue.pop_front();
                        cqrs_es::Aggregate::apply(&mut p.state, event);
                        self.replayed += 1;
                    }
                }
            }
        }
    }
}

fn problem(line: u64, project: &str, sequence: i64, what: String) -> Problem {
    Problem {
        line: Some(line),
        project: Some(project.to_string()),
        sequence: Some(sequence),
        what,
    }
}
