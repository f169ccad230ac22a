-- Audit digests (api/src/audit/digest.rs). The chain heads of all projects are the leaves of one
-- append-only RFC 6962 Merkle tree: each digest appends, in project-id order, a leaf
-- (project, sequence, head hash) for every project whose head changed since the previous digest,
-- and signs the root of the whole tree with the installation's Ed25519 key. So the tree of an
-- earlier digest is a prefix of every later one (consistency proofs), and a project's head at a
-- digest is its last leaf within that digest's tree (inclusion proofs). Rows are only inserted.
-- The SQLite migration of the same number is the same.
CREATE TABLE audit_digests
(
    id              bigint PRIMARY KEY CHECK (id >= 1),
    position        bigint NOT NULL,
    tree_size       bigint NOT NULL,
    root            text   NOT NULL,
    created_at      text   NOT NULL,
    key_fingerprint text   NOT NULL,
    signature       text   NOT NULL
);

CREATE TABLE audit_digest_leaves
(
    leaf_index bigint PRIMARY KEY CHECK (leaf_index >= 0),
    digest_id  bigint NOT NULL REFERENCES audit_digests (id),
    project_id text   NOT NULL,
    sequence   bigint NOT NULL,
    head_hash  text   NOT NULL
);

CREATE INDEX audit_digest_leaves_project ON audit_digest_leaves (project_id, leaf_index);
