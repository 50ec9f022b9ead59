package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
)

// The attribution the watcher joins is archived with the session and merged with what is
// archived: a pending session takes the decision (and the hook is told Attributed once), a
// person once recorded is never dropped, a decided session never goes back to pending;
// Attribute decides pending sessions under the lease (and only those); GroupSessions groups by
// person (outside the gateway: ""), and ReportSessions reads the attribution. On each engine.
func TestArchiveAttribution(t *testing.T) {
	alice := store.Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1", Reason: "ticket 42"}
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, s, "syd1", "a")
			var told []string // "id:new:attributed" per hook call
			hook := func(_ context.Context, _ store.Tx, c store.Archived) error {
				told = append(told, c.Session.Session.ID+":"+map[bool]string{true: "new", false: "old"}[c.New]+":"+
					map[bool]string{true: "attributed", false: "-"}[c.Attributed]+":"+c.Session.Attribution.Person)
				return nil
			}
			with := func(c store.Change, a *store.Attribution) store.Change { c.Attribution = a; return c }
			pending := &store.Attribution{Pending: true}
			// gw: through the gateway at once; out: outside (no lookup); p1: pending, then
			// through the gateway; p2: pending, then decided outside by Attribute; p3: pending,
			// Attribute with a pending "decision" leaves it.
			if err := s.Archive(ctx, l, []store.Change{
				with(change(session("gw", t0, true), 0, nil, false), &alice),
				change(session("out", t0.Add(time.Minute), true), 0, nil, false),
				with(change(session("p1", t0.Add(2*time.Minute), true), 0, nil, false), pending),
				with(change(session("p2", t0.Add(3*time.Minute), true), 0, nil, false), pending),
				with(change(session("p3", t0.Add(4*time.Minute), true), 0, nil, false), pending),
			}, store.Checkpoint{HighWater: t0}, hook); err != nil {
				t.Fatal(err)
			}
			list, err := s.PendingAttributions(ctx, "syd1")
			if err != nil {
				t.Fatal(err)
			}
			if ids := sessionIDs(list); ids != "p1,p2,p3" {
				t.Fatalf("pending = %s, want p1,p2,p3", ids)
			}
			told = nil
			// A later poll: gw reported outside (a lookup that missed) keeps alice; out
			// reported pending stays decided; p1 becomes alice's (attributed).
			if err := s.Archive(ctx, l, []store.Change{
				with(change(session("gw", t0, true), 0, nil, false), &store.Attribution{}),
				with(change(session("out", t0.Add(time.Minute), true), 0, nil, false), pending),
				with(change(session("p1", t0.Add(2*time.Minute), true), 0, nil, false), &alice),
			}, store.Checkpoint{HighWater: t0}, hook); err != nil {
				t.Fatal(err)
			}
			if want := "p1:old:attributed:alice"; len(told) != 1 || told[0] != want {
				t.Fatalf("hook told %v, want [%s] (unchanged sessions are skipped)", told, want)
			}
			told = nil
			if err := s.Attribute(ctx, l, map[string]store.Attribution{"p2": {}, "p3": {Pending: true}, "gw": {}, "nope": {}}, hook); err != nil {
				t.Fatal(err)
			}
			if want := "p2:old:attributed:"; len(told) != 1 || told[0] != want {
				t.Fatalf("Attribute told %v, want [%s]", told, want)
			}
			want := map[string]store.Attribution{"gw": alice, "out": {}, "p1": alice, "p2": {}, "p3": {Pending: true}}
			for id, a := range want {
				x, err := s.Session(ctx, "syd1", id)
				if err != nil {
					t.Fatal(err)
				}
				if x.Attribution != a {
					t.Errorf("%s: attribution %+v, want %+v", id, x.Attribution, a)
				}
			}
			page, err := s.ReportSessions(ctx, store.ReportPage{From: t0, To: t0.Add(time.Hour), Rows: 10, Bytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page {
				if x.Attribution != want[x.Session.ID] {
					t.Errorf("report %s: attribution %+v, want %+v", x.Session.ID, x.Attribution, want[x.Session.ID])
				}
			}
			byPerson := map[string]int64{}
			if err := s.GroupSessions(ctx, store.GroupQuery{From: t0, To: t0.Add(time.Hour), By: []store.GroupColumn{store.GroupPerson}},
				func(g store.SessionGroup) error { byPerson[g.Person] += g.Sessions; return nil }); err != nil {
				t.Fatal(err)
			}
			if byPerson["alice"] != 2 || byPerson[""] != 3 || len(byPerson) != 2 {
				t.Errorf("by person %v, want alice:2 and \"\":3", byPerson)
			}
			// Another replica took the lease: Attribute writes nothing.
			l.Epoch--
			if err := s.Attribute(ctx, l, map[string]store.Attribution{"p3": {}}, hook); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("Attribute with a stale lease: %v, want ErrLeaseLost", err)
			}
		})
	}
}

func sessionIDs(list []*store.Session) string {
	out := ""
	for i, x := range list {
		if i > 0 {
			out += ","
		}
		out += x.Session.ID
	}
	return out
}
