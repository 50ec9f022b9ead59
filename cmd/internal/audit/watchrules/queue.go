package watchrules

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

// queueName is River's queue for webhook deliveries; maintenanceQueue runs the history
// retention, one job at a time, beside them.
const (
	queueName        = "webhooks"
	maintenanceQueue = "webhooks_maintenance"
)

// deliverArgs is one River job: deliver (and retry) one recorded message. Round is the
// delivery's retry round (0, then one more per redelivery): a job of an older round finds
// nothing to do. Unique per (delivery, round) while queued or running.
type deliverArgs struct {
	DeliveryID string `json:"deliveryId" river:"unique"`
	Round      int64  `json:"round" river:"unique"`
}

// Kind names the job kind in River's tables (the history retention, prune.go, reads these jobs).
func (deliverArgs) Kind() string { return deliveryJobKind }

// liveStates are the job states in which River keeps a job unique.
var liveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

var deliverOpts = &river.InsertOpts{
	Queue:      queueName,
	UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates},
}

// pruneArgs is the periodic job that applies the delivery history retention. River's leader
// queues it on schedule, so one replica at a time prunes; at most one is queued or running.
type pruneArgs struct{}

// Kind names the job kind in River's tables.
func (pruneArgs) Kind() string { return "vbo_gateway_webhook_history_prune" }

var pruneOpts = &river.InsertOpts{
	Queue:       maintenanceQueue,
	MaxAttempts: 3,
	UniqueOpts:  river.UniqueOpts{ByState: liveStates},
}

// queue is River on whichever engine the store runs: riversqlite on SQLite (the store's writer
// connection), riverpgxv5 on PostgreSQL (the store's pool). Jobs are inserted in the store's
// own transactions (InsertTx), so a message is queued exactly when its delivery row commits.
type queue interface {
	// insertTx queues a delivery inside tx; a delivery already queued is made due now.
	insertTx(ctx context.Context, tx store.Tx, args deliverArgs) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type queueConfig struct {
	workers      int
	jobTimeout   time.Duration
	pollInterval time.Duration
	logger       *slog.Logger
	id           string
	// pruner, when set, runs every pruneEvery (and at start) as a River periodic job.
	pruner     river.Worker[pruneArgs]
	pruneEvery time.Duration
}

// newQueue migrates River's tables (once, under an advisory lock on PostgreSQL) and builds a
// client that works deliveries with w.
func newQueue(ctx context.Context, st *store.Store, w river.Worker[deliverArgs], c queueConfig) (queue, error) {
	switch db := st.Native().(type) {
	case *sql.DB:
		// One process: the store's single writer connection serialises everything.
		return buildQueue(ctx, riversqlite.New(db), w, c, func(ctx context.Context, fn func() error) error { return fn() })
	case *pgxpool.Pool:
		return buildQueue(ctx, riverpgxv5.New(db), w, c, func(ctx context.Context, fn func() error) error {
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
		return nil, fmt.Errorf("watch rules: unsupported store connection %T", db)
	}
}

func buildQueue[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], w river.Worker[deliverArgs], c queueConfig,
	exclusive func(context.Context, func() error) error) (queue, error) {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: c.logger})
	if err != nil {
		return nil, fmt.Errorf("watch rules: river migrations: %w", err)
	}
	err = exclusive(ctx, func() error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watch rules: river migrations: %w", err)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, err
	}
	queues := map[string]river.QueueConfig{queueName: {MaxWorkers: c.workers}}
	var periodic []*river.PeriodicJob
	if c.pruner != nil {
		if err := river.AddWorkerSafely(workers, c.pruner); err != nil {
			return nil, err
		}
		queues[maintenanceQueue] = river.QueueConfig{MaxWorkers: 1}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(c.pruneEvery),
			func() (river.JobArgs, *river.InsertOpts) { return pruneArgs{}, pruneOpts },
			&river.PeriodicJobOpts{ID: "webhook_history_prune", RunOnStart: true}))
	}
	client, err := river.NewClient(drv, &river.Config{
		ID:                   c.id,
		Queues:               queues,
		PeriodicJobs:         periodic,
		Workers:              workers,
		JobTimeout:           c.jobTimeout,
		RescueStuckJobsAfter: c.jobTimeout + 5*time.Minute,
		FetchPollInterval:    c.pollInterval,
		FetchCooldown:        min(c.pollInterval, 100*time.Millisecond),
		MaxAttempts:          25, // errors of the worker itself (the store down); receivers' failures snooze
		Logger:               c.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("watch rules: river client: %w", err)
	}
	return &riverQueue[TTx]{client: client}, nil
}

type riverQueue[TTx any] struct{ client *river.Client[TTx] }

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx store.Tx, args deliverArgs) error {
	ntx, ok := tx.Native().(TTx)
	if !ok {
		return fmt.Errorf("watch rules: store transaction is %T", tx.Native())
	}
	res, err := q.client.InsertTx(ctx, ntx, args, deliverOpts)
	if err != nil {
		return fmt.Errorf("watch rules: queue delivery %s: %w", args.DeliveryID, err)
	}
	if res.UniqueSkippedAsDuplicate && res.Job != nil && res.Job.State != rivertype.JobStateRunning {
		// Already queued (e.g. snoozed until a later retry): make it due now.
		if _, err := q.client.JobRetryTx(ctx, ntx, res.Job.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("watch rules: requeue delivery %s: %w", args.DeliveryID, err)
		}
	}
	return nil
}

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }

func (q *riverQueue[TTx]) stop(ctx context.Context) error { return q.client.Stop(ctx) }
