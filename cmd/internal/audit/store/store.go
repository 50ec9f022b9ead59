// Package store keeps what must outlive a request: the archive of restore sessions (with their
// events and item totals), the watcher's per-server checkpoints and leases, and the feed that
// subscriptions replay and follow.
//
// Two engines sit behind one small internal interface (engine): SQLite (modernc.org/sqlite, pure
// Go, WAL, one writer connection) for a single process, and PostgreSQL (pgx v5) for several
// replicas. The SQL is shared ('?' placeholders, rewritten to $n for PostgreSQL); the schema is
// one set of portable goose migrations, embedded and applied at Open (on PostgreSQL under
// goose's advisory-lock session locker, so replicas starting together migrate once).
//
// # Writing the archive, and doing more in the same transaction
//
// The watcher hands Archive one batch per transaction: sessions (new or changed) with the
// events read for them, and the server's new checkpoint. Archive, in ONE transaction:
//
//  1. checks the caller still holds the server's lease (a fencing token: a replica that lost
//     its lease cannot write, see Lease) and allocates feed sequence numbers under that row's
//     lock, which orders commits per server;
//  2. upserts each session by (server, id), appends its new events (idempotent by order),
//     and appends feed entries: "started" when a session is first archived, "events" when
//     events were added, "ended" once it has stopped and all its events are archived;
//  3. advances the checkpoint;
//  4. calls the Hook, if any, once per changed session, with the transaction itself;
//  5. on PostgreSQL, NOTIFY vbo_gateway_watch (delivered on commit) tells every replica's feed
//     reader which server moved; in-process listeners are called after commit on both engines.
//
// The hook is how more work joins the archive's transaction (trigger rules, webhook outbox):
//
//	type Hook func(ctx context.Context, tx Tx, c Archived) error
//
// Archived says what happened (New, Ended, the events added, Backfill) and carries the session
// as archived. The hook may read and write through tx (Exec/Query with '?' placeholders on both
// engines) or use the engine's own transaction, tx.Native(): *sql.Tx on SQLite, pgx.Tx on
// PostgreSQL (e.g. River's InsertTx). An error from the hook rolls the whole batch back and the
// watcher retries it on its next poll, so what the hook writes happens exactly once per
// (session, change), together with the archive or not at all. The watcher takes the hook in
// its options (watch.Options.Hook).
//
// A process killed mid-batch leaves the previous commit: the checkpoint never passes a session
// that is not archived, and the next poll re-reads from it.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Options open a store.
type Options struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string
	// Path is the SQLite database file.
	Path string
	// DSN is the PostgreSQL connection string (from the environment; never logged).
	DSN    string
	Logger *slog.Logger
}

// Errors callers branch on.
var (
	// ErrLeaseLost: the caller no longer holds the server's lease (it expired and another
	// replica took it). Nothing was written.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("store: not found")
)

// Tx is one store transaction. Placeholders are '?' on both engines.
type Tx interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Native is the engine's own transaction: *sql.Tx (SQLite) or pgx.Tx (PostgreSQL).
	Native() any
}

// Rows iterates a query's rows.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Collect reads every row with scan and closes rows.
func Collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a row of one text column (Collect's scan).
func scanString(r Row) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// engine is what differs between SQLite and PostgreSQL.
type engine interface {
	Querier
	// queryCached is Query for the read path's fixed-text queries: SQLite keeps their prepared
	// statements (stmtCache); pgx keeps every query's per connection anyway.
	queryCached(ctx context.Context, query string, args ...any) (Rows, error)
	// queryReport is Query on capacity of its own (see Store.QueryReport).
	queryReport(ctx context.Context, query string, args ...any) (Rows, error)
	// inTx runs fn in a write transaction and commits when it returns nil.
	inTx(ctx context.Context, fn func(Tx) error) error
	// now is the engine's clock (PostgreSQL: the database server's, shared by all replicas).
	now(ctx context.Context) (time.Time, error)
	// notify announces, inside tx, that server's feed moved (delivered on commit).
	notify(ctx context.Context, tx Tx, server string) error
	// listen calls fn with the server named by every notification from other processes until
	// ctx ends (SQLite: one process, returns at once). After a reconnect it calls fn("").
	listen(ctx context.Context, fn func(server string))
	native() any
	close() error
}

// Store is the archive, checkpoints, leases and feed on one engine. Safe for concurrent use.
type Store struct {
	eng    engine
	driver string
	logger *slog.Logger

	mu        sync.Mutex
	listeners map[int]func(server string)
	nextID    int
}

// Open opens (creating if needed) the store and applies the migrations.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var eng engine
	var err error
	switch o.Driver {
	case "", DriverSQLite:
		o.Driver = DriverSQLite
		eng, err = openSQLite(ctx, o.Path)
	case DriverPostgres:
		eng, err = openPostgres(ctx, o.DSN, o.Logger)
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", o.Driver)
	}
	if err != nil {
		return nil, err
	}
	return &Store{eng: guard(eng, o.Driver, o.Logger), driver: o.Driver, logger: o.Logger, listeners: map[int]func(string){}}, nil
}

