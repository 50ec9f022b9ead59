-- Restore item actions (issue 25 item 6): what an action's records carry besides the session
-- steps of 00017. Spoken by cmd/internal/restore/actionlog alone; every column is inside the
-- record's hash (a column left at its default leaves the hashes of older records unchanged).

-- +goose Up
-- items and recipients are JSON arrays; counts are the outcome's (has_counts: given at all).
ALTER TABLE restore_action ADD COLUMN items TEXT NOT NULL DEFAULT '';
ALTER TABLE restore_action ADD COLUMN item_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE restore_action ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE restore_action ADD COLUMN destructive BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE restore_action ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
ALTER TABLE restore_action ADD COLUMN approval_until_ns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN has_counts BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE restore_action ADD COLUMN created_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN merged_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN skipped_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN failed_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restore_action ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
-- A client retry (same tenant, person and key) finds the first action instead of a second.
CREATE UNIQUE INDEX restore_action_idempotency ON restore_action (actor_tenant, person, idempotency_key)
    WHERE record = 'BEGIN' AND idempotency_key <> '';
-- An action is approved once: its APPROVE record names it in ref_id.
CREATE UNIQUE INDEX restore_action_approve ON restore_action (ref_id) WHERE record = 'BEGIN' AND kind = 'APPROVE';
CREATE INDEX restore_action_awaiting ON restore_action (actor_tenant, position) WHERE approval_until_ns <> 0;

-- +goose Down
DROP INDEX restore_action_awaiting;
DROP INDEX restore_action_approve;
DROP INDEX restore_action_idempotency;
ALTER TABLE restore_action DROP COLUMN sha256;
ALTER TABLE restore_action DROP COLUMN bytes;
ALTER TABLE restore_action DROP COLUMN failed_n;
ALTER TABLE restore_action DROP COLUMN skipped_n;
ALTER TABLE restore_action DROP COLUMN merged_n;
ALTER TABLE restore_action DROP COLUMN created_n;
ALTER TABLE restore_action DROP COLUMN has_counts;
ALTER TABLE restore_action DROP COLUMN approval_until_ns;
ALTER TABLE restore_action DROP COLUMN idempotency_key;
ALTER TABLE restore_action DROP COLUMN destructive;
ALTER TABLE restore_action DROP COLUMN recipients;
ALTER TABLE restore_action DROP COLUMN target;
ALTER TABLE restore_action DROP COLUMN item_count;
ALTER TABLE restore_action DROP COLUMN items;
