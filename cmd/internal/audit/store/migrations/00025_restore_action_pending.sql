-- Indexes for the two reads of the action log that ask for what is still waiting for VBO's
-- answer, both run over and over whatever the log's size. Spoken by
-- cmd/internal/restore/actionlog alone. Partial indexes are portable (SQLite and PostgreSQL);
-- the queries name the kinds and records as literals, as here, so both planners can prove
-- they select within the index (SQLite does not match an IN list of bound parameters to the
-- index's, and scanned the whole log; PostgreSQL's generic plans match no parameter):
-- actionlog's TestPendingReadsUseTheirIndexes checks the plans.

-- +goose Up
-- The front door's reaper, every tick (PendingItemActions: SEND, RESTORE_TO and
-- RESTORE_TO_ORIGINAL begun before a cutoff with no outcome, oldest first). It scanned and
-- sorted every record of the log, the sessions' browse steps and searches included; it now
-- walks the begin records of those kinds in its order (at_ns, id) and stops at its LIMIT (the
-- outcome and approval it joins are found by restore_action_outcome and restore_action_approve).
CREATE INDEX restore_action_item_pending ON restore_action (at_ns, id)
    WHERE record = 'BEGIN' AND kind IN ('SEND', 'RESTORE_TO', 'RESTORE_TO_ORIGINAL');
-- The watcher, for every batch it archives (PendingStartOrgs: the organisations of a server
-- with a START begun in the last few minutes and not answered): one range, server and recent
-- begin times, of the STARTs (restore_action_start leads with org_id after server, so a read of
-- every organisation at once walked all of the server's STARTs ever).
CREATE INDEX restore_action_start_recent ON restore_action (server, at_ns)
    WHERE record = 'BEGIN' AND kind = 'START';

-- +goose Down
DROP INDEX restore_action_start_recent;
DROP INDEX restore_action_item_pending;
