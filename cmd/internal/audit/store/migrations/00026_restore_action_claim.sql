-- A START whose answer was lost (outcome unknown), matched later to the VBO session the
-- gateway's own account opened (cmd/internal/restore/actionlog claim.go): a CLAIM row names the
-- START (ref_id) and the VBO session. One claim per START, and one START per VBO session on a
-- server. Portable DDL (SQLite and PostgreSQL).

-- +goose Up
CREATE UNIQUE INDEX restore_action_claim ON restore_action (ref_id) WHERE record = 'CLAIM';
CREATE UNIQUE INDEX restore_action_claim_vbo ON restore_action (server, vbo_session_id) WHERE record = 'CLAIM';

-- +goose Down
DROP INDEX restore_action_claim_vbo;
DROP INDEX restore_action_claim;
