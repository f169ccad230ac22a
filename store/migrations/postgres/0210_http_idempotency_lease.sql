-- Idempotency claims that survive a crash (api/src/http/idempotency.rs). A claim ("in
-- progress", status NULL) now records who holds it (`claimant`, a random token), until when
-- (`lease_until`, RFC 3339 UTC text like the other times), and which project it acts on with the
-- project's version when it was claimed. A retry that finds an expired claim looks at that
-- project's events after `project_version`: if one carries the key in its metadata, the command
-- was committed and its answer is rebuilt from the events; otherwise the retry takes the claim
-- over and runs the command. Rows written before this migration have NULL in these columns and
-- keep the old behaviour (409 while in progress). The SQLite migration of the same number is the
-- same.
ALTER TABLE http_idempotency ADD COLUMN project_id text;
ALTER TABLE http_idempotency ADD COLUMN project_version bigint;
ALTER TABLE http_idempotency ADD COLUMN lease_until text;
ALTER TABLE http_idempotency ADD COLUMN claimant text;
