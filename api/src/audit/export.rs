//! `subsidy audit export`: a signed, self-describing JSON Lines file of the events in scope.
//!
//! Layout (UTF-8, every line ends with `\n`, every JSON text in RFC 8785 canonical form):
//! 1. line 1: `{"format": "subsidy-audit-export/1", "manifest": {…}}` (see [`Manifest`]);
//! 2. one line per event, in global-position order: `{"aggregate_id", "aggregate_type",
//!    "event_type", "event_version", "global_position", "metadata", "payload", "sequence"}`,
//!    exactly as stored (the metadata with `recorded_at`, `prev_hash`, `hash`), so every hash can
//!    be recomputed by the rule in `store/README.md`;
//! 3. last line: `{"signature": {"algorithm": "ed25519", "key_fingerprint", "public_key",
//!    "sha256", "value"}}`: `sha256` is the hex SHA-256 of every byte before this line, and
//!    `value` the Ed25519 signature of the text `"subsidy audit export v1\nsha256 <hex>\n"`.
//!
//! Scope: the export covers the store up to a *cut* position: the last position at the start,
//! or with `--to` the last position before the first event recorded after that day (Asia/
//! Shanghai), the rule of `load_as_of`. A project is in scope if its registration lies inside
//! `--jurisdiction` and it has an event on or after `--from` (up to the cut); its events are
//! exported whole from sequence 1 to the cut, so that every chain and every replay is complete.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use store::{merkle, StoredEvent};

use super::digest::{self, DigestRecord, Leaf, PROJECT_TYPE};
use super::key::InstallationKey;
use crate::engine::Engine;
use crate::http::db::Db;

