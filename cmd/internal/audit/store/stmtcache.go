package store

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps prepared statements of one *sql.DB by query text, at most max of them (the
// least recently used is closed first), so the read path's fixed-text queries are parsed once
// per connection instead of once per call (SQLite parses every statement it runs; modernc's
// Query prepares and finalizes each time). database/sql prepares a cached *sql.Stmt again on
// each pooled connection it runs on and keeps those too; closing one waits for its open rows.
// Safe for concurrent use. PostgreSQL needs none of it: pgx keeps each connection's prepared
// statements by text itself.
type stmtCache struct {
	db  *sql.DB
	max int

	mu     sync.Mutex
	byText map[string]*list.Element // of *cachedStmt
	lru    *list.List               // front: most recently used
	closed bool
}

// cachedStmt is one cached statement; users count the queries starting on it (it is closed
// when evicted and unused).
type cachedStmt struct {
	text    string
	stmt    *sql.Stmt
	users   int
	evicted bool
}

// errStmtCacheClosed: the store is closed.
var errStmtCacheClosed = errors.New("store: closed")

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, byText: map[string]*list.Element{}, lru: list.New()}
}

// query runs q through its cached statement (prepared on first use).
func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	cs, err := c.acquire(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.QueryContext(ctx, args...)
	c.release(cs)
	return rows, err
}

// acquire is q's statement, counted as used until release.
func (c *stmtCache) acquire(ctx context.Context, q string) (*cachedStmt, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errStmtCacheClosed
	}
	if el, ok := c.byText[q]; ok {
		c.lru.MoveToFront(el)
		cs := el.Value.(*cachedStmt)
		cs.users++
		c.mu.Unlock()
		return cs, nil
	}
	c.mu.Unlock()
	// Prepared outside the lock: a long parse holds no other query up.
	stmt, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = stmt.Close()
		return nil, errStmtCacheClosed
	}
	if el, ok := c.byText[q]; ok { // prepared meanwhile by another caller: keep that one
		_ = stmt.Close()
		c.lru.MoveToFront(el)
		cs := el.Value.(*cachedStmt)
		cs.users++
		return cs, nil
	}
	cs := &cachedStmt{text: q, stmt: stmt, users: 1}
	c.byText[q] = c.lru.PushFront(cs)
	for c.lru.Len() > c.max {
		old := c.lru.Back().Value.(*cachedStmt)
		c.evictLocked(old)
	}
	return cs, nil
}

// release ends one use of cs, closing it when it was evicted meanwhile.
func (c *stmtCache) release(cs *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.users--
	if cs.evicted && cs.users == 0 {
		_ = cs.stmt.Close()
	}
}

// evictLocked drops cs from the cache and closes it unless a query is starting on it (then
// release closes it). Rows already open keep their connection's statement until they close
// (database/sql waits for them).
func (c *stmtCache) evictLocked(cs *cachedStmt) {
	if el, ok := c.byText[cs.text]; ok {
		c.lru.Remove(el)
		delete(c.byText, cs.text)
	}
	cs.evicted = true
	if cs.users == 0 {
		_ = cs.stmt.Close()
	}
}

// len is how many statements are cached.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// close closes every cached statement; later queries fail.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for c.lru.Len() > 0 {
		c.evictLocked(c.lru.Back().Value.(*cachedStmt))
	}
}
