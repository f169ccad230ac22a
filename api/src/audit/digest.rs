//! Audit digests: signed Merkle roots over every project's chain head (store migration 0400).
//!
//! All digests share ONE append-only RFC 6962 tree (`store::merkle`). Its leaves are chain heads
//! `(project, sequence, head hash)`; a digest at global position `P` appends, sorted by project
//! id, one leaf for every project whose head at `P` differs from its last leaf, then signs
//! `(id, position, tree size, root, created at)` with the installation key. Hence:
//! - a project's head at digest `D` is its last leaf with an index below `D.tree_size`, and an
//!   **inclusion proof** ties it to `D`'s signed root;
//! - an earlier digest's tree is a prefix of a later one's, and a **consistency proof** shows
//!   it (nothing recorded before was changed, removed or reordered).
//!
//! Recording refuses a store whose chain head went backwards or changed its hash at a sequence
//! already recorded: that is an alteration behind the engine's back, named with the project.
//!
//! Leaf bytes: the RFC 8785 (JCS) text of `{"head": <hex>, "project": <id>, "sequence": <n>}`.
//! Signed message: [`DigestRecord::signed_message`].

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use store::merkle::{self, Hash};
use store::Store;

use super::key::InstallationKey;
use crate::http::db::{db_fetch_all, db_fetch_optional, pg, Db};

/// The aggregate type whose chains the digests cover.
pub const PROJECT_TYPE: &str = "SubsidyProject";

/// One recorded digest, as stored and as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DigestRecord {
    /// 1, 2, 3, … in the order they were recorded.
    pub id: i64,
    /// The global position the chain heads were read at.
    pub position: i64,
    /// The number of leaves of the shared tree at this digest.
    pub tree_size: i64,
    /// The RFC 6962 root of those leaves, hex.
    pub root: String,
    /// When it was recorded (RFC 3339 UTC, microseconds).
    pub created_at: String,
    /// `SHA256:<hex>` of the signing public key.
    pub key_fingerprint: String,
    /// Ed25519 signature of [`DigestRecord::signed_message`], hex.
    pub signature: String,
}

impl DigestRecord {
    /// The exact bytes signed: six lines, each ending in `\n`.
    pub fn signed_message(&self) -> String {
        format!(
            "subsidy audit digest v1\nid {}\nposition {}\ntree_size {}\nroot {}\ncreated_at {}\n",
            self.id, self.position, self.tree_size, self.root, self.created_at
        )
    }
}

/// One leaf of the shared tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Leaf {
    /// 0-based index in the tree.
    pub index: i64,
    /// The digest that appended it.
    pub digest_id: i64,
    pub project_id: String,
    /// The sequence of the project's head event.
    pub sequence: i64,
    /// The `hash` of that event.
    pub head_hash: String,
}

/// The bytes of a leaf (JCS of `{"head", "project", "sequence"}`).
pub fn leaf_bytes(project_id: &str, sequence: i64, head_hash: &str) -> Vec<u8> {
    let value = serde_json::json!({"head": head_hash, "project": project_id, "sequence": sequence});
    serde_json_canonicalizer::to_vec(&value).expect("a JSON value has a canonical form")
}

impl Leaf {
    /// `SHA-256(0x00 || leaf_bytes)`.
    pub fn hash(&self) -> Hash {
        merkle::leaf_hash(&leaf_bytes(
            &self.project_id,
            self.sequence,
            &self.head_hash,
        ))
    }
}

/// An inclusion proof of a project's head in a digest.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub digest: DigestRecord,
    pub leaf: Leaf,
    /// The audit path, hex, from the leaf's sibling up.
    pub proof: Vec<String>,
}

/// A consistency proof between two digests.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: DigestRecord,
    pub to: DigestRecord,
    /// RFC 6962 `PROOF(from.tree_size, to's leaves)`, hex.
    pub proof: Vec<String>,
}

/// What can go wrong with digests.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("reading or writing audit digests: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("there is no digest #{0}")]
    NoDigest(i64),
    #[error("project {project} has no chain head in digest #{digest}")]
    NotInDigest { project: String, digest: i64 },
    #[error("digest #{to} is not later than digest #{from}")]
    Order { from: i64, to: i64 },
    #[error("project {project}: its chain head is now event #{found}, but digest #{digest} recorded event #{recorded}: events were removed behind the engine's back")]
    HeadShrank {
        project: String,
        recorded: i64,
        found: i64,
        digest: i64,
    },
    #[error("project {project}: event #{sequence} now hashes to {found}, but digest #{digest} recorded {recorded}: the chain was rewritten behind the engine's back")]
    HeadRewritten {
        project: String,
        sequence: i64,
        recorded: String,
        found: String,
        digest: i64,
    },
    #[error("project {project} was recorded in digest #{digest} but has no events any more: removed behind the engine's back")]
    ProjectVanished { project: String, digest: i64 },
    #[error("another digest was recorded at the same time; try again")]
    Concurrent,
}

