// Package storetest gives tests a fresh, empty store on each database engine the store
// supports: SQLite in the test's temporary directory and PostgreSQL from pgtest (skipped,
// saying so, when no PostgreSQL is available). Test binaries that use PostgreSQL call
// pgtest.Main from TestMain.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/store/pgtest"
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
