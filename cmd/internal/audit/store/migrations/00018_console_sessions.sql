-- The auditor's console (issue 26): signed-in sessions and sign-ins in progress, in the store so
-- every replica shares them. Spoken by cmd/internal/console alone. Times in Unix nanoseconds
-- like the archive. Only a SHA-256 of each cookie's secret is kept (a copy of the table signs
-- nobody in), and no credential: the principal is rebuilt from (kind, subject, tenant, role)
-- with the configuration in force on every request.

-- +goose Up
CREATE TABLE console_session (
    id_hash    TEXT   PRIMARY KEY,
    csrf       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    tenant     TEXT   NOT NULL DEFAULT '',
    role       TEXT   NOT NULL,
    created_ns BIGINT NOT NULL,
    expires_ns BIGINT NOT NULL
);
CREATE INDEX console_session_expires ON console_session (expires_ns);

-- One row per OpenID Connect sign-in under way: the PKCE verifier and nonce, until the
-- callback uses them (once) or they expire.
CREATE TABLE console_login (
    state_hash TEXT   PRIMARY KEY,
    verifier   TEXT   NOT NULL,
    nonce      TEXT   NOT NULL,
    return_to  TEXT   NOT NULL,
    expires_ns BIGINT NOT NULL
);

-- +goose Down
DROP TABLE console_login;
DROP TABLE console_session;
