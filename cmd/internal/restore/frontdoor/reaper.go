package frontdoor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// The reaper is a River periodic job on the process's client: River's leader queues it every
// Options.ReapInterval (and at start) on a queue of one worker, at most one queued or running,
// so one replica at a time reaps. Each run settles the item actions left PENDING (settle.go:
// v8 restores VBO had not finished when the caller was answered), then stops (in VBO, recorded
// as a REAP step) the open gateway sessions idle past Options.IdleTimeout and those opened by
// a replica that is no longer alive (Options.Alive), which nobody would otherwise stop.
const (
	reapQueue = "restore_maintenance"
	reapJobID = "restore_reap"
	// reapTimeout bounds one run; what is left goes at the next.
	reapTimeout = 2 * time.Minute
)

// Reaper is the person a REAP step is recorded against: the gateway itself, acting with the
// provider's rights (its VBO account is the provider's).
var Reaper = actionlog.Actor{Person: "vbo-gateway:reaper", DisplayName: "the gateway's reaper", Role: string(model.RoleProviderAdmin)}

type reapArgs struct{}

// Kind names the job kind in River's tables.
func (reapArgs) Kind() string { return "vbo_gateway_restore_reap" }

var reapOpts = &river.InsertOpts{Queue: reapQueue, MaxAttempts: 3, UniqueOpts: jobs.OneAtATime}

// Setup registers the reaper on the process's River client (jobs.New calls it).
func (s *Service) Setup(r *jobs.Registry) error {
	if err := river.AddWorkerSafely(r.Workers, &reapWorker{s: s}); err != nil {
		return err
	}
	if err := r.Queue(reapQueue, 1); err != nil {
		return err
	}
	r.Periodic = append(r.Periodic, river.NewPeriodicJob(river.PeriodicInterval(s.o.ReapInterval),
		func() (river.JobArgs, *river.InsertOpts) { return reapArgs{}, reapOpts },
		&river.PeriodicJobOpts{ID: reapJobID, RunOnStart: true}))
	return nil
}

type reapWorker struct {
	river.WorkerDefaults[reapArgs]
	s *Service
}

func (*reapWorker) Timeout(*river.Job[reapArgs]) time.Duration { return reapTimeout }

func (w *reapWorker) Work(ctx context.Context, _ *river.Job[reapArgs]) error {
	_, err := w.s.Reap(ctx)
	return err
}

// Reap stops the open gateway sessions idle past the idle timeout or left by a replica that is
// gone, each recorded as a REAP step, and returns how many it stopped. A session VBO refuses
// to stop (already closed on its side) is closed in the log all the same.
func (s *Service) Reap(ctx context.Context) (int, error) {
	var alive []string
	if s.o.Alive != nil {
		list, err := s.o.Alive(ctx)
		if err != nil {
			// Without the live set, reap by idleness alone: never take a live replica for dead.
			s.o.Logger.WarnContext(ctx, "restore reaper: replica liveness unavailable; reaping idle sessions only", "err", err)
		} else {
			alive = list
			if s.o.Self != "" && !slices.Contains(alive, s.o.Self) {
				alive = append(alive, s.o.Self)
			}
		}
	}
	if s.o.Downloads != nil {
		// Download links that expired unused complete their DOWNLOAD records.
		if n, err := s.o.Downloads.Sweep(ctx, sweepBatch); err != nil {
			s.o.Logger.WarnContext(ctx, "restore reaper: could not sweep expired download links", "err", err)
		} else if n > 0 {
			s.o.Logger.InfoContext(ctx, "restore reaper: expired download links completed", "links", n)
		}
	}
	// Before the sessions are stopped: VBO's statistics are read on the open session.
	if n, err := s.Settle(ctx); err != nil {
		s.o.Logger.WarnContext(ctx, "restore reaper: could not settle pending item actions", "err", err)
	} else if n > 0 {
		s.o.Logger.InfoContext(ctx, "restore reaper: pending item actions settled", "actions", n)
	}
	now := s.o.Now()
	list, err := s.o.Log.IdleSessions(ctx, now.Add(-s.o.IdleTimeout), alive)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ls := range list {
		gs := gatewaySession(ls)
		why := fmt.Sprintf("idle since %s, longer than restore.idleTimeout (%s)", ls.LastActivity.UTC().Format(time.RFC3339), s.o.IdleTimeout)
		if !ls.LastActivity.Before(now.Add(-s.o.IdleTimeout)) {
			why = fmt.Sprintf("left open by replica %s, which is gone", ls.Replica)
		}
		if err := s.stop(ctx, Reaper, gs, actionlog.KindReap, why, "stop the session: "+why); err != nil {
			s.o.Logger.WarnContext(ctx, "restore reaper: could not stop a session", "session", ls.ID, "server", ls.Server,
				"vbo_session", ls.VBOSessionID, "err", err)
			continue
		}
		n++
		s.o.Logger.InfoContext(ctx, "restore reaper: stopped a session", "session", ls.ID, "server", ls.Server,
			"vbo_session", ls.VBOSessionID, "why", why)
	}
	return n, nil
}
