package watchrules

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
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

var deliverOpts = &river.InsertOpts{
	Queue:       queueName,
	MaxAttempts: 25, // errors of the worker itself (the store down); receivers' failures snooze
	UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: jobs.LiveStates},
}

// pruneArgs is the periodic job that applies the delivery history retention. River's leader
// queues it on schedule, so one replica at a time prunes; at most one is queued or running.
type pruneArgs struct{}

// Kind names the job kind in River's tables.
func (pruneArgs) Kind() string { return "vbo_gateway_webhook_history_prune" }

var pruneOpts = &river.InsertOpts{Queue: maintenanceQueue, MaxAttempts: 3, UniqueOpts: jobs.OneAtATime}

// Setup registers the service's jobs on the process's River client (jobs.New calls it): the
// delivery worker on its queue of Options.Workers, and, when HistoryRetention is set, the
// history prune as a periodic job every PruneInterval (and at start) on a queue of one. The
// service inserts its deliveries through r.Client.
func (s *Service) Setup(r *jobs.Registry) error {
	if err := river.AddWorkerSafely(r.Workers, &worker{s: s}); err != nil {
		return err
	}
	if err := r.Queue(queueName, s.workers); err != nil {
		return err
	}
	if s.keep > 0 {
		if err := river.AddWorkerSafely(r.Workers, &pruner{s: s}); err != nil {
			return err
		}
		if err := r.Queue(maintenanceQueue, 1); err != nil {
			return err
		}
		r.Periodic = append(r.Periodic, river.NewPeriodicJob(river.PeriodicInterval(s.pruneEvery),
			func() (river.JobArgs, *river.InsertOpts) { return pruneArgs{}, pruneOpts },
			&river.PeriodicJobOpts{ID: "webhook_history_prune", RunOnStart: true}))
	}
	s.jobs = r.Client
	return nil
}

// insertTx queues a delivery inside tx; a delivery already queued is made due now.
func (s *Service) insertTx(ctx context.Context, tx store.Tx, args deliverArgs) error {
	if s.jobs == nil {
		return errors.New("watch rules: no job client (the service was not set up with jobs.New)")
	}
	res, err := s.jobs.InsertTx(ctx, tx, args, deliverOpts)
	if err != nil {
		return fmt.Errorf("watch rules: queue delivery %s: %w", args.DeliveryID, err)
	}
	if res.UniqueSkippedAsDuplicate && res.Job != nil && res.Job.State != rivertype.JobStateRunning {
		// Already queued (e.g. snoozed until a later retry): make it due now.
		if err := s.jobs.RetryTx(ctx, tx, res.Job.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("watch rules: requeue delivery %s: %w", args.DeliveryID, err)
		}
	}
	return nil
}