/// The format name on line 1.
pub const FORMAT: &str = "subsidy-audit-export/1";

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub jurisdiction: Option<domain::JurisdictionCode>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The manifest (line 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub created_at: String,
    /// The filters as given (`null` when absent).
    pub scope: ScopeText,
    /// Events exported are those of the projects in scope with a position up to `cut_position`.
    pub cut_position: i64,
    /// Number of event lines.
    pub events: u64,
    /// Number of projects.
    pub projects: u64,
    /// The first and last `global_position` of the event lines (0, 0 when empty).
    pub first_position: i64,
    pub last_position: i64,
    /// The programme versions the exported projects were registered under, with the SHA-256 of
    /// the JCS form of each definition and the definition itself (as published in the store's
    /// `programme/<id>` stream, so the hash is the one recorded there).
    pub programmes: Vec<ProgrammeEntry>,
    /// Per project: its number of events and last event (sequence, hash).
    pub chain_heads: Vec<ChainHead>,
    /// Every digest recorded at a position up to the cut, oldest first, each with the
    /// consistency proof to the last one.
    pub digests: Vec<DigestEntry>,
    /// Per project in scope that the last digest covers: its leaf there and the inclusion proof.
    pub inclusion: Vec<InclusionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeText {
    pub jurisdiction: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeEntry {
    pub id: String,
    pub version: u32,
    pub sha256: String,
    pub definition: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub project: String,
    pub events: u64,
    pub sequence: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestEntry {
    pub digest: DigestRecord,
    /// RFC 6962 consistency proof from this digest's tree to the last digest's tree (hex).
    pub consistency_to_last: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionEntry {
    pub digest_id: i64,
    pub leaf: Leaf,
    pub proof: Vec<String>,
}

/// The SHA-256 (hex) of a programme definition's JCS text.
pub fn programme_hash(definition: &Value) -> String {
    hex::encode(Sha256::digest(canonical(definition)))
}

/// JCS bytes of a JSON value.
pub fn canonical(value: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("a JSON value has a canonical form")
}

/// The export line of a stored event (JCS of its eight fields).
pub fn event_line(event: &StoredEvent) -> Vec<u8> {
    canonical(&json!({
        "aggregate_id": event.aggregate_id,
        "aggregate_type": event.aggregate_type,
        "event_type": event.event_type,
        "event_version": event.event_version,
        "global_position": event.global_position,
        "metadata": Value::Object(event.metadata.clone()),
        "payload": event.payload,
        "sequence": event.sequence,
    }))
}

/// The text the export's signature signs.
pub fn signed_message(sha256_hex: &str) -> String {
    format!("subsidy audit export v1\nsha256 {sha256_hex}\n")
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub events: u64,
    pub projects: u64,
    pub cut_position: i64,
    pub digests: usize,
    pub sha256: String,
}

const PAGE: i64 = 2000;

/// Per project, what the first pass learns.
#[derive(Default)]
struct Seen {
    jurisdiction: Option<domain::JurisdictionCode>,
    programme: Option<(String, u32)>,
    in_window: bool,
    events: u64,
    sequence: i64,
    hash: String,
}

pub(crate) fn end_of_day_utc(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    let local = next
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .earliest()
        .expect("Shanghai has no DST gaps");
    local.with_timezone(&Utc) - chrono::Duration::microseconds(1)
}

fn start_of_day_utc(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .earliest()
        .expect("Shanghai has no DST gaps")
        .with_timezone(&Utc)
}

/// Writes the export of `scope` to `out`; `progress(done, total)` is called as events are read
/// and written (two passes, so `total` is twice the cut position).
pub async fn export(
    engine: &Engine,
    key: &InstallationKey,
    scope: &Scope,
    out: &Path,
    now: DateTime<Utc>,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<ExportSummary> {
    if let (Some(from), Some(to)) = (scope.from, scope.to) {
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    }
    let store = &engine.store;
    let head = store.last_position().await?;
    let total = (head.max(0) as u64) * 2;
    let from_at = scope.from.map(start_of_day_utc);
    let to_at = scope.to.map(end_of_day_utc);

    // Pass 1: the cut position, and per project its jurisdiction, programme and head.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut cut = 0i64;
    let mut after = 0i64;
    'pass1: loop {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page {
            if event.global_position > head {
                break 'pass1;
            }
            if to_at.is_some_and(|to| event.recorded_at > to) {
                break 'pass1;
            }
            cut = event.global_position;
            progress(cut as u64, total);
            if event.aggregate_type != PROJECT_TYPE {
                continue;
            }
            let entry = seen.entry(event.aggregate_id.clone()).or_default();
            if event.sequence == 1 {
                if let Ok(domain::ProjectEvent::ProjectRegistered {
                    jurisdiction,
                    programme_id,
                    programme_version,
                    ..
                }) = serde_json::from_value::<domain::ProjectEvent>(event.payload.clone())
                {
                    entry.jurisdiction = Some(jurisdiction);
                    entry.programme = Some((programme_id, programme_version));
                }
            }
            if from_at.is_none_or(|from| event.recorded_at >= from) {
                entry.in_window = true;
            }
            entry.events += 1;
            entry.sequence = event.sequence;
            entry.hash = event.hash.clone();
        }
    }
    seen.retain(|_, s| {
        s.in_window
            && match &scope.jurisdiction {
                None => true,
                Some(code) => s.jurisdiction.as_ref().is_some_and(|j| code.covers(j)),
            }
    });

    // Programmes in force: each definition as published in its `programme/<id>` stream (so
    // its hash here is the one recorded there), or as the registry holds it.
    let mut programmes = Vec::new();
    let keys: BTreeSet<(String, u32)> = seen.values().filter_map(|s| s.programme.clone()).collect();
    let recorded = crate::programmes::recorded_versions(engine).await?;
    for (id, version) in keys {
        let published = recorded.iter().find(|r| r.id == id && r.version == version);
        let definition = match (published, engine.programmes().get(&id, version)) {
            (Some(r), _) => r.definition.clone(),
            (None, Some(p)) => serde_json::to_value(&*p)?,
            (None, None) => Value::Null,
        };
        programmes.push(ProgrammeEntry {
            sha256: programme_hash(&definition),
            id,
            version,
            definition,
        });
    }

    // Digests up to the cut, with consistency proofs to the last of them, and inclusion proofs
    // of every project in scope in the last one.
    let db = Db::of(store);
    let covering: Vec<DigestRecord> = digest::list(&db)
        .await?
        .into_iter()
        .filter(|d| d.position <= cut)
        .collect();
    let mut digests = Vec::new();
    let mut inclusion = Vec::new();
    if let Some(last) = covering.last() {
        let leaves = digest::leaves(&db, last.tree_size).await?;
        let hashes: Vec<merkle::Hash> = leaves.iter().map(Leaf::hash).collect();
        let tree = merkle::Tree::new(&hashes);
        for d in &covering {
            let proof = tree
                .consistency_proof(d.tree_size as usize, hashes.len())
                .ok_or_else(|| anyhow::anyhow!("digest #{} is larger than a later one", d.id))?;
            digests.push(DigestEntry {
                digest: d.clone(),
                consistency_to_last: proof.iter().map(merkle::to_hex).collect(),
            });
        }
        let mut last_leaf: BTreeMap<&str, &Leaf> = BTreeMap::new();
        for leaf in &leaves {
            last_leaf.insert(leaf.project_id.as_str(), leaf);
        }
        for project in seen.keys() {
            if let Some(leaf) = last_leaf.get(project.as_str()) {
                let proof = tree
                    .inclusion_proof(leaf.index as usize, hashes.len())
                    .expect("the leaf is in the tree");
                inclusion.push(InclusionEntry {
                    digest_id: last.id,
                    leaf: (*leaf).clone(),
                    proof: proof.iter().map(merkle::to_hex).collect(),
                });
            }
        }
    }

    // Pass 2: the event lines.
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", tmp.display()))?;
    let mut writer = HashingWriter {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
    };
    let mut body = Vec::new();
    let mut count = 0u64;
    let (mut first_position, mut last_position) = (0i64, 0i64);
    let mut after = 0i64;
    'pass2: loop {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page {
            if event.global_position > cut {
                break 'pass2;
            }
            progress(head.max(0) as u64 + event.global_position as u64, total);
            if event.aggregate_type != PROJECT_TYPE || !seen.contains_key(&event.aggregate_id) {
                continue;
            }
            body.extend_from_slice(&event_line(&event));
            body.push(b'\n');
            if count == 0 {
                first_position = event.global_position;
            }
            last_position = event.global_position;
            count += 1;
            if body.len() > 1 << 20 {
                // The manifest goes first, so event lines wait in a spool file.
                spool(&tmp, &mut body)?;
            }
        }
    }
    let manifest = Manifest {
        created_at: now.to_rfc3339_opts(SecondsFormat::Micros, true),
        scope: ScopeText {
            jurisdiction: scope.jurisdiction.as_ref().map(|j| j.to_string()),
            from: scope.from.map(|d| d.to_string()),
            to: scope.to.map(|d| d.to_string()),
        },
        cut_position: cut,
        events: count,
        projects: seen.len() as u64,
        first_position,
        last_position,
        programmes,
        chain_heads: seen
            .iter()
            .map(|(project, s)| ChainHead {
                project: project.clone(),
                events: s.events,
                sequence: s.sequence,
                hash: s.hash.clone(),
            })
            .collect(),
        digests,
        inclusion,
    };
    let header = json!({"format": FORMAT, "manifest": serde_json::to_value(&manifest)?});
    writer.write_all(&canonical(&header))?;
    writer.write_all(b"\n")?;
    // The spooled event lines, then the rest.
    let spool_path = spool_path(&tmp);
    if spool_path.exists() {
        let mut spooled = std::fs::File::open(&spool_path)?;
        std::io::copy(&mut spooled, &mut writer)?;
        std::fs::remove_file(&spool_path)?;
    }
    writer.write_all(&body)?;
    let sha256 = hex::encode(writer.hasher.clone().finalize());
    let signature = json!({"signature": {
        "algorithm": "ed25519",
        "key_fingerprint": key.fingerprint(),
        "public_key": key.public_hex(),
        "sha256": sha256,
        "value": key.sign_hex(signed_message(&sha256).as_bytes()),
    }});
    writer.inner.write_all(&canonical(&signature))?;
    writer.inner.write_all(b"\n")?;
    let file = writer
        .inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    file.sync_all()?;
    std::fs::rename(&tmp, out)
        .map_err(|e| anyhow::anyhow!("cannot move the export to {}: {e}", out.display()))?;
    progress(total, total);
    Ok(ExportSummary {
        events: count,
        projects: seen.len() as u64,
        cut_position: cut,
        digests: manifest.digests.len(),
        sha256,
    })
}

fn spool_path(tmp: &Path) -> std::path::PathBuf {
    tmp.with_extension("spool")
}

fn spool(tmp: &Path, body: &mut Vec<u8>) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spool_path(tmp))?;
    file.write_all(body)?;
    body.clear();
    Ok(())
}

/// A writer that hashes what it writes.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
