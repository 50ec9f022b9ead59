package store_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ListSessions and CountSessions select the organisations ListQuery.Orgs names by their
// names' keys (upstream.OrgNameKey, folded in Go: "CONTOSO" and "ſales" are Contoso's and
// Sales's), per server, in the same newest-first order and keyset as without them.
// ListSessionsBatch answers every page's query, read together (across its 200-list chunks),
// as ListSessions answers each alone.
func TestListSessionsByOrganization(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			archive := func(server string, list ...upstream.RestoreSession) {
				t.Helper()
				var cs []store.Change
				for _, x := range list {
					cs = append(cs, store.Change{Session: store.Session{Server: server, Session: x}})
				}
				if err := s.Archive(ctx, lease(t, s, server, "a"), cs, store.Checkpoint{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			at := func(id, org string, ago time.Duration) upstream.RestoreSession {
				return upstream.RestoreSession{ID: id, Organization: org, Type: "Vex", State: "Stopped", Result: "Success", CreationTime: t0.Add(-ago)}
			}
			archive("syd1", at("a1", "Contoso", 0), at("a2", "CONTOSO", time.Hour), at("a3", "Fabrikam", 2*time.Hour),
				at("a4", "ſales", 3*time.Hour), at("a5", "Sales", 4*time.Hour), at("a6", "Contoso", 4*time.Hour))
			archive("mel1", at("b1", "Contoso", 0), at("b2", "Sales", 30*time.Minute), at("b3", "Sales", 4*time.Hour))
			keys := func(names ...string) map[string]bool {
				m := map[string]bool{}
				for _, n := range names {
					m[n] = true
				}
				return m
			}
			var pages []store.ListQuery
			var lists [][]*store.Session
			defer func() { checkListBatch(t, s, pages, lists) }()
			for _, tc := range []struct {
				name    string
				orgs    map[string]map[string]bool
				want    []string
				servers []string // default syd1, mel1
			}{
				{"every organisation", nil, []string{"a1", "b1", "b2", "a2", "a3", "a4", "a5", "a6", "b3"}, nil},
				// One server: read along the start time index, ties (a5, a6) by id across pages.
				{"one server's, every organisation", nil, []string{"a1", "a2", "a3", "a4", "a5", "a6"}, []string{"syd1"}},
				{"the other server's", nil, []string{"b1", "b2", "b3"}, []string{"mel1"}},
				{"folded names per server", map[string]map[string]bool{"syd1": keys("contoso", "sales"), "mel1": keys("sales")},
					[]string{"a1", "b2", "a2", "a4", "a5", "a6", "b3"}, nil},
				{"one server's", map[string]map[string]bool{"mel1": keys("contoso")}, []string{"b1"}, nil},
				{"a name nobody has", map[string]map[string]bool{"syd1": keys("northwind")}, nil, nil},
				{"no organisation", map[string]map[string]bool{}, nil, nil},
			} {
				q := store.ListQuery{Servers: []string{"syd1", "mel1"}, Orgs: tc.orgs}
				if tc.servers != nil {
					q.Servers = tc.servers
				}
				var got []string
				for page := 0; page < 10; page++ { // two at a time, along the keyset
					q.Limit = 2
					list, err := s.ListSessions(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					pages, lists = append(pages, q), append(lists, list)
					for _, x := range list {
						got = append(got, x.Session.ID)
					}
					if len(list) < q.Limit {
						break
					}
					l := list[len(list)-1]
					q.After = &store.ListKey{Start: l.Session.CreationTime, Server: l.Server, ID: l.Session.ID}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: ListSessions = %v, want %v", tc.name, got, tc.want)
				}
				n, err := s.CountSessions(ctx, q)
				if err != nil || n != len(tc.want) {
					t.Errorf("%s: CountSessions = %d, %v, want %d", tc.name, n, err, len(tc.want))
				}
			}
		})
	}
}

// checkListBatch asks ListSessionsBatch for every query of qs at once, each query three
// times (over the batch's chunk of 200 lists when qs has more than 66) with an empty query
// between, and checks each answer is want's (ListSessions' answer to the query alone).
func checkListBatch(t *testing.T, s *store.Store, qs []store.ListQuery, want [][]*store.Session) {
	t.Helper()
	if len(qs) != len(want) {
		t.Fatalf("%d queries, %d lists", len(qs), len(want))
	}
	var ask []store.ListQuery
	for range 3 {
		for _, q := range qs {
			ask = append(ask, q, store.ListQuery{Limit: 5})
		}
	}
	got, err := s.ListSessionsBatch(context.Background(), ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ask) {
		t.Fatalf("ListSessionsBatch: %d lists for %d queries", len(got), len(ask))
	}
	ids := func(l []*store.Session) (out []string) {
		for _, x := range l {
			out = append(out, x.Server+"/"+x.Session.ID)
		}
		return out
	}
	for i, l := range got {
		var w []*store.Session
		if i%2 == 0 {
			w = want[i/2%len(qs)]
		}
		if !slices.Equal(ids(l), ids(w)) {
			t.Errorf("ListSessionsBatch list %d = %v, want %v (ListSessions)", i, ids(l), ids(w))
		} else if len(l) > 0 && !reflect.DeepEqual(l, w) {
			t.Errorf("ListSessionsBatch list %d: sessions differ from ListSessions': %+v, want %+v", i, *l[0], *w[0])
		}
	}
}

// EventsOfSessions reads, for many sessions of one server at once, what SessionEventsFrom
// reads of each (the same range of positions, in order), none of another server's, across
// the 500-session chunks of its query.
func TestEventsOfSessions(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			withEvents := func(server, id string, n int) store.Change {
				c := store.Change{Session: store.Session{Server: server, Session: upstream.RestoreSession{ID: id, Organization: "Contoso",
					Type: "Vex", State: "Stopped", Result: "Success", CreationTime: t0}, EventsRead: n, EventsComplete: true}}
				for i := range n {
					c.NewEvents = append(c.NewEvents, upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-e%d", id, i), Type: "Export",
						Status: "Success", Title: fmt.Sprintf("event %d of %s", i, id), StartTime: t0.Add(time.Duration(i) * time.Second)})
				}
				return c
			}
			if err := s.Archive(ctx, lease(t, s, "syd1", "a"), []store.Change{withEvents("syd1", "s1", 7), withEvents("syd1", "s2", 3),
				withEvents("syd1", "s3", 0)}, store.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Archive(ctx, lease(t, s, "mel1", "a"), []store.Change{withEvents("mel1", "s1", 4)}, store.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}
			// 1,200 ids, the archived ones in different chunks.
			ids := make([]string, 1200)
			for i := range ids {
				ids[i] = fmt.Sprintf("none%d", i)
			}
			ids[0], ids[600], ids[1100] = "s1", "s2", "s3"
			for _, r := range []struct{ offset, limit int }{{0, 2000}, {0, 3}, {2, 3}, {5, 10}, {9, 5}, {0, 0}} {
				got, err := s.EventsOfSessions(ctx, "syd1", ids, r.offset, r.limit, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range []string{"s1", "s2", "s3"} {
					want, err := s.SessionEventsFrom(ctx, "syd1", id, r.offset, r.limit)
					if err != nil {
						t.Fatal(err)
					}
					if r.limit == 0 {
						want = nil
					}
					if len(got[id]) != len(want) || len(want) > 0 && !reflect.DeepEqual(got[id], want) {
						t.Errorf("[%d, +%d) of %s = %+v, want %+v", r.offset, r.limit, id, got[id], want)
					}
				}
				for id := range got {
					if !slices.Contains([]string{"s1", "s2"}, id) {
						t.Errorf("[%d, +%d): events of %s read", r.offset, r.limit, id)
					}
				}
			}
			if got, _ := s.EventsOfSessions(ctx, "syd1", []string{"s1"}, 0, 2000, 0); len(got["s1"]) != 7 || got["s1"][6].Title != "event 6 of s1" {
				t.Errorf("syd1's s1 = %+v, want its 7 events, not mel1's", got["s1"])
			}
			// Columns left out stay zero; the others, and order, type and status, are read.
			all, _ := s.EventsOfSessions(ctx, "syd1", []string{"s1"}, 0, 2000, 0)
			some, err := s.EventsOfSessions(ctx, "syd1", []string{"s1"}, 0, 2000, store.EventTitle|store.EventTimes|store.EventID)
			if err != nil || len(some["s1"]) != 7 {
				t.Fatalf("projected read: %v, %v", some, err)
			}
			for i, e := range some["s1"] {
				want := all["s1"][i]
				want.Title, want.StartTime, want.EndTime, want.ID = "", time.Time{}, nil, ""
				if !reflect.DeepEqual(e, want) || e.Type != "Export" || e.Order != i {
					t.Errorf("projected event %d = %+v, want %+v", i, e, want)
				}
			}
		})
	}
}
