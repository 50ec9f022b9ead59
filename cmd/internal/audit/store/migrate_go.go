package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// The migrations that differ between the engines, in Go (migrations/ holds the portable SQL
// ones; goose runs both in version order).

// archiveEventColumns is archive_event's DDL body (00001_archive.sql).
const archiveEventColumns = `
    server     TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    ord        BIGINT  NOT NULL,
    id         TEXT    NOT NULL,
    type       TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL DEFAULT '',
    start_ns   BIGINT  NOT NULL,
    end_ns     BIGINT,
    duration   TEXT    NOT NULL DEFAULT '',
    title      TEXT    NOT NULL DEFAULT '',
    message    TEXT    NOT NULL DEFAULT '',
    item_name  TEXT    NOT NULL DEFAULT '',
    item_type  TEXT    NOT NULL DEFAULT '',
    item_size  BIGINT,
    source     TEXT    NOT NULL DEFAULT '',
    target     TEXT    NOT NULL DEFAULT '',
    seq        BIGINT  NOT NULL,
    PRIMARY KEY (server, session_id, ord)`

// archiveEventCols are its columns, in order.
const archiveEventCols = `server, session_id, ord, id, type, status, start_ns, end_ns, duration, title, message,
    item_name, item_type, item_size, source, target, seq`

// goMigrations are the Go migrations for dialect.
//
// 00024 archive_event clustered by its key (issue 28): reads from the archive take a page of
// every session of a response's events (EventsOfSessions: one range of (server, session_id,
// ord) per session). On SQLite the table had a rowid, so each event was a lookup from the
// primary key's index into the table; rebuilt WITHOUT ROWID, the rows are stored in key order
// and a session's events are one range of the table itself. PostgreSQL keeps its layout (a
// heap and the primary key's index): the version is recorded and nothing changes.
func goMigrations(dialect goose.Dialect) []*goose.Migration {
	rebuild := func(ddlSuffix string) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			for _, q := range []string{
				`CREATE TABLE archive_event_new (` + archiveEventColumns + `)` + ddlSuffix,
				`INSERT INTO archive_event_new (` + archiveEventCols + `) SELECT ` + archiveEventCols + ` FROM archive_event`,
				`DROP TABLE archive_event`,
				`ALTER TABLE archive_event_new RENAME TO archive_event`,
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("archive_event clustered: %w", err)
				}
			}
			return nil
		}
	}
	if dialect != goose.DialectSQLite3 {
		return []*goose.Migration{goose.NewGoMigration(24, &goose.GoFunc{}, &goose.GoFunc{})}
	}
	return []*goose.Migration{goose.NewGoMigration(24, &goose.GoFunc{RunTx: rebuild(" WITHOUT ROWID")}, &goose.GoFunc{RunTx: rebuild("")})}
}
