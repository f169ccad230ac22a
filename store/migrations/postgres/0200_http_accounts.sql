-- Accounts, login sessions and idempotency keys of the HTTP API (crates/api/src/http). The
-- SQLite migration of the same number has the same tables, columns and constraints, so the
-- API behaves identically on both backends. Times are RFC 3339 UTC text with a fixed format
-- (`2025-01-02T03:04:05.000000Z`), so comparing them as text compares them as instants.

-- One row per account. `role` is officer | supervisor | auditor | admin; `jurisdictions` is a
-- comma-separated list of GB/T 2260 codes the account is granted (empty for an admin).
CREATE TABLE http_users
(
    username      text   PRIMARY KEY,
    password_hash text   NOT NULL,
    role          text   NOT NULL CHECK (role IN ('officer', 'supervisor', 'auditor', 'admin')),
    jurisdictions text   NOT NULL,
    disabled      bigint NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    text   NOT NULL
);

-- Bearer tokens and cookie sessions. Only the SHA-256 of the token is stored, so a copy of the
-- database does not let anyone log in. `csrf_token` is set for cookie sessions only.
CREATE TABLE http_sessions
(
    token_hash text PRIMARY KEY,
    username   text NOT NULL REFERENCES http_users (username),
    kind       text NOT NULL CHECK (kind IN ('bearer', 'cookie')),
    csrf_token text,
    expires_at text NOT NULL,
    created_at text NOT NULL
);

CREATE INDEX http_sessions_by_user ON http_sessions (username);

-- Idempotency keys: one row per (user, route, key). The row is inserted as "in progress"
-- (status NULL) before the command runs; the primary key makes a concurrent retry fail to
-- insert, so only one request executes. The response is written when the command finishes.
CREATE TABLE http_idempotency
(
    username      text   NOT NULL,
    route         text   NOT NULL,
    idem_key      text   NOT NULL,
    request_hash  text   NOT NULL,
    status        bigint,
    response_body text,
    etag          text,
    created_at    text   NOT NULL,
    PRIMARY KEY (username, route, idem_key)
);