// Driver is "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Native is the engine's connection pool: *sql.DB (SQLite, the single writer) or
// *pgxpool.Pool (PostgreSQL), for libraries that keep their own tables in the same database.
func (s *Store) Native() any { return s.eng.native() }

// Close closes the database.
func (s *Store) Close() error { return s.eng.close() }

// Now is the store's clock (on PostgreSQL the database server's).
func (s *Store) Now(ctx context.Context) (time.Time, error) { return s.eng.now(ctx) }

// InTx runs fn in one write transaction (for callers that keep their own tables here).
func (s *Store) InTx(ctx context.Context, fn func(Tx) error) error { return s.eng.inTx(ctx, fn) }

// OnChange registers fn to be called with a server's name whenever its feed moves, in this
// process or (PostgreSQL) any other; with "" when notifications may have been missed (a
// reconnect). fn must not block. The returned function unregisters it.
func (s *Store) OnChange(fn func(server string)) (cancel func()) {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.listeners, id)
		s.mu.Unlock()
	}
}

// Listen relays other processes' notifications to the OnChange listeners until ctx ends.
func (s *Store) Listen(ctx context.Context) { s.eng.listen(ctx, s.changed) }

func (s *Store) changed(server string) {
	s.mu.Lock()
	fns := make([]func(string), 0, len(s.listeners))
	for _, fn := range s.listeners {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(server)
	}
}

// Totals are a session's item totals, computed from its item events (type other than None).
type Totals struct {
	Items       int64
	Bytes       int64
	ByEventType map[string]int64 // Restore, Export, Send, Save, View...
	ByItemType  map[string]int64 // VBO's itemType text
	FirstItem   *time.Time       // earliest item event start
	LastItem    *time.Time       // latest item event end (or start while running)
}

// Add counts events into t.
func (t *Totals) Add(events []upstream.RestoreSessionEvent) {
	for i := range events {
		e := &events[i]
		if e.Type == upstream.EventTypeNone {
			continue
		}
		t.Items++
		if e.ItemSizeBytes != nil {
			t.Bytes += *e.ItemSizeBytes
		}
		if t.ByEventType == nil {
			t.ByEventType = map[string]int64{}
		}
		if t.ByItemType == nil {
			t.ByItemType = map[string]int64{}
		}
		t.ByEventType[string(e.Type)]++
		t.ByItemType[e.ItemType]++
		start := e.StartTime.UTC()
		if t.FirstItem == nil || start.Before(*t.FirstItem) {
			t.FirstItem = &start
		}
		last := start
		if e.EndTime != nil && e.EndTime.After(last) {
			last = e.EndTime.UTC()
		}
		if t.LastItem == nil || last.After(*t.LastItem) {
			t.LastItem = &last
		}
	}
}

// Session is an archived restore session.
type Session struct {
	Server string
	// Session is the session as VBO last reported it.
	Session upstream.RestoreSession
	// OrgID is the organisation's id, resolved from the name VBO recorded when the session was
	// first archived ("" when the server had no organisation of that name: detached).
	OrgID string
	// ClientMachine and ViaAddress are parsed from VBO's clientHost.
	ClientMachine, ViaAddress string
	Totals                    Totals
	// EventsRead is how many events are archived (the next offset to read).
	EventsRead int
	// EventsComplete: the session has stopped and every event is archived (it never changes
	// again).
	EventsComplete bool
	// Backfill: first seen by the backfill, not by live polling.
	Backfill bool
	// FoundLate: archived by the reconciliation sweep, after the incremental poll had passed
	// its start time (see package watch). Otherwise delivered like any new session.
	FoundLate bool
	// StartedSeq and EndedSeq are the feed positions of its "started" and "ended" entries
	// (EndedSeq 0 until it ended).
	StartedSeq, EndedSeq int64
	// DeletedInVboAt is when the watcher learnt that VBO deleted the session (nil while VBO
	// has it): set by Checkpoint.DeletedInVbo, never by a Change. The session stays archived
	// and is no longer followed (OpenSessions leaves it out).
	DeletedInVboAt *time.Time
	// Attribution is who started the session through the gateway, as the watcher joined it
	// from the front door's action log (zero: started outside the gateway).
	Attribution Attribution
}

