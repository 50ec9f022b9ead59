-- The restore watch's tables. Portable DDL: the same file runs on SQLite and PostgreSQL.
-- Times are Unix nanoseconds (BIGINT): VBO records 100 ns ticks, and the checkpoint compares
-- exactly.

-- +goose Up
-- One row per VBO server: the watcher's checkpoint, its lease, and the feed sequence.
CREATE TABLE watch_server (
    server           TEXT    PRIMARY KEY,
    high_water_ns    BIGINT  NOT NULL DEFAULT 0,
    backfill_from_ns BIGINT  NOT NULL DEFAULT 0,
    backfill_done    BOOLEAN NOT NULL DEFAULT FALSE,
    last_poll_ns     BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    archived         BIGINT  NOT NULL DEFAULT 0,
    feed_seq         BIGINT  NOT NULL DEFAULT 0,
    lease_holder     TEXT    NOT NULL DEFAULT '',
    lease_epoch      BIGINT  NOT NULL DEFAULT 0,
    lease_until_ns   BIGINT  NOT NULL DEFAULT 0
);

-- Every restore session the watcher has seen, with its item totals.
CREATE TABLE archive_session (
    server          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    org_id          TEXT    NOT NULL DEFAULT '',
    org_name        TEXT    NOT NULL DEFAULT '',
    name            TEXT    NOT NULL DEFAULT '',
    type            TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT '',
    result          TEXT    NOT NULL DEFAULT '',
    initiated_by    TEXT    NOT NULL DEFAULT '',
    client_host     TEXT    NOT NULL DEFAULT '',
    client_machine  TEXT    NOT NULL DEFAULT '',
    via_address     TEXT    NOT NULL DEFAULT '',
    scope_name      TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    details         TEXT    NOT NULL DEFAULT '',
    start_ns        BIGINT  NOT NULL,
    end_ns          BIGINT,
    items           BIGINT  NOT NULL DEFAULT 0,
    bytes           BIGINT  NOT NULL DEFAULT 0,
    by_event_type   TEXT    NOT NULL DEFAULT '{}',
    by_item_type    TEXT    NOT NULL DEFAULT '{}',
    first_item_ns   BIGINT,
    last_item_ns    BIGINT,
    events_read     BIGINT  NOT NULL DEFAULT 0,
    events_complete BOOLEAN NOT NULL DEFAULT FALSE,
    backfill        BOOLEAN NOT NULL DEFAULT FALSE,
    started_seq     BIGINT  NOT NULL,
    ended_seq       BIGINT  NOT NULL DEFAULT 0,
    first_seen_ns   BIGINT  NOT NULL,
    updated_ns      BIGINT  NOT NULL,
    PRIMARY KEY (server, id)
);
CREATE INDEX archive_session_start ON archive_session (start_ns);
CREATE INDEX archive_session_open ON archive_session (server) WHERE ended_seq = 0;

-- Every event of an archived session, in VBO's order.
CREATE TABLE archive_event (
    server     TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    ord        BIGINT  NOT NULL,
    id         TEXT    NOT NULL,
    type       TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL DEFAULT '',
    start_ns   BIGINT  NOT NULL,
    end_ns     BIGINT,
    duration   TEXT    NOT NULL DEFAULT '',
    title      TEXT    NOT NULL DEFAULT '',
    message    TEXT    NOT NULL DEFAULT '',
    item_name  TEXT    NOT NULL DEFAULT '',
    item_type  TEXT    NOT NULL DEFAULT '',
    item_size  BIGINT,
    source     TEXT    NOT NULL DEFAULT '',
    target     TEXT    NOT NULL DEFAULT '',
    seq        BIGINT  NOT NULL,
    PRIMARY KEY (server, session_id, ord)
);

-- What changed, in commit order per server: the source of subscriptions (replay and live).
CREATE TABLE watch_feed (
    server     TEXT    NOT NULL,
    seq        BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    at_ns      BIGINT  NOT NULL,
    backfill   BOOLEAN NOT NULL DEFAULT FALSE,
    first_ord  BIGINT  NOT NULL DEFAULT 0,
    last_ord   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (server, seq)
);
CREATE INDEX watch_feed_kind_at ON watch_feed (kind, at_ns);

-- +goose Down
DROP TABLE watch_feed;
DROP TABLE archive_event;
DROP TABLE archive_session;
DROP TABLE watch_server;
