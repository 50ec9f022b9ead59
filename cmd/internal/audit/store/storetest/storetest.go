// Package storetest gives tests a fresh, empty store on each database engine the store
// supports: SQLite in the test's temporary directory and PostgreSQL from pgtest (skipped,
// saying so, when no PostgreSQL is available). Test binaries that use PostgreSQL call
// pgtest.Main from TestMain.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
)

// Engine is one database engine, for tests that run on each.
type Engine struct {
	Name string
	// Options returns the options of a new, empty store on this engine.
	Options func(tb testing.TB) store.Options
}

// Engines returns SQLite then PostgreSQL.
func Engines() []Engine {
	return []Engine{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// SQLite returns the options of a new SQLite store in tb's temporary directory.
func SQLite(tb testing.TB) store.Options {
	return store.Options{Driver: store.DriverSQLite, Path: filepath.Join(tb.TempDir(), "gw.db")}
}

// Postgres returns the options of a new PostgreSQL database; it skips tb when none is available.
func Postgres(tb testing.TB) store.Options {
	return store.Options{Driver: store.DriverPostgres, DSN: pgtest.DSN(tb)}
}

// Open opens a store with o, failing tb when it cannot, and closes it when tb ends.
func Open(tb testing.TB, o store.Options) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, o)
	if err != nil {
		tb.Fatalf("open %s store: %v", o.Driver, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
