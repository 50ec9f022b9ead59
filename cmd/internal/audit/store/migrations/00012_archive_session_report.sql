-- The restore audit report (restoreAudit, its CSV) reads the sessions started in a window and
-- groups them by who, from where, what, which organisation and day. This index holds every
-- column that report reads, led by the start time: the window is one range of it and no table
-- row is read (SQLite: SEARCH ... USING COVERING INDEX; PostgreSQL: an index-only scan). It
-- replaces the start-time index, which is its prefix.

-- +goose Up
CREATE INDEX archive_session_report ON archive_session
    (start_ns, server, org_id, org_name, initiated_by, client_machine, via_address, type, result, state, items, bytes);
DROP INDEX archive_session_start;

-- +goose Down
CREATE INDEX archive_session_start ON archive_session (start_ns);
DROP INDEX archive_session_report;
