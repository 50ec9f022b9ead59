-- Issue 22 items 2 and 4. found_late marks a session the reconciliation sweep archived: the
-- incremental poll had passed its start time (clock skew, a slow commit, a server restored
-- from a snapshot). watch_replica is each gateway replica's heartbeat: the live replicas share
-- the servers' leases between them (rendezvous hashing), see package watch.

-- +goose Up
ALTER TABLE archive_session ADD COLUMN found_late BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE watch_replica (
    holder  TEXT   PRIMARY KEY,
    seen_ns BIGINT NOT NULL
);

-- +goose Down
DROP TABLE watch_replica;
ALTER TABLE archive_session DROP COLUMN found_late;