// Attribution is who started a session through the gateway's restore front door, joined by
// the watcher from the action log. The zero value is a session started outside the gateway.
type Attribution struct {
	// ThroughGateway: the front door opened the session; the other fields are then the
	// action log's START record.
	ThroughGateway bool
	// Person is the authenticated subject (JWT sub or API key name); DisplayName the JWT's
	// name or email; Tenant the person's tenant ("" for provider staff); Reason the reason given.
	Person, DisplayName, Tenant, Reason string
	// Pending: not decided yet. A START on the session's organisation was still waiting for
	// VBO's answer when the session was seen, so the session may be that one; the watcher
	// decides it on a later poll (or once the START no longer holds it back), and rules wait.
	Pending bool
}

// mergeAttribution is the attribution a session keeps when the watcher reports in (nil: not
// looked up) over what is archived (old; nil: a new session). A person once recorded is never
// dropped; a decided session is never made pending again; a pending one takes what comes.
func mergeAttribution(old *Session, in *Attribution) Attribution {
	switch {
	case old == nil && in == nil:
		return Attribution{}
	case old == nil:
		return *in
	case in == nil || old.Attribution.ThroughGateway:
		return old.Attribution
	case in.ThroughGateway || old.Attribution.Pending:
		return *in
	}
	return old.Attribution // decided outside: a later pending START is another session's
}

// Final reports whether the session will never change again.
func (s *Session) Final() bool { return s.EventsComplete && s.Session.Finished() }

// Lease is the right to poll one server, held until Until. Epoch is a fencing token: every
// write checks it, so a replica whose lease was taken over writes nothing.
type Lease struct {
	Server string
	Holder string
	Epoch  int64
	Until  time.Time
}

// ServerState is one server's watcher state.
type ServerState struct {
	Server       string
	HighWater    time.Time // newest creationTime archived
	BackfillFrom time.Time
	BackfillDone bool
	LastPoll     time.Time
	LastError    string
	Archived     int64
	FeedSeq      int64
	LeaseHolder  string
	LeaseUntil   time.Time
}

// BackfillProgress is the share of the backfill window, from its start to the last poll, that
// lies before the newest session archived: 1 when the backfill is done, 0 before anything was.
func (st ServerState) BackfillProgress() float64 {
	switch {
	case st.BackfillDone:
		return 1
	case st.HighWater.IsZero() || st.LastPoll.IsZero() || !st.LastPoll.After(st.BackfillFrom):
		return 0
	}
	return min(1, max(0, float64(st.HighWater.Sub(st.BackfillFrom))/float64(st.LastPoll.Sub(st.BackfillFrom))))
}

// Checkpoint is what Archive records besides sessions.
type Checkpoint struct {
	// HighWater, when later than the stored one, replaces it.
	HighWater time.Time
	// BackfillDone, when true, marks the backfill finished.
	BackfillDone bool
	// ChangeToken, when not empty, replaces the stored v8 change token (see ChangeToken): the
	// position the change feed was read to, committed with what was read up to it.
	ChangeToken string
	// DeletedInVbo are ids of sessions VBO deleted: archived ones not marked yet get
	// DeletedInVboAt = the store's now (ids not archived are ignored).
	DeletedInVbo []string
}

// Change is one session's new state and the events read for it since the last batch.
type Change struct {
	Session Session
	// NewEvents are the events with orders Session.EventsRead-len(NewEvents) ..
	// Session.EventsRead-1.
	NewEvents []upstream.RestoreSessionEvent
	// Attribution is what the watcher joined from the action log (nil: not looked up; a new
	// session is then taken as started outside the gateway). It is merged with what is
	// archived (see Attribution): Session.Attribution is ignored.
	Attribution *Attribution
}

// Archived is what a Hook learns about one session of a committed-to-be batch.
type Archived struct {
	Session   *Session
	New       bool // first time archived
	Ended     bool // became final in this batch (stopped, every event archived)
	NewEvents []upstream.RestoreSessionEvent
	Backfill  bool
	// Attributed: the session's attribution was decided in this transaction after it had
	// been archived pending (Session.Attribution is the decision). What rules held back while
	// it was pending (see Attribution.Pending) is evaluated now.
	Attributed bool
}

// Hook runs inside the archive transaction for each changed session (see the package doc).
type Hook func(ctx context.Context, tx Tx, c Archived) error

// Feed entry kinds.
const (
	KindStarted = "started"
	KindEnded   = "ended"
	KindEvents  = "events"
	// KindDeleted: VBO deleted the session (Checkpoint.DeletedInVbo); At is when the watch
	// learnt it.
	KindDeleted = "deleted"
)

// FeedEntry is one committed change, in order per server.
type FeedEntry struct {
	Server    string
	Seq       int64
	Kind      string
	SessionID string
	// At is the session's start (started), end (ended), newest event start (events) or when
	// its deletion was archived (deleted).
	At       time.Time
	Backfill bool
	// FirstOrd..LastOrd are the event orders added (events).
	FirstOrd, LastOrd int
	// Session is the session as archived now (started, ended and deleted entries).
	Session *Session
}
