package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// openCacheDB is a SQLite database with a table t of rows 1..3, for the statement cache.
func openCacheDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "c.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(3)
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// rowCounter counts a query's rows, failing t on an error.
func rowCounter(t *testing.T) func(*sql.Rows, error) int {
	return func(rows *sql.Rows, err error) int {
		t.Helper()
		return countRows(t, rows, err)
	}
}

func countRows(t *testing.T, rows *sql.Rows, err error) int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// The cache keeps at most max statements, the most recently used; an evicted statement whose
// rows are still open answers them to the end; a query of an evicted text prepares it again;
// after close every statement is closed and queries fail.
func TestStmtCacheBoundedAndClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newStmtCache(openCacheDB(t), 3)
	count := rowCounter(t)
	text := func(i int) string {
		return fmt.Sprintf("SELECT n FROM t WHERE n >= %d", i%3+1) + fmt.Sprintf(" /* %d */", i)
	}
	open, err := c.query(ctx, text(0)) // held open while text(0) is evicted
	if err != nil {
		t.Fatal(err)
	}
	first := c.byText[text(0)].Value.(*cachedStmt)
	for i := range 10 {
		if n := count(c.query(ctx, text(i))); n != 3-i%3 {
			t.Fatalf("query %d: %d rows, want %d", i, n, 3-i%3)
		}
		if c.len() > 3 {
			t.Fatalf("after %d texts: %d statements cached, want at most 3", i+1, c.len())
		}
	}
	if !first.evicted {
		t.Error("the first text is still cached after 9 others")
	}
	if _, ok := c.byText[text(9)]; !ok {
		t.Error("the most recent text is not cached")
	}
	if n := countRows(t, open, nil); n != 3 {
		t.Errorf("rows open on an evicted statement: %d, want 3", n)
	}
	if n := count(c.query(ctx, text(0))); n != 3 {
		t.Errorf("an evicted text again: %d rows, want 3", n)
	}
	cached := make([]*cachedStmt, 0, c.len())
	for el := c.lru.Front(); el != nil; el = el.Next() {
		cached = append(cached, el.Value.(*cachedStmt))
	}
	c.close()
	if c.len() != 0 {
		t.Errorf("%d statements cached after close", c.len())
	}
	for _, cs := range cached {
		if _, err := cs.stmt.QueryContext(ctx); err == nil {
			t.Errorf("statement %q still open after close", cs.text)
		}
	}
	if _, err := c.query(ctx, text(1)); !errors.Is(err, errStmtCacheClosed) {
		t.Errorf("query after close: %v, want errStmtCacheClosed", err)
	}
}

// Concurrent queries of more texts than the cache holds all answer (none runs on a statement
// closed under it), and the cache ends bounded.
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newStmtCache(openCacheDB(t), 2)
	defer c.close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rows, err := c.query(ctx, fmt.Sprintf("SELECT n FROM t /* %d */", (g+i)%5))
				if err != nil {
					errs <- err
					return
				}
				n := 0
				for rows.Next() {
					n++
				}
				_ = rows.Close()
				if n != 3 {
					errs <- fmt.Errorf("%d rows", n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.len() > 2 {
		t.Errorf("%d statements cached, want at most 2", c.len())
	}
}

// The store's read path keeps its statements (the list batch's is one text whatever the
// lists), and Close closes them.
func TestStoreKeepsReadStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	eng := s.eng.(*guarded).engine.(*sqliteEngine)
	if _, err := s.EnsureServer(ctx, "syd1", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.AcquireLease(ctx, "syd1", "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := s.Archive(ctx, l, []Change{{Session: Session{Server: "syd1", Session: upstream.RestoreSession{ID: "s1",
		Organization: "Contoso", CreationTime: time.Unix(100, 0).UTC()}}}}, Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ {
		qs := make([]ListQuery, n)
		for i := range qs {
			qs[i] = ListQuery{Servers: []string{"syd1"}, Limit: 10, Orgs: map[string]map[string]bool{"syd1": {"contoso": true}}}
		}
		lists, err := s.ListSessionsBatch(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lists {
			if len(l) != 1 {
				t.Fatalf("a list of %d sessions, want s1", len(l))
			}
		}
		if _, err := s.EventsOfSessions(ctx, "syd1", make([]string, n), 0, 10, 0); err != nil {
			t.Fatal(err)
		}
	}
	// orgNames', the probes' and EventsOfSessions'.
	if got := eng.stmts.len(); got != 3 {
		t.Errorf("%d statements cached after batches of 1 to 5 lists, want 3", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !eng.stmts.closed || eng.stmts.len() != 0 {
		t.Errorf("statements left after Close: %d", eng.stmts.len())
	}
}

// Migration 00024 rebuilds SQLite's archive_event WITHOUT ROWID with every event as it was,
// and its down migration rebuilds it with a rowid again, the events kept.
func TestArchiveEventClusteredMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	db, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := provider(t, db)
	if _, err := p.UpTo(ctx, 23); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO archive_event (server, session_id, ord, id, type, status, start_ns, end_ns, title, item_size, seq)
		VALUES ('syd1', 's1', 0, 'e0', 'Export', 'Success', 5, NULL, 'first', 12, 1), ('syd1', 's1', 1, 'e1', 'None', 'Failed', 6, 7, '', NULL, 2),
		('mel1', 's1', 0, 'e9', 'View', 'Success', 1, 2, 'x', 3, 1)`); err != nil {
		t.Fatal(err)
	}
	dump := func() string {
		rows, err := db.Query(`SELECT ` + archiveEventCols + ` FROM archive_event ORDER BY server, session_id, ord`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		out := ""
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprintln(vals...)
		}
		return out
	}
	hasRowid := func() bool {
		_, err := db.Exec(`SELECT rowid FROM archive_event`)
		return err == nil
	}
	before := dump()
	if !hasRowid() {
		t.Fatal("archive_event has no rowid before 00024")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if hasRowid() {
		t.Error("archive_event has a rowid after 00024")
	}
	if got := dump(); got != before {
		t.Errorf("events after 00024:\n%s\nwant\n%s", got, before)
	}
	if _, err := p.DownTo(ctx, 23); err != nil {
		t.Fatal(err)
	}
	if !hasRowid() {
		t.Error("archive_event has no rowid after 00024's down")
	}
	if got := dump(); got != before {
		t.Errorf("events after 00024's down:\n%s\nwant\n%s", got, before)
	}
}

func provider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	p, err := newProvider(goose.DialectSQLite3, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
