package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// TestDeletedSessionEndsEventSubscriptions: VBO deletes a running restore session that
// subscribers follow with restoreEventAdded (the simulator's DeleteSession). Each of them, over
// SSE and over a websocket, gets the events archived before the deletion once, then a last
// message with NOT_FOUND, and the stream ends (it no longer waits for an end that will never
// come). What the watch can know: on v8 the change feed's RestoreSessionDelete (the watch
// interval is a minute, so only the change feed can tell); on v6, which has no delete signal, a
// GET of the open session answering 404 while the poll follows it up (a session missing from
// the listing alone proves nothing). The other subscribers lose nothing and get nothing twice:
// another session's events subscription gets every event of its session once and completes
// when it ends, and restoreSessionStarted gets the next session once.
func TestDeletedSessionEndsEventSubscriptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version  string
		interval time.Duration
	}{
		{upstream.APIv8, time.Minute},
		{upstream.APIv6, 50 * time.Millisecond},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 5, Now: time.Now().UTC().Add(-time.Hour).Truncate(time.Minute),
				Sim: func(_ string, o *vbosim.Options) { o.APIVersion = tc.version }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fleet.Close)
			cfg := fleet.Config
			cfg.Watch = config.Watch{Enabled: true, Interval: tc.interval, Backfill: 24 * time.Hour}
			cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "gw.db")}
			gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(gw.Handler)
			t.Cleanup(srv.Close)
			waitBackfill(t, gw)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()

			names := slices.Sorted(maps.Keys(fleet.Sims))
			server := names[0]
			sim := fleet.Sims[server]
			org := sim.Organizations()[0].Name
			doomed := sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: "doomed"})
			kept := sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: "kept"})
			for _, id := range []string{doomed.ID, kept.ID} {
				if _, err := sim.AddEvent(id, upstream.RestoreSessionEvent{ItemName: "before", Type: upstream.EventTypeView}); err != nil {
					t.Fatal(err)
				}
			}
			archived := func(id string, events int) func() bool {
				return func() bool {
					s, err := gw.Store.Session(ctx, server, id)
					return err == nil && s.EventsRead == events
				}
			}
			waitFor(t, 30*time.Second, archived(doomed.ID, 2), "the doomed session archived with its events")
			waitFor(t, 30*time.Second, archived(kept.ID, 2), "the kept session archived with its events")

			const evq = `subscription($id: ID!) { restoreEventAdded(sessionId: $id) { order type itemName } }`
			key := demo.AdminKey
			doomedSSE := sseSubscribe(t, ctx, srv.URL, key, evq, map[string]any{"id": sessionGID(server, doomed.ID)})
			doomedWS, _ := wsSubscribe(t, ctx, srv.URL, map[string]any{"Authorization": "Bearer " + key}, evq,
				map[string]any{"id": sessionGID(server, doomed.ID)})
			keptSSE := sseSubscribe(t, ctx, srv.URL, key, evq, map[string]any{"id": sessionGID(server, kept.ID)})
			started := sseSubscribe(t, ctx, srv.URL, key, startedQuery, nil)
			// Both doomed subscribers are live: each has the archived events.
			for what, s := range map[string]*subscriber{"SSE": doomedSSE, "websocket": doomedWS} {
				waitFor(t, 20*time.Second, func() bool { return len(s.snapshot()) >= 2 }, what+" subscriber's archived events")
			}

			if err := sim.DeleteSession(doomed.ID); err != nil {
				t.Fatal(err)
			}
			for what, s := range map[string]*subscriber{"SSE": doomedSSE, "websocket": doomedWS} {
				select {
				case <-s.done:
				case <-ctx.Done():
					t.Fatalf("%s: restoreEventAdded of the deleted session did not end", what)
				}
				got := s.snapshot()
				if len(got) != 3 {
					t.Fatalf("%s: %d messages %+v, want the 2 archived events then one error", what, len(got), got)
				}
				if orders := eventOrders(t, &subscriber{events: got[:2]}); !slices.Equal(orders, []int{0, 1}) {
					t.Errorf("%s: event orders %v, want [0 1]", what, orders)
				}
				if errs := got[2].Errors; len(errs) != 1 || errs[0].code() != "NOT_FOUND" || !strings.Contains(errs[0].Message, "deleted") {
					t.Errorf("%s: last message %+v, want one NOT_FOUND saying the session was deleted", what, got[2])
				}
			}

			// The other subscribers: nothing lost, nothing twice.
			for i := range 2 {
				if _, err := sim.AddEvent(kept.ID, upstream.RestoreSessionEvent{ItemName: fmt.Sprint("after ", i), Type: upstream.EventTypeExport}); err != nil {
					t.Fatal(err)
				}
			}
			if err := sim.StopSession(kept.ID, upstream.SessionResultSuccess); err != nil {
				t.Fatal(err)
			}
			next := sim.AddSession(upstream.RestoreSession{Organization: org, InitiatedBy: "next"})
			select {
			case <-keptSSE.done:
			case <-ctx.Done():
				t.Fatal("restoreEventAdded of the kept session did not complete after it ended")
			}
			if orders := eventOrders(t, keptSSE); !slices.Equal(orders, []int{0, 1, 2, 3, 4}) {
				t.Errorf("kept session's event orders %v, want 0..4 (start marker, 1 before, 2 after, stop marker) once each", orders)
			}
			want := server + "/" + next.ID
			waitFor(t, 30*time.Second, func() bool { return slices.Contains(receivedIDs(t, started), want) }, "restoreSessionStarted of the next session")
			ids := receivedIDs(t, started)
			if hasDup(ids) {
				t.Errorf("restoreSessionStarted sent a session twice: %v", ids)
			}
			for _, id := range []string{server + "/" + doomed.ID, server + "/" + kept.ID} {
				if slices.Contains(ids, id) {
					t.Errorf("restoreSessionStarted (live) sent %s, which started before it subscribed", id)
				}
			}
		})
	}
}
