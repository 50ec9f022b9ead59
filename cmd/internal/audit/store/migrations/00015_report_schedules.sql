-- Scheduled restore audit reports (issue 27): schedules, one run per (schedule, period) and
-- each run's deliveries. Spoken by cmd/internal/audit/schedules alone. Times in Unix
-- nanoseconds like the archive.

-- +goose Up
-- One row per schedule. definition is the schedule as written (JSON); secret is the whsec_
-- webhook signing secret ('' without a webhook URL).
CREATE TABLE report_schedule (
    id          TEXT   PRIMARY KEY,
    tenant      TEXT,
    name        TEXT   NOT NULL,
    definition  TEXT   NOT NULL,
    secret      TEXT   NOT NULL DEFAULT '',
    created_by  TEXT   NOT NULL,
    created_ns  BIGINT NOT NULL,
    updated_ns  BIGINT NOT NULL
);
CREATE INDEX report_schedule_tenant ON report_schedule (tenant);

-- One row per report made. A scheduled period has at most one run, for good (River's own
-- uniqueness lasts as long as its finished jobs are kept); on-demand runs any number.
CREATE TABLE report_run (
    id           TEXT    PRIMARY KEY,
    schedule_id  TEXT    NOT NULL,
    from_ns      BIGINT  NOT NULL,
    to_ns        BIGINT  NOT NULL,
    on_demand    BOOLEAN NOT NULL DEFAULT FALSE,
    status       TEXT    NOT NULL,
    complete     BOOLEAN NOT NULL DEFAULT FALSE,
    coverage     TEXT    NOT NULL DEFAULT '[]',
    rows_n       BIGINT  NOT NULL DEFAULT 0,
    sessions_n   BIGINT  NOT NULL DEFAULT 0,
    csv          TEXT    NOT NULL DEFAULT '',
    summary_html TEXT    NOT NULL DEFAULT '',
    summary_text TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    created_ns   BIGINT  NOT NULL,
    finished_ns  BIGINT
);
CREATE UNIQUE INDEX report_run_once ON report_run (schedule_id, from_ns) WHERE NOT on_demand;
CREATE INDEX report_run_schedule ON report_run (schedule_id, created_ns);

-- One row per (run, channel, target): the webhook, or one email recipient.
CREATE TABLE report_delivery (
    id              TEXT   PRIMARY KEY,
    run_id          TEXT   NOT NULL,
    channel         TEXT   NOT NULL,
    target          TEXT   NOT NULL,
    message_id      TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT   NOT NULL DEFAULT '',
    payload         TEXT   NOT NULL DEFAULT '',
    next_attempt_ns BIGINT,
    created_ns      BIGINT NOT NULL,
    updated_ns      BIGINT NOT NULL
);
CREATE INDEX report_delivery_run ON report_delivery (run_id);

-- +goose Down
DROP TABLE report_delivery;
DROP TABLE report_run;
DROP TABLE report_schedule;
