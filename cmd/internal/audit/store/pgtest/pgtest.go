// Package pgtest gives tests a real, throwaway PostgreSQL: one cluster per test binary, started
// on first use from Debian's initdb/postgres (found on PATH or under /usr/lib/postgresql/*/bin)
// in a temporary directory, listening on a loopback port, as the "postgres" (else "nobody")
// user when the tests run as root. Each DSN call gets a fresh database. Without the binaries
// the test is skipped with a message saying so.
//
// VBO_TEST_POSTGRES_DSN, when set, names an existing server to use instead (databases are
// created in it).
//
// Call Main from TestMain so the cluster stops when the tests end; the postmaster is also
// started with a parent-death signal, so it never outlives a test binary that crashes.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	once     sync.Once
	cluster  *server
	startErr error
	dbSeq    atomic.Int64
)

// server is a running (or external) PostgreSQL.
type server struct {
	adminDSN string // to the postgres database, as a superuser
	stop     func()
}

// Main runs the tests and then stops the cluster, if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil && cluster.stop != nil {
		cluster.stop()
	}
	return code
}

// DSN returns the DSN of a new, empty database; it skips t when no PostgreSQL is available.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { cluster, startErr = start() })
	if startErr != nil {
		t.Skipf("PostgreSQL tests skipped: %v", startErr)
	}
	name := fmt.Sprintf("t_%d_%d", time.Now().UnixNano()%1_000_000, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.adminDSN)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, cluster.adminDSN); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(cluster.adminDSN)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
