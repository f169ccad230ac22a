//! `subsidy audit verify FILE [--key PUBKEY]`: checks an export with no database and no server.
//!
//! Reads the file once, line by line, and reports every problem with the line, the project and
//! the event's sequence: the signature over the whole file (and, with `--key`, that it is the
//! published key), that every line is in canonical form, every event's hash, every chain link,
//! sequences without gaps from 1, positions strictly increasing and inside the manifest's range,
//! the manifest's counts and chain heads, each programme definition's hash, each digest's
//! signature, the consistency of every digest with the last, and each inclusion proof (whose
//! leaf must be the exported event's hash at that sequence); and it replays every event through
//! the aggregate under its programme version ([`super::replay`]), naming each the rules refuse.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde_json::Value;
use sha2::{Digest, Sha256};
use store::merkle;

use super::digest::leaf_bytes;
use super::export::{canonical, programme_hash, signed_message, Manifest, FORMAT};
use super::key::{fingerprint, parse_public, verify_hex};

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file (`None` for the file as a whole).
    pub line: Option<u64>,
    pub project: Option<String>,
    pub sequence: Option<i64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut place = Vec::new();
        if let Some(line) = self.line {
            place.push(format!("line {line}"));
        }
        if let Some(project) = &self.project {
            place.push(format!("project {project}"));
        }
        if let Some(sequence) = self.sequence {
            place.push(format!("event #{sequence}"));
        }
        if place.is_empty() {
            write!(f, "{}", self.what)
        } else {
            write!(f, "{}: {}", place.join(", "), self.what)
        }
    }
}

/// What verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub events: u64,
    pub projects: u64,
    pub digests: usize,
    /// Events replayed through the aggregate without objection.
    pub replayed: u64,
    /// `SHA256:` fingerprint of the key that signed the file (as the file says).
    pub signed_by: Option<String>,
    pub problems: Vec<Problem>,
}

impl Report {
    fn problem(
        &mut self,
        line: Option<u64>,
        project: Option<&str>,
        sequence: Option<i64>,
        what: impl Into<String>,
    ) {
        self.problems.push(Problem {
            line,
            project: project.map(str::to_string),
            sequence,
            what: what.into(),
        });
    }
}

/// Per project, what the event lines showed so far.
#[derive(Default)]
struct Chain {
    events: u64,
    sequence: i64,
    hash: String,
    broken: bool,
}

/// Verifies the export read from `reader`; `expected_key` is the published public key (hex).
/// `progress(bytes)` is called as the file is read.
pub fn verify(
    reader: impl BufRead,
    expected_key: Option<&str>,
    progress: impl FnMut(u64),
) -> Report {
    verify_with(reader, expected_key, true, progress)
}

