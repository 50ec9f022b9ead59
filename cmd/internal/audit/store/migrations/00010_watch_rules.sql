-- Watch rules and their webhook deliveries (issue #14). Portable DDL, times in Unix
-- nanoseconds like the archive. River keeps its own tables (rivermigrate).

-- +goose Up
-- One row per rule. definition is the rule as written (JSON); secret and previous_secret are
-- whsec_ signing secrets (the receiver verifies with them: they cannot be hashed).
CREATE TABLE watch_rule (
    id                TEXT    PRIMARY KEY,
    tenant            TEXT,
    name              TEXT    NOT NULL,
    trigger_on        TEXT    NOT NULL,
    definition        TEXT    NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason   TEXT    NOT NULL DEFAULT '',
    secret            TEXT    NOT NULL,
    previous_secret   TEXT    NOT NULL DEFAULT '',
    previous_until_ns BIGINT  NOT NULL DEFAULT 0,
    created_by        TEXT    NOT NULL,
    created_ns        BIGINT  NOT NULL,
    updated_ns        BIGINT  NOT NULL
);
CREATE INDEX watch_rule_tenant ON watch_rule (tenant);

-- One row per message: (rule, session, trigger) at most once, enforced here for good (River's
-- own uniqueness lasts only as long as its finished jobs are kept).
CREATE TABLE webhook_delivery (
    id              TEXT    PRIMARY KEY,
    rule_id         TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    trigger_on      TEXT    NOT NULL,
    server          TEXT    NOT NULL DEFAULT '',
    session_id      TEXT    NOT NULL DEFAULT '',
    org_id          TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    retry_base      BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ns BIGINT,
    payload         TEXT    NOT NULL,
    created_ns      BIGINT  NOT NULL,
    updated_ns      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX webhook_delivery_once ON webhook_delivery (rule_id, server, session_id, trigger_on)
    WHERE trigger_on <> 'TEST';
CREATE INDEX webhook_delivery_rule ON webhook_delivery (rule_id, created_ns);

-- Every attempt of a delivery.
CREATE TABLE webhook_attempt (
    delivery_id TEXT    NOT NULL,
    n           BIGINT  NOT NULL,
    at_ns       BIGINT  NOT NULL,
    status_code BIGINT,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, n)
);

-- For "first restore from this machine for this organisation".
CREATE INDEX archive_session_machine ON archive_session (server, org_id, client_machine);

-- +goose Down
DROP INDEX archive_session_machine;
DROP TABLE webhook_attempt;
DROP TABLE webhook_delivery;
DROP TABLE watch_rule;
