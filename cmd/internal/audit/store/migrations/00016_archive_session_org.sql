-- Session reads from the archive (the GraphQL restoreSessions of one organisation, or of a
-- tenant's organisations) select one server's sessions by their recorded organisation name,
-- newest first: this index makes that one range per name, not a walk of the server's sessions.

-- +goose Up
CREATE INDEX archive_session_org ON archive_session (server, org_name, start_ns);

-- +goose Down
DROP INDEX archive_session_org;
