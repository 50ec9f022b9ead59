-- The auditor's console (issue 26): when a person signed in with OpenID Connect last
-- authenticated, the ID token's auth_time in Unix nanoseconds, kept with the session so the
-- principal rebuilt on each request carries it and the step-up check of a restore to the
-- original location (restore.stepUpMaxAge) can accept a fresh sign-in. NULL for an API key's
-- session, an ID token without auth_time, and every session signed in before this migration
-- (never fresh: the person signs in again). Portable DDL (SQLite and PostgreSQL).

-- +goose Up
ALTER TABLE console_session ADD COLUMN auth_time_ns BIGINT;

-- +goose Down
ALTER TABLE console_session DROP COLUMN auth_time_ns;
