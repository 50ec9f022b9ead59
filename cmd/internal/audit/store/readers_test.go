package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The transaction readers the archive hook uses see the batch being archived, and read
// events whole (the hook's own copy of the event scanner once dropped duration).
func TestTxReaders(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, s, "syd1", "a")
			older := upstream.RestoreSession{ID: "s-old", Organization: "Org 1", Type: "Vex", State: "Stopped", Result: "Success",
				CreationTime: t0.Add(-time.Hour), ClientHost: "PC1 (via: 10.0.0.1)"}
			if err := s.Archive(ctx, l, []store.Change{clientChange(older, "PC1")}, store.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}
			ev := upstream.RestoreSessionEvent{ID: "e0", Order: 0, Type: "Export", Status: "Success", StartTime: t0,
				Duration: "00:00:01.5000000", Title: "exported", ItemName: "report.docx"}
			newer := upstream.RestoreSession{ID: "s-new", Organization: "Org 1", Type: "Vex", State: "Working", Result: "Success",
				CreationTime: t0, ClientHost: "pc1"}
			other := upstream.RestoreSession{ID: "s-other", Organization: "Org 1", Type: "Vex", State: "Working", Result: "Success",
				CreationTime: t0, ClientHost: "PC9"}
			seen := map[string]bool{}
			hook := func(ctx context.Context, tx store.Tx, c store.Archived) error {
				id := c.Session.Session.ID
				fs, err := store.FirstSeen(ctx, tx, "syd1", id)
				if err != nil || fs.IsZero() {
					t.Errorf("%s: FirstSeen = %v, %v", id, fs, err)
				}
				earlier, err := store.HasEarlierSession(ctx, tx, store.EarlierSession{Server: "syd1", OrgID: "org-1",
					Machine: c.Session.ClientMachine, Not: id, StartedBy: c.Session.Session.CreationTime})
				if err != nil {
					t.Fatal(err)
				}
				if want := id == "s-new"; earlier != want { // s-old came from PC1 (any case), s-other's PC9 never
					t.Errorf("%s: HasEarlierSession = %v, want %v", id, earlier, want)
				}
				evs, err := store.SessionEvents(ctx, tx, "syd1", id, 10)
				if err != nil {
					t.Fatal(err)
				}
				if id == "s-new" && (len(evs) != 1 || evs[0].Duration != ev.Duration || evs[0].ItemName != ev.ItemName) {
					t.Errorf("SessionEvents = %+v, want the batch's event with its duration", evs)
				}
				seen[id] = true
				return nil
			}
			nc := clientChange(newer, "pc1")
			nc.Session.EventsRead, nc.NewEvents = 1, []upstream.RestoreSessionEvent{ev}
			if err := s.Archive(ctx, l, []store.Change{nc, clientChange(other, "PC9")}, store.Checkpoint{}, hook); err != nil {
				t.Fatal(err)
			}
			if !seen["s-new"] || !seen["s-other"] {
				t.Fatalf("the hook saw %v", seen)
			}
			if _, err := s.Events(ctx, "syd1", "s-new", 0, 0, 1<<62, 10); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func clientChange(s upstream.RestoreSession, machine string) store.Change {
	return store.Change{Session: store.Session{Server: "syd1", Session: s, OrgID: "org-1", ClientMachine: machine}}
}
