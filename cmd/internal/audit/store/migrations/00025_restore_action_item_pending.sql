-- The front door's reaper (issue 25) asks every tick for the item actions with no outcome yet
-- (actionlog's PendingItemActions: SEND, RESTORE_TO and RESTORE_TO_ORIGINAL begun before a
-- cutoff, oldest first). Without an index that read scanned and sorted every record of the log,
-- the sessions' browse steps and searches included. This partial index holds only the begin
-- records of those three kinds, in the read's order (at_ns, id), so the read walks it from the
-- oldest and stops at its LIMIT; the outcome and approval it joins are found by their own
-- indexes (restore_action_outcome, restore_action_approve). Partial indexes are portable
-- (SQLite and PostgreSQL); the query names the kinds as literals, as here, so both planners
-- can prove it selects within the index (a bound parameter would not): actionlog's
-- TestPendingItemActionsUseTheirIndex checks the plan.

-- +goose Up
CREATE INDEX restore_action_item_pending ON restore_action (at_ns, id)
    WHERE record = 'BEGIN' AND kind IN ('SEND', 'RESTORE_TO', 'RESTORE_TO_ORIGINAL');

-- +goose Down
DROP INDEX restore_action_item_pending;
