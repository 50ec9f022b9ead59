-- The restore audit's per-day rollup (issue 26: the console's Overview over 100,000 sessions).
-- restoreAudit groups a window's sessions by server, organisation and the dimensions asked for;
-- grouping every session of a 30-day window costs a sort of all its rows. This table holds the
-- same counts per UTC day, already grouped, in five families (kind), each keyed by the
-- dimensions a report may ask for together:
--   k: a = type, b = state, c = result   (DAY, TYPE, RESULT, ORGANIZATION, TENANT; filters on type, state, result)
--   i: a = initiated_by                  (INITIATED_BY)
--   m: a = client_machine                (CLIENT_MACHINE)
--   v: a = via_address                   (VIA_ADDRESS)
--   p: a = person                        (PERSON)
-- Package store keeps it in the same transaction as every write of archive_session (the
-- archive's upserts, attribution decisions, prunes), so it always equals grouping the sessions
-- themselves; the whole days of a window are read from it, the partial days at its edges (and
-- any report it cannot answer) from archive_session. day is start_ns / 86400000000000 (integer
-- division, as the reports' DAY grouping computes it); first_ns and last_ns are the earliest and
-- latest session start of the group. Portable DDL; the backfill below fills it for the sessions
-- archived before this migration.

-- +goose Up
CREATE TABLE archive_rollup (
    kind      TEXT    NOT NULL,
    day       BIGINT  NOT NULL,
    server    TEXT    NOT NULL,
    org_id    TEXT    NOT NULL,
    org_name  TEXT    NOT NULL,
    a         TEXT    NOT NULL,
    b         TEXT    NOT NULL,
    c         TEXT    NOT NULL,
    sessions  BIGINT  NOT NULL,
    items     BIGINT  NOT NULL,
    bytes     BIGINT  NOT NULL,
    failed    BIGINT  NOT NULL,
    first_ns  BIGINT  NOT NULL,
    last_ns   BIGINT  NOT NULL,
    PRIMARY KEY (kind, day, server, org_id, org_name, a, b, c)
);
INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
SELECT 'k', start_ns / 86400000000000, server, org_id, org_name, type, state, result, COUNT(*), SUM(items), SUM(bytes),
    SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END), MIN(start_ns), MAX(start_ns)
FROM archive_session GROUP BY start_ns / 86400000000000, server, org_id, org_name, type, state, result;
INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
SELECT 'i', start_ns / 86400000000000, server, org_id, org_name, initiated_by, '', '', COUNT(*), SUM(items), SUM(bytes),
    SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END), MIN(start_ns), MAX(start_ns)
FROM archive_session GROUP BY start_ns / 86400000000000, server, org_id, org_name, initiated_by;
INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
SELECT 'm', start_ns / 86400000000000, server, org_id, org_name, client_machine, '', '', COUNT(*), SUM(items), SUM(bytes),
    SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END), MIN(start_ns), MAX(start_ns)
FROM archive_session GROUP BY start_ns / 86400000000000, server, org_id, org_name, client_machine;
INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
SELECT 'v', start_ns / 86400000000000, server, org_id, org_name, via_address, '', '', COUNT(*), SUM(items), SUM(bytes),
    SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END), MIN(start_ns), MAX(start_ns)
FROM archive_session GROUP BY start_ns / 86400000000000, server, org_id, org_name, via_address;
INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
SELECT 'p', start_ns / 86400000000000, server, org_id, org_name, person, '', '', COUNT(*), SUM(items), SUM(bytes),
    SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END), MIN(start_ns), MAX(start_ns)
FROM archive_session GROUP BY start_ns / 86400000000000, server, org_id, org_name, person;

-- +goose Down
DROP TABLE archive_rollup;
