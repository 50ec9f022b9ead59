-- The v8 change feed (issue 22 item 5). Portable DDL.

-- +goose Up
-- The change token the watcher reads /v8/Events from, checkpointed with the archive ('' before
-- the first, and on servers without a change feed).
ALTER TABLE watch_server ADD COLUMN change_token TEXT NOT NULL DEFAULT '';
-- When the watcher learnt that VBO deleted the session (a RestoreSessionDelete change, or a
-- 404 on re-reading it): the archive keeps the session, marked, and stops following it.
ALTER TABLE archive_session ADD COLUMN deleted_in_vbo_ns BIGINT;

-- +goose Down
ALTER TABLE archive_session DROP COLUMN deleted_in_vbo_ns;
ALTER TABLE watch_server DROP COLUMN change_token;