/// [`verify`], with the rule replay optional (`replay: false` checks only the cryptography,
/// chains and manifest, e.g. to measure what the replay costs).
pub fn verify_with(
    reader: impl BufRead,
    expected_key: Option<&str>,
    replay: bool,
    mut progress: impl FnMut(u64),
) -> Report {
    let mut report = Report::default();
    let expected_key = match expected_key.map(parse_public).transpose() {
        Ok(k) => k,
        Err(e) => {
            report.problem(None, None, None, e.to_string());
            return report;
        }
    };
    let mut hasher = Sha256::new();
    let mut lines = reader.split(b'\n');
    let mut line_no = 1u64;
    let mut bytes = 0u64;

    // Line 1: the manifest.
    let manifest: Option<Manifest> = match lines.next() {
        None => {
            report.problem(None, None, None, "the file is empty");
            return report;
        }
        Some(Err(e)) => {
            report.problem(Some(1), None, None, format!("cannot be read: {e}"));
            return report;
        }
        Some(Ok(line)) => {
            bytes += line.len() as u64 + 1;
            hasher.update(&line);
            hasher.update(b"\n");
            match serde_json::from_slice::<Value>(&line) {
                Ok(v) if v.get("format").and_then(Value::as_str) == Some(FORMAT) => {
                    if canonical(&v) != line {
                        report.problem(
                            Some(1),
                            None,
                            None,
                            "the manifest is not in canonical (RFC 8785) form: it was edited",
                        );
                    }
                    match serde_json::from_value::<Manifest>(v["manifest"].clone()) {
                        Ok(m) => Some(m),
                        Err(e) => {
                            report.problem(
                                Some(1),
                                None,
                                None,
                                format!("the manifest is malformed: {e}"),
                            );
                            None
                        }
                    }
                }
                Ok(_) => {
                    report.problem(
                        Some(1),
                        None,
                        None,
                        format!("not a {FORMAT} file (line 1 has no such \"format\")"),
                    );
                    return report;
                }
                Err(e) => {
                    report.problem(Some(1), None, None, format!("line 1 is not JSON ({e})"));
                    return report;
                }
            }
        }
    };
    // The rules: the shipped programme definitions plus any other version the manifest carries.
    let mut registry = workflows::programme::ProgrammeRegistry::builtin();
    for p in manifest.iter().flat_map(|m| m.programmes.iter()) {
        if registry.get(&p.id, p.version).is_none() {
            let added = workflows::programme::ProgrammeRegistry::parse(
                &format!("{}@v{} in the manifest", p.id, p.version),
                &p.definition.to_string(),
            )
            .map_err(|e| e.to_string())
            .and_then(|programme| registry.insert(programme).map_err(|e| e.to_string()));
            if let Err(e) = added {
                report.problem(
                    Some(1),
                    None,
                    None,
                    format!(
                        "programme {}@v{} cannot be loaded for the replay: {e}",
                        p.id, p.version
                    ),
                );
            }
        }
    }
    let mut replayer = super::replay::Replayer::new(domain::ProjectServices::new(registry));
    replayer.enabled = replay;
    // Hashes the manifest's inclusion proofs need: (project, sequence) → the line's hash.
    let wanted: HashMap<(String, i64), ()> = manifest
        .iter()
        .flat_map(|m| m.inclusion.iter())
        .map(|i| ((i.leaf.project_id.clone(), i.leaf.sequence), ()))
        .collect();
    let mut found_at: HashMap<(String, i64), String> = HashMap::new();

    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let mut previous_position: Option<i64> = None;
    let (mut first_position, mut last_position) = (0i64, 0i64);
    // The line read last is held back: only at the end is it known to be the signature.
    let mut pending: Option<Vec<u8>> = None;
    for line in lines {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                report.problem(
                    Some(line_no + 1),
                    None,
                    None,
                    format!("cannot be read: {e}"),
                );
                return report;
            }
        };
        if let Some(previous) = pending.take() {
            hasher.update(&previous);
            hasher.update(b"\n");
            check_event(
                &previous,
                line_no,
                &mut report,
                &mut chains,
                &mut previous_position,
                (&mut first_position, &mut last_position),
                &wanted,
                &mut found_at,
                &mut replayer,
            );
        }
        line_no += 1;
        bytes += line.len() as u64 + 1;
        progress(bytes);
        pending = Some(line);
    }
    // `split` yields nothing after a final `\n`, so `pending` is the last line.
    let signature_line = pending;
    let digest_hex = hex::encode(hasher.finalize());
    match signature_line
        .as_deref()
        .and_then(|l| serde_json::from_slice::<Value>(l).ok())
        .and_then(|v| v.get("signature").cloned())
    {
        None => report.problem(
            Some(line_no),
            None,
            None,
            "the file does not end with a signature line: it was truncated or the signature removed",
        ),
        Some(sig) => {
            let text = |k: &str| sig.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let public = text("public_key");
            match parse_public(&public) {
                Err(e) => report.problem(Some(line_no), None, None, format!("the signature's public key: {e}")),
                Ok(key) => {
                    report.signed_by = Some(fingerprint(&key));
                    if let Some(expected) = &expected_key {
                        if expected != &key {
                            report.problem(
                                Some(line_no),
                                None,
                                None,
                                format!(
                                    "signed by key {} but the published key is {}: not signed by this installation",
                                    fingerprint(&key),
                                    fingerprint(expected)
                                ),
                            );
                        }
                    }
                    if text("sha256") != digest_hex {
                        report.problem(
                            Some(line_no),
                            None,
                            None,
                            format!(
                                "the file's content hashes to {digest_hex}, but {} was signed: lines were changed, added, removed or reordered",
                                text("sha256")
                            ),
                        );
                    }
                    if !verify_hex(&key, signed_message(&text("sha256")).as_bytes(), &text("value")) {
                        report.problem(Some(line_no), None, None, "the Ed25519 signature does not verify");
                    }
                    if let Some(m) = &manifest {
                        for d in &m.digests {
                            if d.digest.key_fingerprint != fingerprint(&key)
                                || !verify_hex(&key, d.digest.signed_message().as_bytes(), &d.digest.signature)
                            {
                                report.problem(
                                    Some(1),
                                    None,
                                    None,
                                    format!("digest #{}: its signature does not verify with the export's key", d.digest.id),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    replayer.finish();
    report.replayed = replayer.replayed;
    report.problems.append(&mut replayer.problems);
    report.projects = chains.len() as u64;
    if let Some(m) = &manifest {
        check_manifest(
            m,
            &mut report,
            &chains,
            (first_position, last_position),
            &found_at,
        );
    }
    report
}

#[allow(clippy::too_many_arguments)]
fn check_event(
    line: &[u8],
    line_no: u64,
    report: &mut Report,
    chains: &mut BTreeMap<String, Chain>,
    previous_position: &mut Option<i64>,
    (first_position, last_position): (&mut i64, &mut i64),
    wanted: &HashMap<(String, i64), ()>,
    found_at: &mut HashMap<(String, i64), String>,
    replayer: &mut super::replay::Replayer,
) {
    let at = Some(line_no);
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            report.problem(at, None, None, format!("not a JSON event ({e})"));
            return;
        }
    };
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(aggregate_type), Some(project), Some(event_type), Some(event_version)) = (
        text("aggregate_type"),
        text("aggregate_id"),
        text("event_type"),
        text("event_version"),
    ) else {
        report.problem(
            at,
            None,
            None,
            "an event line lacks aggregate_type, aggregate_id, event_type or event_version",
        );
        return;
    };
    let (Some(sequence), Some(position), Some(Value::Object(metadata)), Some(payload)) = (
        value.get("sequence").and_then(Value::as_i64),
        value.get("global_position").and_then(Value::as_i64),
        value.get("metadata"),
        value.get("payload"),
    ) else {
        report.problem(
            at,
            Some(&project),
            None,
            "an event line lacks sequence, global_position, metadata or payload",
        );
        return;
    };
    report.events += 1;
    if canonical(&value) != line {
        report.problem(
            at,
            Some(&project),
            Some(sequence),
            "the line is not in canonical (RFC 8785) form: it was edited",
        );
    }
    if report.events == 1 {
        *first_position = position;
    }
    *last_position = position;
    if let Some(previous) = *previous_position {
        if position <= previous {
            report.problem(
                at,
                Some(&project),
                Some(sequence),
                format!("global position {position} does not follow {previous} of the line before: lines were reordered"),
            );
        }
    }
    *previous_position = Some(position);
    let stored_hash = metadata
        .get(store::HASH)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let prev_hash = metadata
        .get(store::PREV_HASH)
        .and_then(Value::as_str)
        .unwrap_or("");
    let computed = store::event_hash(
        &aggregate_type,
        &project,
        sequence,
        &event_type,
        &event_version,
        payload,
        metadata,
    );
    if computed != stored_hash {
        report.problem(
            at,
            Some(&project),
            Some(sequence),
            format!("the event was altered: its content hashes to {computed}, but {stored_hash} is recorded"),
        );
    }
    let chain = chains.entry(project.clone()).or_default();
    let expected_sequence = chain.sequence + 1;
    if sequence != expected_sequence {
        report.problem(
            at,
            Some(&project),
            Some(sequence),
            format!("expected event #{expected_sequence} of this project next, found #{sequence}: an event was removed, inserted or reordered"),
        );
        chain.broken = true;
    }
    let expected_prev = if chain.sequence == 0 {
        store::GENESIS_HASH
    } else {
        chain.hash.as_str()
    };
    if sequence == expected_sequence && prev_hash != expected_prev {
        report.problem(
            at,
            Some(&project),
            Some(sequence),
            format!("prev_hash is {prev_hash}, but the event before it hashes to {expected_prev}: the chain is broken"),
        );
    }
    if wanted.contains_key(&(project.clone(), sequence)) {
        found_at.insert((project.clone(), sequence), stored_hash.clone());
    }
    chain.events += 1;
    chain.sequence = sequence;
    chain.hash = stored_hash;
    if replayer.enabled && aggregate_type == super::digest::PROJECT_TYPE {
        let command = metadata
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or("");
        replayer.feed(line_no, &project, sequence, payload, command);
    }
}

fn check_manifest(
    m: &Manifest,
    report: &mut Report,
    chains: &BTreeMap<String, Chain>,
    (first_position, last_position): (i64, i64),
    found_at: &HashMap<(String, i64), String>,
) {
    let one = Some(1);
    report.digests = m.digests.len();
    if m.events != report.events {
        report.problem(
            one,
            None,
            None,
            format!(
                "the manifest lists {} events but the file holds {}",
                m.events, report.events
            ),
        );
    }
    if m.projects != chains.len() as u64 {
        report.problem(
            one,
            None,
            None,
            format!(
                "the manifest lists {} projects but the file holds events of {}",
                m.projects,
                chains.len()
            ),
        );
    }
    if report.events > 0 && (m.first_position != first_position || m.last_position != last_position)
    {
        report.problem(
            one,
            None,
            None,
            format!(
                "the manifest's positions are {}..{} but the events span {first_position}..{last_position}",
                m.first_position, m.last_position
            ),
        );
    }
    if m.last_position > m.cut_position {
        report.problem(
            one,
            None,
            None,
            format!(
                "the last position {} lies after the cut {}",
                m.last_position, m.cut_position
            ),
        );
    }
    let listed: BTreeMap<&str, &super::export::ChainHead> = m
        .chain_heads
        .iter()
        .map(|h| (h.project.as_str(), h))
        .collect();
    for (project, head) in &listed {
        match chains.get(*project) {
            None => report.problem(one, Some(project), None, "the manifest lists this project but the file holds none of its events: they were removed"),
            Some(chain) => {
                if chain.sequence != head.sequence || chain.hash != head.hash {
                    report.problem(
                        one,
                        Some(project),
                        Some(chain.sequence),
                        format!(
                            "the file's last event is #{} ({}), but the manifest's chain head is #{} ({}): events were removed or altered at the end",
                            chain.sequence, chain.hash, head.sequence, head.hash
                        ),
                    );
                }
                if chain.events != head.events {
                    report.problem(
                        one,
                        Some(project),
                        None,
                        format!("the manifest lists {} events of this project, the file holds {}", head.events, chain.events),
                    );
                }
            }
        }
    }
    for project in chains.keys() {
        if !listed.contains_key(project.as_str()) {
            report.problem(
                None,
                Some(project),
                None,
                "the file holds events of a project the manifest does not list: forged",
            );
        }
    }
    for p in &m.programmes {
        let computed = programme_hash(&p.definition);
        if computed != p.sha256 {
            report.problem(
                one,
                None,
                None,
                format!(
                    "programme {}@v{}: its definition hashes to {computed}, not {}",
                    p.id, p.version, p.sha256
                ),
            );
        }
    }
    // Digests: every one consistent with the last; every inclusion proof against the last.
    let Some(last) = m.digests.last() else { return };
    let Some(last_root) = merkle::from_hex(&last.digest.root) else {
        report.problem(
            one,
            None,
            None,
            format!(
                "digest #{}: its root is not a SHA-256 value",
                last.digest.id
            ),
        );
        return;
    };
    for d in &m.digests {
        let root = merkle::from_hex(&d.digest.root);
        let proof: Option<Vec<merkle::Hash>> = d
            .consistency_to_last
            .iter()
            .map(|h| merkle::from_hex(h))
            .collect();
        let result = match (root, proof) {
            (Some(root), Some(proof)) => merkle::verify_consistency(
                d.digest.tree_size.max(0) as u64,
                last.digest.tree_size.max(0) as u64,
                &root,
                &last_root,
                &proof,
            )
            .map_err(|e| e.to_string()),
            _ => Err("a hash is not 64 hex digits".to_string()),
        };
        if let Err(e) = result {
            report.problem(
                one,
                None,
                None,
                format!(
                    "digest #{} is not consistent with digest #{}: {e}",
                    d.digest.id, last.digest.id
                ),
            );
        }
        if d.digest.position > m.cut_position {
            report.problem(
                one,
                None,
                None,
                format!("digest #{} lies after the export's cut", d.digest.id),
            );
        }
    }
    for inc in &m.inclusion {
        let leaf = &inc.leaf;
        let project = Some(leaf.project_id.as_str());
        if inc.digest_id != last.digest.id {
            report.problem(
                one,
                project,
                None,
                format!(
                    "the inclusion proof names digest #{}, not the last one",
                    inc.digest_id
                ),
            );
            continue;
        }
        let leaf_hash = merkle::leaf_hash(&leaf_bytes(
            &leaf.project_id,
            leaf.sequence,
            &leaf.head_hash,
        ));
        let proof: Option<Vec<merkle::Hash>> =
            inc.proof.iter().map(|h| merkle::from_hex(h)).collect();
        let result = match proof {
            Some(proof) => merkle::verify_inclusion(
                leaf.index.max(0) as u64,
                last.digest.tree_size.max(0) as u64,
                &leaf_hash,
                &proof,
                &last_root,
            )
            .map_err(|e| e.to_string()),
            None => Err("a hash is not 64 hex digits".to_string()),
        };
        if let Err(e) = result {
            report.problem(
                one,
                project,
                Some(leaf.sequence),
                format!(
                    "the chain head signed in digest #{} is not proven: {e}",
                    last.digest.id
                ),
            );
        }
        match found_at.get(&(leaf.project_id.clone(), leaf.sequence)) {
            None => report.problem(
                one,
                project,
                Some(leaf.sequence),
                format!("digest #{} signed this event as the project's head, but the file does not hold it", last.digest.id),
            ),
            Some(hash) if hash != &leaf.head_hash => report.problem(
                one,
                project,
                Some(leaf.sequence),
                format!(
                    "digest #{} signed head hash {}, but the file's event hashes to {hash}: the history was rewritten after the digest",
                    last.digest.id, leaf.head_hash
                ),
            ),
            Some(_) => {}
        }
    }
}