/// The chain head of every project at `position`: (project, sequence, hash), sorted by project.
pub async fn chain_heads(
    store: &Store,
    position: i64,
) -> Result<Vec<(String, i64, String)>, DigestError> {
    let heads = "SELECT aggregate_id, MAX(sequence) AS s FROM events \
                 WHERE aggregate_type = ? AND global_position <= ? GROUP BY aggregate_id";
    let rows: Vec<(String, i64, Option<String>)> = match Db::of(store) {
        Db::Sqlite(pool) => {
            sqlx::query_as(&format!(
            "SELECT e.aggregate_id, e.sequence, json_extract(e.metadata, '$.hash') FROM events e \
                 JOIN ({heads}) h ON e.aggregate_id = h.aggregate_id AND e.sequence = h.s \
                 WHERE e.aggregate_type = ? ORDER BY e.aggregate_id"
        ))
            .bind(PROJECT_TYPE)
            .bind(position)
            .bind(PROJECT_TYPE)
            .fetch_all(&pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_as(&pg(&format!(
                "SELECT e.aggregate_id, e.sequence, e.metadata->>'hash' FROM events e \
                 JOIN ({heads}) h ON e.aggregate_id = h.aggregate_id AND e.sequence = h.s \
                 WHERE e.aggregate_type = ? ORDER BY e.aggregate_id COLLATE \"C\""
            )))
            .bind(PROJECT_TYPE)
            .bind(position)
            .bind(PROJECT_TYPE)
            .fetch_all(&pool)
            .await?
        }
    };
    let mut heads: Vec<(String, i64, String)> = rows
        .into_iter()
        .map(|(id, seq, hash)| (id, seq, hash.unwrap_or_default()))
        .collect();
    // Byte order of the ids on both backends.
    heads.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(heads)
}

type DigestRow = (i64, i64, i64, String, String, String, String);

fn record_of(row: DigestRow) -> DigestRecord {
    let (id, position, tree_size, root, created_at, key_fingerprint, signature) = row;
    DigestRecord {
        id,
        position,
        tree_size,
        root,
        created_at,
        key_fingerprint,
        signature,
    }
}

const DIGEST_COLUMNS: &str =
    "id, position, tree_size, root, created_at, key_fingerprint, signature";

/// Every digest, oldest first.
pub async fn list(db: &Db) -> Result<Vec<DigestRecord>, DigestError> {
    let rows = db_fetch_all!(
        db,
        DigestRow,
        &format!("SELECT {DIGEST_COLUMNS} FROM audit_digests ORDER BY id")
    )?;
    Ok(rows.into_iter().map(record_of).collect())
}

/// One digest.
pub async fn get(db: &Db, id: i64) -> Result<DigestRecord, DigestError> {
    db_fetch_optional!(
        db,
        DigestRow,
        &format!("SELECT {DIGEST_COLUMNS} FROM audit_digests WHERE id = ?"),
        id
    )?
    .map(record_of)
    .ok_or(DigestError::NoDigest(id))
}

/// The first `size` leaves of the shared tree, in order.
pub async fn leaves(db: &Db, size: i64) -> Result<Vec<Leaf>, DigestError> {
    let rows = db_fetch_all!(
        db,
        (i64, i64, String, i64, String),
        "SELECT leaf_index, digest_id, project_id, sequence, head_hash FROM audit_digest_leaves \
         WHERE leaf_index < ? ORDER BY leaf_index",
        size
    )?;
    Ok(rows
        .into_iter()
        .map(|(index, digest_id, project_id, sequence, head_hash)| Leaf {
            index,
            digest_id,
            project_id,
            sequence,
            head_hash,
        })
        .collect())
}

fn hashes(leaves: &[Leaf]) -> Vec<Hash> {
    leaves.iter().map(Leaf::hash).collect()
}

fn hex_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(merkle::to_hex).collect()
}

/// The last leaf of every project in `leaves`: project → leaf.
fn last_leaves(leaves: &[Leaf]) -> HashMap<&str, &Leaf> {
    let mut last = HashMap::new();
    for leaf in leaves {
        last.insert(leaf.project_id.as_str(), leaf);
    }
    last
}

