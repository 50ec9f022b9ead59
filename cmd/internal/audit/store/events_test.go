package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// EventsOfSessions answers each session as SessionEventsFrom does when the rows of one query
// are many: sessions whose events straddle the reader's blocks, one session with more events
// than a block, an id asked twice (in two of its 500-session chunks: its events twice, in
// order, as before), end times and sizes present and absent, and ids JSON must escape or
// cannot carry (not valid UTF-8).
func TestEventsOfSessionsMany(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			withEvents := func(id string, n int) store.Change {
				c := store.Change{Session: store.Session{Server: "syd1", Session: upstream.RestoreSession{ID: id, Organization: "Contoso",
					Type: "Vex", State: "Stopped", Result: "Success", CreationTime: t0}, EventsRead: n, EventsComplete: true}}
				for i := range n {
					e := upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-e%d", id, i), Type: "Export", Status: "Success",
						Title: fmt.Sprintf("event %d of %s", i, id), StartTime: t0.Add(time.Duration(i) * time.Second), ItemName: "m"}
					if i%3 == 0 {
						end := e.StartTime.Add(time.Second)
						size := int64(i * 10)
						e.EndTime, e.ItemSizeBytes = &end, &size
					}
					c.NewEvents = append(c.NewEvents, e)
				}
				return c
			}
			var ids []string
			var cs []store.Change
			for i := range 60 {
				id := fmt.Sprintf("s%02d", i)
				ids = append(ids, id)
				cs = append(cs, withEvents(id, 17+i%5))
			}
			for _, id := range []string{"big", `q"uote\<&>`, "bad\xff"} {
				if id == "bad\xff" && eng.Name == "postgres" {
					continue // PostgreSQL's text is UTF-8
				}
				ids = append(ids, id)
				n := 20
				if id == "big" {
					n = 1300
				}
				cs = append(cs, withEvents(id, n))
			}
			for i := 0; i < len(cs); i += 20 {
				if err := s.Archive(ctx, lease(t, s, "syd1", "a"), cs[i:min(i+20, len(cs))], store.Checkpoint{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			ask := append([]string{}, ids...)
			for len(ask) < 520 {
				ask = append(ask, fmt.Sprintf("none%d", len(ask)))
			}
			ask = append(ask, "s07") // in the second chunk too
			for _, r := range []struct{ offset, limit int }{{0, 2000}, {5, 10}, {0, 1}} {
				for _, omit := range []store.EventColumns{0, store.EventTitle | store.EventTimes} {
					got, err := s.EventsOfSessions(ctx, "syd1", ask, r.offset, r.limit, omit)
					if err != nil {
						t.Fatal(err)
					}
					for _, id := range ids {
						want, err := s.SessionEventsFrom(ctx, "syd1", id, r.offset, r.limit)
						if err != nil {
							t.Fatal(err)
						}
						for i := range want {
							if omit&store.EventTitle != 0 {
								want[i].Title = ""
							}
							if omit&store.EventTimes != 0 {
								want[i].StartTime, want[i].EndTime = time.Time{}, nil
							}
						}
						if id == "s07" {
							want = append(want, want...)
						}
						if len(want) == 0 || !reflect.DeepEqual(got[id], want) {
							t.Fatalf("[%d, +%d) of %q (omit %b): %d events, want %d: %+v", r.offset, r.limit, id, omit, len(got[id]), len(want), got[id])
						}
					}
					if len(got) != len(ids) {
						t.Errorf("%d sessions read, want %d", len(got), len(ids))
					}
				}
			}
		})
	}
}
