package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrUnavailable: the database could not be reached or written (PostgreSQL down or refusing
// connections, a full disk, an I/O error, a read-only database...). Every error of the store
// that says so matches it with errors.Is and is an *UnavailableError naming the cause class;
// what failed is not the caller's request, and the same call can succeed once the database is
// back.
var ErrUnavailable = errors.New("store: the archive is unavailable")

// Cause classes of an UnavailableError (the label of the failure metric, in /readyz's body).
const (
	CauseConnection = "connection" // refused, reset or closed: the database cannot be reached
	CauseShutdown   = "shutdown"   // PostgreSQL is shutting down or starting up
	CauseDiskFull   = "disk_full"  // SQLITE_FULL, PostgreSQL 53100
	CauseIO         = "io"         // SQLITE_IOERR, PostgreSQL class 58
	CauseBusy       = "busy"       // locked beyond the busy timeout (SQLite)
	CauseResources  = "resources"  // PostgreSQL class 53 besides a full disk (memory, connections)
	CauseReadOnly   = "read_only"  // SQLITE_READONLY, PostgreSQL 25006 (a standby)
	CauseCantOpen   = "cant_open"  // SQLITE_CANTOPEN
	CauseCorrupt    = "corrupt"    // SQLITE_CORRUPT, SQLITE_NOTADB
	CauseClosed     = "closed"     // the store was closed
)

// UnavailableError is an operation's failure because the database could not be reached or
// written. Err is the driver's error, for logs only: clients are told the cause class.
type UnavailableError struct {
	Driver string // sqlite or postgres
	Cause  string // one of the Cause constants
	Err    error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("store (%s) unavailable (%s): %v", e.Driver, e.Cause, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) hold.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// StoreUnavailable returns the cause class; resolvers' error classifier recognises the error
// by this method (it does not import the store).
func (e *UnavailableError) StoreUnavailable() string { return e.Cause }

// UnavailableCause returns the cause class when err says the database could not be reached
// or written, and "" for any other error (a constraint, a missing row, a cancelled context).
func UnavailableCause(err error) string {
	if err == nil {
		return ""
	}
	if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
		return ue.Cause
	}
	if errors.Is(err, context.Canceled) {
		return "" // the caller gave up: says nothing about the database
	}
	if se := (*sqlite.Error)(nil); errors.As(err, &se) {
		return sqliteCause(se.Code())
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return pgCause(pe.Code)
	}
	if ce := (*pgconn.ConnectError)(nil); errors.As(err, &ce) {
		return CauseConnection
	}
	switch {
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return CauseConnection
	case errors.Is(err, syscall.ENOSPC):
		return CauseDiskFull
	case errors.Is(err, syscall.EIO):
		return CauseIO
	case errors.Is(err, syscall.EROFS):
		return CauseReadOnly
	}
	if ne := net.Error(nil); errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded) {
		return CauseConnection
	}
	// Errors the drivers do not export: pgxpool's closed pool (puddle.ErrClosedPool) and
	// database/sql's closed database.
	if msg := err.Error(); strings.Contains(msg, "closed pool") || strings.Contains(msg, "sql: database is closed") {
		return CauseClosed
	}
	return ""
}

// sqliteCause maps SQLite's primary result codes (the low byte of an extended code).
func sqliteCause(code int) string {
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return CauseDiskFull
	case sqlite3.SQLITE_IOERR:
		return CauseIO
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return CauseBusy
	case sqlite3.SQLITE_READONLY:
		return CauseReadOnly
	case sqlite3.SQLITE_CANTOPEN:
		return CauseCantOpen
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return CauseCorrupt
	}
	return ""
}

// pgCause maps PostgreSQL SQLSTATEs (appendix A of its manual).
func pgCause(code string) string {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return CauseConnection
	case code == "53100": // disk_full
		return CauseDiskFull
	case strings.HasPrefix(code, "53"): // insufficient resources
		return CauseResources
	case code == "57P01" || code == "57P02" || code == "57P03": // admin/crash shutdown, cannot connect now
		return CauseShutdown
	case strings.HasPrefix(code, "58"): // system error (io_error, ...)
		return CauseIO
	case code == "25006": // read_only_sql_transaction: a standby after a failover
		return CauseReadOnly
	}
	return ""
}

