package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

// sqliteEngine: one writer connection (SQLite allows one writer at a time; queueing in Go
// instead of on SQLITE_BUSY), a small pool of readers (WAL lets them read while it writes) for
// the watcher, the feed, the rules and the webhooks, and a pool of its own for reports and
// exports (QueryReport), so long report reads never take the readers the others need.
type sqliteEngine struct {
	writer  *sql.DB
	reader  *sql.DB
	reports *sql.DB
	// stmts are the readers' prepared statements of the read path's fixed-text queries.
	stmts *stmtCache
}

// SQLite pool sizes: the readers, and the report readers beside them; and how many prepared
// statements the readers keep (each on every reader connection it ran on).
const (
	sqliteReaders       = 4
	sqliteReportReaders = 2
	sqliteCachedStmts   = 32
)

func sqliteDSN(path string, immediate bool) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	if immediate {
		q.Set("_txlock", "immediate") // take the write lock at BEGIN: no upgrade deadlocks
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string) (*sqliteEngine, error) {
	if path == "" {
		return nil, errors.New("store: sqlite needs a path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := migrate(ctx, goose.DialectSQLite3, w, nil); err != nil {
		_ = w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(sqliteReaders)
	// Every reader stays open (database/sql keeps 2 idle by default): a closed one loses its
	// page cache and a new one reads the schema again.
	r.SetMaxIdleConns(sqliteReaders)
	rep, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		_ = errors.Join(r.Close(), w.Close())
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	rep.SetMaxOpenConns(sqliteReportReaders)
	rep.SetMaxIdleConns(sqliteReportReaders)
	return &sqliteEngine{writer: w, reader: r, reports: rep, stmts: newStmtCache(r, sqliteCachedStmts)}, nil
}

func (e *sqliteEngine) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := e.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (e *sqliteEngine) queryCached(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := e.stmts.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (e *sqliteEngine) queryReport(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := e.reports.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (e *sqliteEngine) QueryRow(ctx context.Context, q string, args ...any) Row {
	return e.reader.QueryRowContext(ctx, q, args...)
}

func (e *sqliteEngine) inTx(ctx context.Context, fn func(Tx) error) error {
	tx, err := e.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(sqlTx{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (e *sqliteEngine) now(context.Context) (time.Time, error) { return time.Now().UTC(), nil }

func (e *sqliteEngine) notify(context.Context, Tx, string) error { return nil }

func (e *sqliteEngine) listen(context.Context, func(string)) {}

func (e *sqliteEngine) native() any { return e.writer }

func (e *sqliteEngine) close() error {
	e.stmts.close()
	return errors.Join(e.reports.Close(), e.reader.Close(), e.writer.Close())
}

// sqlTx adapts *sql.Tx.
type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t sqlTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t sqlTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t sqlTx) Native() any { return t.tx }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
