// Package jobs is the process's one River client, on whichever engine the store runs:
// riversqlite on SQLite (the store's writer connection), riverpgxv5 on PostgreSQL (the store's
// pool). Modules that run background jobs (watchrules: webhook deliveries and the delivery
// history prune; watch: the archive retention) register their workers, queues and periodic
// jobs through Setup when New builds the client, and insert jobs in the store's own
// transactions (InsertTx), so a job is queued exactly when the rows it works on commit.
//
// River's leader queues the periodic jobs, so a periodic job registered on a queue of one
// worker with OneAtATime runs on one replica at a time. app builds the client (New starts
// nothing) and starts and stops it in Run.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// LiveStates are the job states in which River keeps a job unique: while it is queued or
// running.
var LiveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// OneAtATime keeps at most one job of a kind queued or running: a periodic job whose last
// run has not finished is not queued again.
var OneAtATime = river.UniqueOpts{ByState: LiveStates}

// Module is a part that runs River jobs.
type Module interface {
	// Setup adds the module's workers, queues and periodic jobs to r. The module may keep
	// r.Client to insert jobs once New has returned.
	Setup(r *Registry) error
}

// Registry is what the modules' Setup adds to before New builds the client.
type Registry struct {
	// Client is the client being built: it inserts once New has returned.
	Client   *Client
	Workers  *river.Workers
	Periodic []*river.PeriodicJob
	queues   map[string]river.QueueConfig
}

// Queue adds a queue worked by at most maxWorkers jobs at once on this replica.
func (r *Registry) Queue(name string, maxWorkers int) error {
	if _, dup := r.queues[name]; dup {
		return fmt.Errorf("jobs: queue %q registered twice", name)
	}
	r.queues[name] = river.QueueConfig{MaxWorkers: max(1, maxWorkers)}
	return nil
}

// Options configure the client.
type Options struct {
	// Modules register their jobs, in order.
	Modules []Module
	// ID names this replica in River (default: River's).
	ID string
	// JobTimeout bounds a job whose worker sets no Timeout of its own (default 1 minute);
	// River rescues a job still running 5 minutes past it (or past RescueAfter if longer).
	JobTimeout time.Duration
	// RescueAfter, when longer than JobTimeout + 5 minutes, is when a running job counts as
	// stuck: set it above the longest worker Timeout.
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for due jobs (default 1 s; PostgreSQL is
	// also woken by notifications).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Client is the process's River client. Safe for concurrent use.
type Client struct {
	eng engine
}

// engine is River's client on one engine, without its transaction type.
type engine interface {
	insertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	retryTx(ctx context.Context, tx store.Tx, id int64) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
}

// New migrates River's tables (once, under an advisory lock on PostgreSQL), lets every module
// register its jobs and builds the client. It starts nothing: Start does.
func New(ctx context.Context, st *store.Store, o Options) (*Client, error) {
	if st == nil {
		return nil, errors.New("jobs.New: a store is required")
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Client{}
	r := &Registry{Client: c, Workers: river.NewWorkers(), queues: map[string]river.QueueConfig{}}
	for _, m := range o.Modules {
		if err := m.Setup(r); err != nil {
			return nil, fmt.Errorf("jobs: setup: %w", err)
		}
	}
	var err error
	switch db := st.Native().(type) {
	case *sql.DB:
		// One process: the store's single writer connection serialises everything.
		c.eng, err = build(ctx, riversqlite.New(db), r, o, func(_ context.Context, fn func() error) error { return fn() })
	case *pgxpool.Pool:
		c.eng, err = build(ctx, riverpgxv5.New(db), r, o, func(ctx context.Context, fn func() error) error {
			// Replicas starting together migrate River's tables once: a session advisory lock
			// on one pinned connection while River migrates (each version in its own
			// transaction, as its enum changes require).
			conn, err := db.Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7261400014)`); err != nil {
				return err
			}
			defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7261400014)`) }()
			return fn()
		})
	default:
		err = fmt.Errorf("jobs: unsupported store connection %T", db)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func build[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], r *Registry, o Options,
	exclusive func(context.Context, func() error) error) (engine, error) {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrations: %w", err)
	}
	err = exclusive(ctx, func() error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrations: %w", err)
	}
	cfg := &river.Config{
		ID:                   o.ID,
		PeriodicJobs:         r.Periodic,
		Workers:              r.Workers,
		JobTimeout:           o.JobTimeout,
		RescueStuckJobsAfter: max(o.JobTimeout+5*time.Minute, o.RescueAfter),
		FetchPollInterval:    o.PollInterval,
		FetchCooldown:        min(o.PollInterval, 100*time.Millisecond),
		Logger:               o.Logger,
	}
	if len(r.queues) > 0 {
		cfg.Queues = r.queues
	}
	client, err := river.NewClient(drv, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &riverEngine[TTx]{client: client, working: len(r.queues) > 0}, nil
}

// ErrNotBuilt: a job inserted through a Registry's Client before New returned.
var ErrNotBuilt = errors.New("jobs: the client is not built yet")

// InsertTx queues a job inside tx (a transaction of the store the client was built on): it
// becomes visible to workers when tx commits.
func (c *Client) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if c == nil || c.eng == nil {
		return nil, ErrNotBuilt
	}
	return c.eng.insertTx(ctx, tx, args, opts)
}

