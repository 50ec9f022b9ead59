package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

func TestUnavailableCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"no row", sql.ErrNoRows, ""},
		{"lease lost", store.ErrLeaseLost, ""},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), ""},
		{"unique violation", &pgconn.PgError{Code: "23505"}, ""},
		{"serialization", &pgconn.PgError{Code: "40001"}, ""},
		{"pg disk full", fmt.Errorf("commit: %w", &pgconn.PgError{Code: "53100"}), store.CauseDiskFull},
		{"pg too many connections", &pgconn.PgError{Code: "53300"}, store.CauseResources},
		{"pg admin shutdown", &pgconn.PgError{Code: "57P01"}, store.CauseShutdown},
		{"pg starting up", &pgconn.PgError{Code: "57P03"}, store.CauseShutdown},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, store.CauseConnection},
		{"pg io error", &pgconn.PgError{Code: "58030"}, store.CauseIO},
		{"pg standby", &pgconn.PgError{Code: "25006"}, store.CauseReadOnly},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.CauseConnection},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.CauseConnection},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), store.CauseConnection},
		{"no space", fmt.Errorf("write: %w", syscall.ENOSPC), store.CauseDiskFull},
		{"closed pool", errors.New("closed pool"), store.CauseClosed},
		{"typed already", &store.UnavailableError{Driver: "sqlite", Cause: store.CauseBusy, Err: errors.New("x")}, store.CauseBusy},
	} {
		if got := store.UnavailableCause(tc.err); got != tc.want {
			t.Errorf("%s: UnavailableCause(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}

// assertUnavailable checks err is typed unavailable with cause and that the store's write state
// says so.
func assertUnavailable(t *testing.T, s *store.Store, err error, cause string) {
	t.Helper()
	var ue *store.UnavailableError
	if !errors.Is(err, store.ErrUnavailable) || !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want store.ErrUnavailable", err, err)
	}
	if ue.Cause != cause {
		t.Fatalf("cause %q, want %q (err %v)", ue.Cause, cause, err)
	}
	ws := s.WriteState()
	if ws.Writable || ws.Cause != cause || ws.Since.IsZero() || ws.Failures[cause] == 0 {
		t.Fatalf("write state %+v, want unwritable with cause %s", ws, cause)
	}
}

func writeSomething(ctx context.Context, s *store.Store, name string) error {
	_, err := s.EnsureServer(ctx, name, time.Now().Add(-time.Hour))
	return err
}

// A SQLite archive that refuses writes (query_only: as a read-only file would) answers
// ErrUnavailable (read_only) and is unwritable until a write commits again.
func TestSQLiteReadOnlyIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.Open(t, storetest.SQLite(t))
	if !s.WriteState().Writable {
		t.Fatal("a new store is not writable")
	}
	db := s.Native().(*sql.DB) // the single writer connection
	if _, err := db.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	err := writeSomething(ctx, s, "syd1")
	assertUnavailable(t, s, err, store.CauseReadOnly)
	// Reads keep working and do not make it writable.
	if _, err := s.States(ctx); err != nil {
		t.Fatalf("read while read-only: %v", err)
	}
	if s.WriteState().Writable {
		t.Fatal("a read made the archive writable")
	}
	if _, err := db.ExecContext(ctx, "PRAGMA query_only = OFF"); err != nil {
		t.Fatal(err)
	}
	if err := writeSomething(ctx, s, "syd1"); err != nil {
		t.Fatal(err)
	}
	if ws := s.WriteState(); !ws.Writable || ws.Failures[store.CauseReadOnly] != 1 {
		t.Fatalf("after a committed write: %+v", ws)
	}
}

// A full SQLite disk (max_page_count reached: SQLITE_FULL) answers ErrUnavailable (disk_full).
func TestSQLiteDiskFullIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.Open(t, storetest.SQLite(t))
	db := s.Native().(*sql.DB)
	var pages int
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE filler (x BLOB)")
		if err == nil {
			_, err = tx.Exec(ctx, "INSERT INTO filler VALUES (randomblob(1000000))")
		}
		return err
	})
	assertUnavailable(t, s, err, store.CauseDiskFull)
}

// PostgreSQL stopped (its port refusing connections, open connections cut): reads and writes
// answer ErrUnavailable (connection); once it is back, a write makes the archive writable.
func TestPostgresStoppedIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	proxy, dsn := pgtest.NewProxy(t, pgtest.DSN(t))
	s := storetest.Open(t, store.Options{Driver: store.DriverPostgres, DSN: dsn})
	if err := writeSomething(ctx, s, "syd1"); err != nil {
		t.Fatal(err)
	}
	proxy.Stop()
	_, err := s.State(ctx, "syd1")
	assertUnavailable(t, s, err, store.CauseConnection)
	err = writeSomething(ctx, s, "mel1")
	assertUnavailable(t, s, err, store.CauseConnection)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for err = writeSomething(ctx, s, "mel1"); err != nil; err = writeSomething(ctx, s, "mel1") {
		if time.Now().After(deadline) {
			t.Fatalf("still failing after PostgreSQL came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !s.WriteState().Writable {
		t.Fatalf("write state %+v after a committed write", s.WriteState())
	}
}