/// Records a digest of the store as it is now: reads the chain heads at the last position,
/// appends the changed ones, signs and stores the new root.
pub async fn record(
    store: &Store,
    key: &InstallationKey,
    now: DateTime<Utc>,
) -> Result<DigestRecord, DigestError> {
    let db = Db::of(store);
    let previous = list(&db).await?.pop();
    let tree_before = previous.as_ref().map(|d| d.tree_size).unwrap_or(0);
    let mut all = leaves(&db, i64::MAX).await?;
    // Leaves a concurrent digest added beyond the last digest row are not ours to use.
    all.truncate(tree_before as usize);
    let position = store.last_position().await?;
    let heads = chain_heads(store, position).await?;
    let id = previous.as_ref().map(|d| d.id).unwrap_or(0) + 1;
    let mut new_leaves = Vec::new();
    {
        let last = last_leaves(&all);
        let current: HashMap<&str, ()> = heads.iter().map(|(p, _, _)| (p.as_str(), ())).collect();
        for (project, leaf) in &last {
            if !current.contains_key(project) {
                return Err(DigestError::ProjectVanished {
                    project: project.to_string(),
                    digest: leaf.digest_id,
                });
            }
        }
        for (project, sequence, hash) in &heads {
            match last.get(project.as_str()) {
                Some(leaf) if leaf.sequence > *sequence => {
                    return Err(DigestError::HeadShrank {
                        project: project.clone(),
                        recorded: leaf.sequence,
                        found: *sequence,
                        digest: leaf.digest_id,
                    })
                }
                Some(leaf) if leaf.sequence == *sequence => {
                    if &leaf.head_hash != hash {
                        return Err(DigestError::HeadRewritten {
                            project: project.clone(),
                            sequence: *sequence,
                            recorded: leaf.head_hash.clone(),
                            found: hash.clone(),
                            digest: leaf.digest_id,
                        });
                    }
                }
                _ => new_leaves.push(Leaf {
                    index: tree_before + new_leaves.len() as i64,
                    digest_id: id,
                    project_id: project.clone(),
                    sequence: *sequence,
                    head_hash: hash.clone(),
                }),
            }
        }
    }
    all.extend(new_leaves.iter().cloned());
    let root = merkle::root(&hashes(&all));
    let mut digest = DigestRecord {
        id,
        position,
        tree_size: all.len() as i64,
        root: merkle::to_hex(&root),
        created_at: now.to_rfc3339_opts(SecondsFormat::Micros, true),
        key_fingerprint: key.fingerprint(),
        signature: String::new(),
    };
    digest.signature = key.sign_hex(digest.signed_message().as_bytes());
    // One transaction: the digest row (its primary key makes a concurrent digest fail) and its
    // leaves. The same statements on both backends; the macro only changes the pool's type.
    macro_rules! write_digest {
        ($pool:expr, $postgres:expr) => {{
            let unique = |e: sqlx::Error| {
                if crate::http::db::is_unique_violation(&e) {
                    DigestError::Concurrent
                } else {
                    DigestError::Db(e)
                }
            };
            let mut tx = $pool.begin().await?;
            sqlx::query(&pg_if(
                $postgres,
                &format!("INSERT INTO audit_digests ({DIGEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
            ))
            .bind(digest.id)
            .bind(digest.position)
            .bind(digest.tree_size)
            .bind(&digest.root)
            .bind(&digest.created_at)
            .bind(&digest.key_fingerprint)
            .bind(&digest.signature)
            .execute(&mut *tx)
            .await
            .map_err(unique)?;
            for chunk in new_leaves.chunks(500) {
                let values = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
                let sql = pg_if(
                    $postgres,
                    &format!(
                        "INSERT INTO audit_digest_leaves (leaf_index, digest_id, project_id, sequence, head_hash) VALUES {values}"
                    ),
                );
                let mut query = sqlx::query(&sql);
                for leaf in chunk {
                    query = query
                        .bind(leaf.index)
                        .bind(leaf.digest_id)
                        .bind(&leaf.project_id)
                        .bind(leaf.sequence)
                        .bind(&leaf.head_hash);
                }
                query.execute(&mut *tx).await.map_err(unique)?;
            }
            tx.commit().await?;
        }};
    }
    match &db {
        Db::Sqlite(pool) => write_digest!(pool, false),
        Db::Postgres(pool) => write_digest!(pool, true),
    }
    Ok(digest)
}

fn pg_if(postgres: bool, sql: &str) -> String {
    if postgres {
        pg(sql)
    } else {
        sql.to_string()
    }
}

/// The inclusion proof of `project`'s chain head in digest `digest_id`.
pub async fn inclusion(
    db: &Db,
    digest_id: i64,
    project: &str,
) -> Result<InclusionProof, DigestError> {
    let digest = get(db, digest_id).await?;
    let all = leaves(db, digest.tree_size).await?;
    let leaf = all
        .iter()
        .rev()
        .find(|l| l.project_id == project)
        .cloned()
        .ok_or_else(|| DigestError::NotInDigest {
            project: project.to_string(),
            digest: digest_id,
        })?;
    let proof = merkle::inclusion_proof(leaf.index as usize, &hashes(&all))
        .expect("the leaf is inside the tree");
    Ok(InclusionProof {
        digest,
        leaf,
        proof: hex_all(&proof),
    })
}

/// The consistency proof from digest `from` to the later digest `to`.
pub async fn consistency(db: &Db, from: i64, to: i64) -> Result<ConsistencyProof, DigestError> {
    let older = get(db, from).await?;
    let newer = get(db, to).await?;
    if newer.id < older.id {
        return Err(DigestError::Order { from, to });
    }
    let all = leaves(db, newer.tree_size).await?;
    let proof = merkle::consistency_proof(older.tree_size as usize, &hashes(&all))
        .expect("an older tree is not larger");
    Ok(ConsistencyProof {
        from: older,
        to: newer,
        proof: hex_all(&proof),
    })
}
