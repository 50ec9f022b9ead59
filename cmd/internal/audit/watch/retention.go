package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
)

// The archive retention (Options.Retention) is a River periodic job on the process's client:
// River's leader queues it every Options.RetentionInterval (and at start) on a queue of one
// worker, at most one queued or running, so one replica at a time prunes.
const (
	retentionQueue = "watch_maintenance"
	retentionJobID = "archive_retention"
	// retentionTimeout bounds one run (what is left goes at the next run); it stays below
	// River's stuck-job rescue (the client's job timeout plus 5 minutes).
	retentionTimeout = 5 * time.Minute
)

// retentionArgs is the archive retention's periodic job.
type retentionArgs struct{}

// Kind names the job kind in River's tables.
func (retentionArgs) Kind() string { return "vbo_gateway_archive_retention" }

var retentionOpts = &river.InsertOpts{Queue: retentionQueue, MaxAttempts: 3, UniqueOpts: jobs.OneAtATime}

// Setup registers the archive retention on the process's River client (jobs.New calls it);
// nothing when Options.Retention is 0.
func (w *Watcher) Setup(r *jobs.Registry) error {
	if w.o.Retention <= 0 {
		return nil
	}
	if err := river.AddWorkerSafely(r.Workers, &retentionWorker{w: w}); err != nil {
		return err
	}
	if err := r.Queue(retentionQueue, 1); err != nil {
		return err
	}
	r.Periodic = append(r.Periodic, river.NewPeriodicJob(river.PeriodicInterval(w.o.RetentionInterval),
		func() (river.JobArgs, *river.InsertOpts) { return retentionArgs{}, retentionOpts },
		&river.PeriodicJobOpts{ID: retentionJobID, RunOnStart: true}))
	return nil
}

// PruneArchive applies the retention now: it deletes the sessions that ended longer ago than
// Options.Retention (on the store's clock), with their events, and returns how many (0 when
// the retention is off). The periodic job calls it.
func (w *Watcher) PruneArchive(ctx context.Context) (int64, error) {
	if w.o.Retention <= 0 {
		return 0, nil
	}
	now, err := w.o.Store.Now(ctx)
	if err != nil {
		return 0, fmt.Errorf("watch: archive retention: %w", err)
	}
	n, err := w.o.Store.Prune(ctx, now.Add(-w.o.Retention))
	if err != nil {
		return 0, fmt.Errorf("watch: archive retention: %w", err)
	}
	if n > 0 {
		w.o.Logger.InfoContext(ctx, "watch: archive retention pruned sessions", "sessions", n, "retention", w.o.Retention.String())
	}
	return n, nil
}

// retentionWorker works the retention's periodic job.
type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	w *Watcher
}

func (*retentionWorker) Timeout(*river.Job[retentionArgs]) time.Duration { return retentionTimeout }

func (rw *retentionWorker) Work(ctx context.Context, _ *river.Job[retentionArgs]) error {
	_, err := rw.w.PruneArchive(ctx)
	return err
}
