//! `subsidy audit verify-store`: the checks of `audit verify` on the live database. Reads every
//! event once by position and reports, per project and sequence: an event whose content no
//! longer matches its hash (an `UPDATE` behind the engine's back), a broken link or a gap in the
//! sequences (a deleted or inserted row), positions out of order, and every digest leaf that
//! the store no longer matches (a rewritten or truncated history, even with recomputed hashes).
//! The digests' signatures are checked with the installation's public key.

use std::collections::{BTreeMap, HashMap};

use store::Store;

use super::digest::{self, DigestError, PROJECT_TYPE};
use super::key::verify_hex;
use super::verify::Problem;
use crate::http::db::Db;

/// What `verify_store` looked at and found.
#[derive(Debug, Default)]
pub struct StoreReport {
    pub events: u64,
    pub projects: u64,
    pub digests: usize,
    pub problems: Vec<Problem>,
}

fn problem(project: &str, sequence: Option<i64>, what: String) -> Problem {
    Problem {
        line: None,
        project: Some(project.to_string()),
        sequence,
        what,
    }
}

#[derive(Default)]
struct Chain {
    sequence: i64,
    hash: String,
    position: i64,
}

/// Verifies the whole store; `public` is the installation's key (digest signatures).
pub async fn verify_store(
    store: &Store,
    public: &ed25519_dalek::VerifyingKey,
    mut progress: impl FnMut(i64, i64),
) -> Result<StoreReport, DigestError> {
    let mut report = StoreReport::default();
    let db = Db::of(store);
    let digests = digest::list(&db).await?;
    report.digests = digests.len();
    for d in &digests {
        if !verify_hex(public, d.signed_message().as_bytes(), &d.signature) {
            report.problems.push(Problem {
                line: None,
                project: None,
                sequence: None,
                what: format!(
                    "digest #{}: its signature does not verify with the installation's key",
                    d.id
                ),
            });
        }
    }
    let leaves = match digests.last() {
        Some(last) => digest::leaves(&db, last.tree_size).await?,
        None => Vec::new(),
    };
    if let Some(last) = digests.last() {
        let hashes: Vec<store::merkle::Hash> = leaves.iter().map(digest::Leaf::hash).collect();
        if store::merkle::to_hex(&store::merkle::root(&hashes)) != last.root {
            report.problems.push(Problem {
                line: None,
                project: None,
                sequence: None,
                what: format!("the stored digest leaves no longer give digest #{}'s signed root: the digest table was altered", last.id),
            });
        }
    }
    let mut wanted: HashMap<(String, i64), Vec<usize>> = HashMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        wanted
            .entry((leaf.project_id.clone(), leaf.sequence))
            .or_default()
            .push(i);
    }
    let mut found: HashMap<usize, String> = HashMap::new();
    let head = store.last_position().await?;
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.read_all(after, 2000).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        progress(after, head);
        for event in page {
            if event.aggregate_type != PROJECT_TYPE {
                continue;
            }
            report.events += 1;
            let project = event.aggregate_id.clone();
            let seq = Some(event.sequence);
            let computed = store::stored_event_hash(&event);
            if computed != event.hash {
                report.problems.push(problem(
                    &project,
                    seq,
                    format!("the stored event was altered: its content hashes to {computed}, but {} is recorded", event.hash),
                ));
            }
            let chain = chains.entry(project.clone()).or_default();
            if event.sequence != chain.sequence + 1 {
                report.problems.push(problem(
                    &project,
                    seq,
                    format!(
                        "expected event #{} next, found #{}: a row was deleted or inserted",
                        chain.sequence + 1,
                        event.sequence
                    ),
                ));
            } else {
                let expected = if chain.sequence == 0 {
                    store::GENESIS_HASH
                } else {
                    chain.hash.as_str()
                };
                if event.prev_hash != expected {
                    report.problems.push(problem(
                        &project,
                        seq,
                        format!("prev_hash is {}, but the event before it hashes to {expected}: the chain is broken", event.prev_hash),
                    ));
                }
            }
            if chain.position > event.global_position {
                report.problems.push(problem(
                    &project,
                    seq,
                    "its global position is before the previous event's".to_string(),
                ));
            }
            if let Some(indices) = wanted.get(&(project.clone(), event.sequence)) {
                for i in indices {
                    found.insert(*i, event.hash.clone());
                }
            }
            chain.sequence = event.sequence;
            chain.hash = event.hash.clone();
            chain.position = event.global_position;
        }
    }
    report.projects = chains.len() as u64;
    for (i, leaf) in leaves.iter().enumerate() {
        match found.get(&i) {
            None => report.problems.push(problem(
                &leaf.project_id,
                Some(leaf.sequence),
                format!("digest #{} signed this event as the project's head, but the store no longer holds it: events were deleted", leaf.digest_id),
            )),
            Some(hash) if hash != &leaf.head_hash => report.problems.push(problem(
                &leaf.project_id,
                Some(leaf.sequence),
                format!("digest #{} signed head hash {}, but the stored event hashes to {hash}: the history was rewritten after the digest", leaf.digest_id, leaf.head_hash),
            )),
            Some(_) => {}
        }
    }
    Ok(report)
}
