-- The restore front door's attribution log (issue 24 item 4). Spoken by
-- cmd/internal/restore/actionlog alone. Times in Unix nanoseconds like the archive.

-- +goose Up
-- Append-only: one row per begin record and one per outcome record (ref_id names the begin
-- row), never UPDATEd or DELETEd. Each tenant ('' = the provider admins) has its own chain:
-- position 1, 2, 3... without gaps, prev_hash the hash of the tenant's previous row ('' for
-- position 1), hash the SHA-256 of the row's canonical encoding (see package actionlog).
CREATE TABLE restore_action (
    id                 TEXT   PRIMARY KEY,
    tenant             TEXT   NOT NULL,
    position           BIGINT NOT NULL,
    record             TEXT   NOT NULL,
    ref_id             TEXT   NOT NULL DEFAULT '',
    kind               TEXT   NOT NULL,
    actor_tenant       TEXT   NOT NULL DEFAULT '',
    person             TEXT   NOT NULL DEFAULT '',
    display_name       TEXT   NOT NULL DEFAULT '',
    role               TEXT   NOT NULL DEFAULT '',
    client_addr        TEXT   NOT NULL DEFAULT '',
    user_agent         TEXT   NOT NULL DEFAULT '',
    request_id         TEXT   NOT NULL DEFAULT '',
    reason             TEXT   NOT NULL DEFAULT '',
    server             TEXT   NOT NULL DEFAULT '',
    org_id             TEXT   NOT NULL DEFAULT '',
    gateway_session_id TEXT   NOT NULL DEFAULT '',
    vbo_session_id     TEXT   NOT NULL DEFAULT '',
    session_type       TEXT   NOT NULL DEFAULT '',
    replica            TEXT   NOT NULL DEFAULT '',
    detail             TEXT   NOT NULL DEFAULT '',
    status             TEXT   NOT NULL,
    upstream_status    BIGINT NOT NULL DEFAULT 0,
    error              TEXT   NOT NULL DEFAULT '',
    at_ns              BIGINT NOT NULL,
    prev_hash          TEXT   NOT NULL,
    hash               TEXT   NOT NULL
);
CREATE UNIQUE INDEX restore_action_chain ON restore_action (tenant, position);
CREATE UNIQUE INDEX restore_action_outcome ON restore_action (ref_id) WHERE record = 'OUTCOME';
CREATE INDEX restore_action_session ON restore_action (gateway_session_id, position);
CREATE INDEX restore_action_start ON restore_action (server, org_id, at_ns) WHERE record = 'BEGIN' AND kind = 'START';

-- Each chain's head: its last position and hash. Every append to a chain locks its head row
-- (an UPDATE) first, which serialises appends across replicas; Verify also checks that the
-- chain ends at its head, so removing the newest records is detected too.
CREATE TABLE restore_chain_head (
    tenant   TEXT   PRIMARY KEY,
    position BIGINT NOT NULL,
    hash     TEXT   NOT NULL
);

-- The gateway's restore sessions: mutable (open/closed, VBO id, last activity), so kept beside
-- the chain (not hashed), written in the same transaction as the record that changes them. id
-- is the START record's id.
CREATE TABLE restore_gateway_session (
    id               TEXT    PRIMARY KEY,
    tenant           TEXT    NOT NULL,
    person           TEXT    NOT NULL,
    display_name     TEXT    NOT NULL DEFAULT '',
    role             TEXT    NOT NULL DEFAULT '',
    client_addr      TEXT    NOT NULL DEFAULT '',
    user_agent       TEXT    NOT NULL DEFAULT '',
    request_id       TEXT    NOT NULL DEFAULT '',
    reason           TEXT    NOT NULL DEFAULT '',
    server           TEXT    NOT NULL,
    org_id           TEXT    NOT NULL,
    session_type     TEXT    NOT NULL DEFAULT '',
    vbo_session_id   TEXT    NOT NULL DEFAULT '',
    is_open          BOOLEAN NOT NULL,
    started_ns       BIGINT  NOT NULL,
    last_activity_ns BIGINT  NOT NULL,
    closed_ns        BIGINT,
    replica          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX restore_gateway_session_vbo ON restore_gateway_session (server, vbo_session_id);
CREATE INDEX restore_gateway_session_person ON restore_gateway_session (tenant, person) WHERE is_open;
CREATE INDEX restore_gateway_session_idle ON restore_gateway_session (last_activity_ns) WHERE is_open;

-- +goose Down
DROP TABLE restore_gateway_session;
DROP TABLE restore_chain_head;
DROP TABLE restore_action;