// WriteState is whether the archive can be written, as the store's own operations found it:
// a failure that says the database is unavailable (a read or a write) makes it unwritable, and
// only a committed write transaction makes it writable again.
type WriteState struct {
	Driver   string
	Writable bool
	// Since is when the archive became unwritable (zero while writable).
	Since time.Time
	// Cause is the class of the last unavailability ("" while writable).
	Cause string
	// Failures counts the operations that failed unavailable since the store opened, by cause.
	Failures map[string]uint64
}

// WriteState reports whether the archive can be written (see WriteState).
func (s *Store) WriteState() WriteState {
	if g, ok := s.eng.(*guarded); ok {
		return g.health.state()
	}
	return WriteState{Driver: s.driver, Writable: true}
}

// writeHealth tracks the archive's writability and logs each change once, with the cause.
type writeHealth struct {
	driver string
	logger *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	since    time.Time // zero while writable
	cause    string
	failures map[string]uint64
}

func (h *writeHealth) state() WriteState {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := make(map[string]uint64, len(h.failures))
	for k, v := range h.failures {
		f[k] = v
	}
	return WriteState{Driver: h.driver, Writable: h.since.IsZero(), Since: h.since, Cause: h.cause, Failures: f}
}

func (h *writeHealth) failed(cause string, err error) {
	h.mu.Lock()
	h.failures[cause]++
	changed := h.since.IsZero() || h.cause != cause
	if h.since.IsZero() {
		h.since = h.now()
	}
	h.cause = cause
	since := h.since
	h.mu.Unlock()
	if changed {
		h.logger.Warn("store: the archive cannot be written; reads from VBO keep working",
			"driver", h.driver, "cause", cause, "since", since, "err", err)
	}
}

func (h *writeHealth) wrote() {
	h.mu.Lock()
	was := h.since
	h.since, h.cause = time.Time{}, ""
	h.mu.Unlock()
	if !was.IsZero() {
		h.logger.Info("store: the archive is writable again", "driver", h.driver, "after", h.now().Sub(was).Round(time.Millisecond))
	}
}

// guarded wraps an engine: every error that says the database is unavailable becomes an
// *UnavailableError, and the outcomes feed writeHealth.
type guarded struct {
	engine
	health *writeHealth
}

func guard(eng engine, driver string, logger *slog.Logger) *guarded {
	return &guarded{engine: eng, health: &writeHealth{driver: driver, logger: logger, now: time.Now, failures: map[string]uint64{}}}
}

// check classifies err, records an unavailability and returns err typed.
func (g *guarded) check(err error) error {
	cause := UnavailableCause(err)
	if cause == "" {
		return err
	}
	g.health.failed(cause, err)
	if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
		return err
	}
	return &UnavailableError{Driver: g.health.driver, Cause: cause, Err: err}
}

func (g *guarded) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := g.engine.Query(ctx, q, args...)
	if err != nil {
		return nil, g.check(err)
	}
	return guardedRows{rows, g}, nil
}

func (g *guarded) queryCached(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := g.engine.queryCached(ctx, q, args...)
	if err != nil {
		return nil, g.check(err)
	}
	return guardedRows{rows, g}, nil
}

func (g *guarded) queryReport(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := g.engine.queryReport(ctx, q, args...)
	if err != nil {
		return nil, g.check(err)
	}
	return guardedRows{rows, g}, nil
}

func (g *guarded) QueryRow(ctx context.Context, q string, args ...any) Row {
	return guardedRow{g.engine.QueryRow(ctx, q, args...), g}
}

func (g *guarded) inTx(ctx context.Context, fn func(Tx) error) error {
	err := g.engine.inTx(ctx, fn)
	if err == nil {
		g.health.wrote()
		return nil
	}
	return g.check(err)
}

func (g *guarded) now(ctx context.Context) (time.Time, error) {
	t, err := g.engine.now(ctx)
	return t, g.check(err)
}

type guardedRow struct {
	Row
	g *guarded
}

func (r guardedRow) Scan(dest ...any) error { return r.g.check(r.Row.Scan(dest...)) }

type guardedRows struct {
	Rows
	g *guarded
}

func (r guardedRows) Scan(dest ...any) error { return r.g.check(r.Rows.Scan(dest...)) }
func (r guardedRows) Err() error             { return r.g.check(r.Rows.Err()) }
