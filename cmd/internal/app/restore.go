package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/frontdoor"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// newFrontDoor builds the restore front door on the store's attribution log (nil unless
// restore.enabled, which config only accepts with the watch, and so the store, on). The
// sessions it opens carry the watcher's lease identity as their replica; the reaper counts
// alive the replicas whose watch heartbeats within the watch's lease ttl (3 intervals).
func newFrontDoor(cfg *config.Config, fleet *upstream.Fleet, st *store.Store, w *watch.Watcher, logger *slog.Logger) (*frontdoor.Service, error) {
	r := cfg.Restore.WithDefaults()
	if !r.Enabled || st == nil || w == nil {
		return nil, nil
	}
	if err := r.Validate(true); err != nil {
		return nil, err
	}
	l, err := actionlog.New(st)
	if err != nil {
		return nil, err
	}
	self := w.Holder()
	ttl := 3 * cfg.Watch.WithDefaults().Interval
	return frontdoor.New(frontdoor.Options{
		Log: l.WithReplica(self),
		Server: func(name string) (frontdoor.Upstream, bool) {
			c, ok := fleet.Get(name)
			return c, ok
		},
		MaxOpenSessionsPerPerson: r.MaxOpenSessionsPerPerson, StepsPerMinute: r.StepsPerMinute,
		IdleTimeout: r.IdleTimeout, ReapInterval: r.ReapInterval,
		Alive: func(ctx context.Context) ([]string, error) { return st.LiveReplicas(ctx, ttl) },
		Self:  self, Logger: logger, Now: time.Now,
	})
}
