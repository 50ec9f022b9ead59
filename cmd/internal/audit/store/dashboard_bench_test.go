package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// BenchmarkDashboardReads: the archive reads of the benchmark's dashboard (#28) on SQLite,
// without gqlgen: 3 servers x 1,500 sessions of 20 organisations each, 30 events per session;
// "lists" is the 60 organisations' first pages (ListSessionsBatch, limit 11), "events" the
// first 100 events of their 600 sessions (EventsOfSessions, the columns the dashboard shows).
//
//	go test ./cmd/internal/audit/store -run '^$' -bench DashboardReads -benchmem
func BenchmarkDashboardReads(b *testing.B) {
	s := storetest.Open(b, storetest.SQLite(b))
	ctx := context.Background()
	servers := []string{"syd1", "mel1", "per1"}
	for _, sv := range servers {
		if _, err := s.EnsureServer(ctx, sv, t0.Add(-100*24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		l, ok, err := s.AcquireLease(ctx, sv, "bench", time.Hour)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		for batch := 0; batch < 1500; batch += 50 {
			var cs []store.Change
			for i := batch; i < batch+50; i++ {
				x := upstream.RestoreSession{ID: fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i), Organization: fmt.Sprintf("Org %d", i%20),
					Name: "Restore", Type: "Vex", State: "Stopped", Result: "Success", InitiatedBy: "admin@example.com",
					CreationTime: t0.Add(-time.Duration(i) * time.Hour)}
				c := store.Change{Session: store.Session{Server: sv, Session: x, EventsRead: 30, EventsComplete: true}}
				for e := range 30 {
					size := int64(1000 + e)
					end := x.CreationTime.Add(time.Duration(e+1) * time.Second)
					c.NewEvents = append(c.NewEvents, upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-%d", x.ID, e), Order: e,
						Type: "Export", Status: "Success", Title: "Export mail item", Message: fmt.Sprintf("Mail item \"Message %d\" was exported successfully", e),
						ItemName: fmt.Sprintf("Message %d", e), ItemType: "Mail", ItemSizeBytes: &size, StartTime: x.CreationTime, EndTime: &end,
						Source: "Mailbox of user", Target: `C:\export\file.pst`})
				}
				cs = append(cs, c)
			}
			if err := s.Archive(ctx, l, cs, store.Checkpoint{}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	var qs []store.ListQuery
	for _, sv := range servers {
		for o := range 20 {
			qs = append(qs, store.ListQuery{Servers: []string{sv}, Limit: 11,
				Orgs: map[string]map[string]bool{sv: {upstream.OrgNameKey(fmt.Sprintf("Org %d", o)): true}}})
		}
	}
	lists, err := s.ListSessionsBatch(ctx, qs)
	if err != nil {
		b.Fatal(err)
	}
	ids := map[string][]string{}
	for _, l := range lists {
		if len(l) != 11 {
			b.Fatalf("a list of %d sessions, want 11", len(l))
		}
		for _, x := range l[:10] {
			ids[x.Server] = append(ids[x.Server], x.Session.ID)
		}
	}
	omit := store.EventID | store.EventTimes | store.EventDuration | store.EventTitle | store.EventMessage | store.EventItemType |
		store.EventSource | store.EventTarget
	b.Run("lists", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.ListSessionsBatch(ctx, qs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("events", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, sv := range servers {
				got, err := s.EventsOfSessions(ctx, sv, ids[sv], 0, 2000, omit)
				if err != nil {
					b.Fatal(err)
				}
				for _, evs := range got {
					n += len(evs)
				}
			}
			if n != 600*30 {
				b.Fatalf("%d events, want 18,000", n)
			}
		}
	})
}