// RetryTx makes job id due now, inside tx (river.ErrNotFound when it is gone).
func (c *Client) RetryTx(ctx context.Context, tx store.Tx, id int64) error {
	if c == nil || c.eng == nil {
		return ErrNotBuilt
	}
	return c.eng.retryTx(ctx, tx, id)
}

// Start starts this replica's workers and, when it is River's leader, the periodic jobs. A
// client none of whose modules registered a queue has nothing to start.
func (c *Client) Start(ctx context.Context) error {
	if c == nil || c.eng == nil {
		return ErrNotBuilt
	}
	return c.eng.start(ctx)
}

// Stop stops the workers, waiting for jobs in flight until ctx ends.
func (c *Client) Stop(ctx context.Context) error {
	if c == nil || c.eng == nil {
		return ErrNotBuilt
	}
	return c.eng.stop(ctx)
}

// Subscribe returns River's events of the given kinds on this client (River's
// Client.Subscribe; a nil channel when no module registered a queue); call the func to
// unsubscribe. Tests wait on it instead of polling.
func (c *Client) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return c.eng.subscribe(kinds...)
}

type riverEngine[TTx any] struct {
	client  *river.Client[TTx]
	working bool // some queue is registered: Start starts workers
}

func (e *riverEngine[TTx]) native(tx store.Tx) (TTx, error) {
	ntx, ok := tx.Native().(TTx)
	if !ok {
		return ntx, fmt.Errorf("jobs: store transaction is %T", tx.Native())
	}
	return ntx, nil
}

func (e *riverEngine[TTx]) insertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	ntx, err := e.native(tx)
	if err != nil {
		return nil, err
	}
	return e.client.InsertTx(ctx, ntx, args, opts)
}

func (e *riverEngine[TTx]) retryTx(ctx context.Context, tx store.Tx, id int64) error {
	ntx, err := e.native(tx)
	if err != nil {
		return err
	}
	_, err = e.client.JobRetryTx(ctx, ntx, id)
	return err
}

func (e *riverEngine[TTx]) start(ctx context.Context) error {
	if !e.working {
		return nil
	}
	return e.client.Start(ctx)
}

func (e *riverEngine[TTx]) stop(ctx context.Context) error {
	if !e.working {
		return nil
	}
	return e.client.Stop(ctx)
}

func (e *riverEngine[TTx]) subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	if !e.working {
		return nil, func() {} // no job ever runs here (River panics)
	}
	return e.client.Subscribe(kinds...)
}
