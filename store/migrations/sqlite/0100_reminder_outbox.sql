-- The reminder outbox (crates/api/src/reminders). A reminder is inserted here, with its fully
-- rendered message, before anything is sent; `reminder_key` (project|deadline|due date|kind|
-- recipient) is UNIQUE, so planning the same reminder twice inserts nothing the second time.
-- Delivery claims a row with a lease (`claimed_by`, `lease_until`), so two schedulers never send
-- the same row at once; a transient failure sets `next_attempt_at` (exponential backoff).
-- Instants are UTC text in one fixed format (2017-06-28T01:00:00.000000Z), which sorts
-- chronologically, so that both backends compare them the same way.
CREATE TABLE reminder_outbox
(
    id              integer PRIMARY KEY AUTOINCREMENT,
    reminder_key    text    NOT NULL UNIQUE,
    project_id      text    NOT NULL,
    deadline_id     text    NOT NULL,
    due_on          text    NOT NULL,
    kind            text    NOT NULL,
    recipient_email text    NOT NULL,
    recipient_name  text    NOT NULL,
    recipient_role  text    NOT NULL,
    -- Stable per row: a re-send after a crash carries the same Message-ID and is recognisable.
    message_id      text    NOT NULL UNIQUE,
    subject         text    NOT NULL,
    -- The complete RFC 5322 message as rendered at enqueue time; every attempt sends these bytes.
    message         text    NOT NULL,
    reason          text    NOT NULL,
    created_at      text    NOT NULL,
    status          text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at text    NOT NULL,
    claimed_by      text,
    lease_until     text,
    sent_at         text,
    last_error      text
) STRICT;

CREATE INDEX reminder_outbox_ready ON reminder_outbox (status, next_attempt_at);

-- Every delivery attempt and its outcome, for auditors. Rows are only ever inserted.
CREATE TABLE reminder_deliveries
(
    id          integer PRIMARY KEY AUTOINCREMENT,
    outbox_id   integer NOT NULL REFERENCES reminder_outbox (id),
    attempt     integer NOT NULL,
    worker      text    NOT NULL,
    started_at  text    NOT NULL,
    finished_at text    NOT NULL,
    outcome     text    NOT NULL CHECK (outcome IN ('delivered', 'transient_failure', 'permanent_failure', 'lease_lost')),
    smtp_code   integer,
    detail      text    NOT NULL
) STRICT;

CREATE INDEX reminder_deliveries_outbox ON reminder_deliveries (outbox_id);
