-- One-time download links of restore actions (issue 25). Spoken by cmd/internal/restore/download
-- alone. The token itself is never stored: token_hash is the SHA-256 (hex) of the 256-bit token
-- handed to the person, so a copy of the database cannot be used to download. Times in Unix
-- nanoseconds like the archive.

-- +goose Up
-- One row per issued link. claimed_ns is set exactly once (the claim is a conditional UPDATE,
-- atomic on both engines and across replicas); status moves ISSUED -> STREAMING -> SUCCEEDED |
-- FAILED, or ISSUED -> EXPIRED (Sweep). source is the caller's descriptor of what to fetch
-- (JSON, opaque to the download package, never a secret).
CREATE TABLE restore_download (
    token_hash   TEXT    PRIMARY KEY,
    action_id    TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    person       TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    file_name    TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL,
    created_ns   BIGINT  NOT NULL,
    expires_ns   BIGINT  NOT NULL,
    claimed_ns   BIGINT,
    completed_ns BIGINT,
    bytes        BIGINT  NOT NULL DEFAULT 0,
    sha256       TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX restore_download_action ON restore_download (action_id);
CREATE INDEX restore_download_expires ON restore_download (status, expires_ns);

-- +goose Down
DROP TABLE restore_download;
