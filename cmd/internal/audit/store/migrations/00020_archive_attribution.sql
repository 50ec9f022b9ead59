-- Who started each archived session through the gateway (issue 24): the watcher joins the
-- restore front door's action log (package restore/actionlog) to the session when it archives
-- it, or later. Portable DDL.

-- +goose Up
-- through_gateway: the session was opened by the gateway's front door; person, display_name,
-- person_tenant and person_reason are then the action log's (the authenticated subject, the
-- JWT's name or email, its tenant, the reason given). Sessions from outside the gateway keep
-- FALSE and ''.
ALTER TABLE archive_session ADD COLUMN through_gateway BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE archive_session ADD COLUMN person TEXT NOT NULL DEFAULT '';
ALTER TABLE archive_session ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE archive_session ADD COLUMN person_tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE archive_session ADD COLUMN person_reason TEXT NOT NULL DEFAULT '';
-- attribution_pending: not decided yet (a START on the session's organisation was still
-- waiting for VBO's answer when the session was archived); rules wait for the decision.
ALTER TABLE archive_session ADD COLUMN attribution_pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX archive_session_attribution_pending ON archive_session (server) WHERE attribution_pending;
-- The report's covering index gains person (restoreAudit groupBy PERSON reads no table row).
CREATE INDEX archive_session_report_person ON archive_session
    (start_ns, server, org_id, org_name, initiated_by, client_machine, via_address, type, result, state, items, bytes, person);
DROP INDEX archive_session_report;

-- +goose Down
CREATE INDEX archive_session_report ON archive_session
    (start_ns, server, org_id, org_name, initiated_by, client_machine, via_address, type, result, state, items, bytes);
DROP INDEX archive_session_report_person;
DROP INDEX archive_session_attribution_pending;
ALTER TABLE archive_session DROP COLUMN attribution_pending;
ALTER TABLE archive_session DROP COLUMN person_reason;
ALTER TABLE archive_session DROP COLUMN person_tenant;
ALTER TABLE archive_session DROP COLUMN display_name;
ALTER TABLE archive_session DROP COLUMN person;
ALTER TABLE archive_session DROP COLUMN through_gateway;
