package watch_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/jobs"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

var discard = slog.New(slog.DiscardHandler)

// The archive retention runs as a River periodic job on the process's client (queued at start
// by River's leader, without the watcher running): it deletes the sessions that ended longer
// ago than the retention and keeps the recent and the open ones.
func TestArchiveRetentionIsAPeriodicJob(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			if _, err := st.EnsureServer(ctx, "syd1", time.Now().Add(-48*time.Hour)); err != nil {
				t.Fatal(err)
			}
			lease, ok, err := st.AcquireLease(ctx, "syd1", "test", time.Hour)
			if err != nil || !ok {
				t.Fatalf("lease: %v %v", ok, err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			ended := func(id string, end time.Time) store.Change {
				return store.Change{Session: store.Session{Server: "syd1", OrgID: "org-1", EventsComplete: true, Session: upstream.RestoreSession{
					ID: id, Name: "Veeam Explorer for Microsoft Exchange", Type: upstream.SessionTypeExchange, CreationTime: end.Add(-time.Minute),
					EndTime: &end, State: upstream.SessionStateStopped, Result: upstream.SessionResultSuccess}}}
			}
			open := ended("open", now)
			open.Session.Session.EndTime, open.Session.Session.State = nil, upstream.SessionStateWorking
			open.Session.Session.CreationTime = now.Add(-30 * time.Hour)
			changes := []store.Change{ended("old", now.Add(-25*time.Hour)), ended("recent", now.Add(-time.Hour)), open}
			if err := st.Archive(ctx, lease, changes, store.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}

			w, err := watch.New(watch.Options{Store: st, Servers: []watch.Server{{Name: "syd1", Source: startSim(t, "syd1", vbosim.Options{}).client}},
				Retention: 24 * time.Hour, Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			jc, err := jobs.New(ctx, st, jobs.Options{Modules: []jobs.Module{w}, PollInterval: 20 * time.Millisecond, Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			done, unsubscribe := jc.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
			defer unsubscribe()
			if err := jc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = jc.Stop(sctx)
			})
			select {
			case ev := <-done:
				if ev.Kind != river.EventKindJobCompleted || ev.Job.Kind != "vbo_gateway_archive_retention" {
					t.Fatalf("event %s of job %s (%v)", ev.Kind, ev.Job.Kind, ev.Job.Errors)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the retention job did not run at start")
			}
			for id, want := range map[string]bool{"old": false, "recent": true, "open": true} {
				_, err := st.Session(ctx, "syd1", id)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
				if kept := err == nil; kept != want {
					t.Errorf("session %s kept = %v, want %v", id, kept, want)
				}
			}
		})
	}
}
