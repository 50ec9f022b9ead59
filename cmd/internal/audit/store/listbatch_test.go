package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ListSessionsBatch (one statement of one text, its lists' probes as a parameter) answers
// every query as ListSessions answers it alone, on both engines, over random queries: 1 to 3
// servers in any order, organisations by folded name (several recorded spellings each), time
// windows, list positions on every server (ties of start time across servers and ids), the
// type, state and result filters (in, not in, both, neither), limits, and batches from one
// list to more than one statement's worth of probes, many lists of one limit or of several.
func TestListSessionsBatchEqualsListSessions(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(28, 1))
			servers := []string{"syd1", "mel1", "per1"}
			spellings := [][]string{{"Contoso", "CONTOSO", "contoso"}, {"Fabrikam"}, {"Sales", "ſales"}, {"Northwind"},
				{"Tailspin", "TAILSPIN"}, {"Woodgrove"}, {"Adatum"}, {""}}
			keys := []string{"contoso", "fabrikam", "sales", "northwind", "tailspin", "woodgrove", "adatum", "", "nobody"}
			types := []upstream.RestoreSessionType{"Vex", "Vesp", "Veod", "Vet", "Other"}
			states := []upstream.RestoreSessionState{"Working", "Stopped", "Odd"}
			results := []upstream.RestoreSessionResult{"Success", "Warning", "Failed", "None", ""}
			var starts []time.Time
			for i := range 25 { // few distinct start times: many ties within and across servers
				starts = append(starts, t0.Add(-time.Duration(i)*time.Hour))
			}
			for _, sv := range servers {
				var cs []store.Change
				for i := range 90 {
					org := spellings[rng.IntN(len(spellings))]
					cs = append(cs, store.Change{Session: store.Session{Server: sv, Session: upstream.RestoreSession{
						ID: fmt.Sprintf("%c%02d", 'a'+rng.IntN(6), i), Organization: org[rng.IntN(len(org))],
						Type: types[rng.IntN(len(types))], State: states[rng.IntN(len(states))], Result: results[rng.IntN(len(results))],
						CreationTime: starts[rng.IntN(len(starts))]}}})
				}
				if err := s.Archive(ctx, lease(t, s, sv, "a"), cs, store.Checkpoint{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			values := func(all []string) *store.ValueSet {
				pick := func() (out []string) {
					for _, v := range all {
						if rng.IntN(3) == 0 {
							out = append(out, v)
						}
					}
					return out
				}
				switch rng.IntN(4) {
				case 0:
					return &store.ValueSet{In: pick()}
				case 1:
					return &store.ValueSet{NotIn: pick()}
				case 2:
					return &store.ValueSet{In: pick(), NotIn: pick()}
				}
				return nil
			}
			strs := func(vs ...any) (out []string) {
				for _, v := range vs {
					out = append(out, fmt.Sprint(v))
				}
				return out
			}
			randomQuery := func(limits []int) store.ListQuery {
				q := store.ListQuery{Limit: limits[rng.IntN(len(limits))]}
				for _, i := range rng.Perm(len(servers))[:1+rng.IntN(len(servers))] {
					q.Servers = append(q.Servers, servers[i])
				}
				q.Orgs = map[string]map[string]bool{}
				for _, sv := range q.Servers {
					if rng.IntN(4) > 0 {
						q.Orgs[sv] = map[string]bool{}
						for range 1 + rng.IntN(3) {
							q.Orgs[sv][keys[rng.IntN(len(keys))]] = true
						}
					}
				}
				if rng.IntN(8) == 0 {
					q.Orgs = nil // every organisation: read alone
				}
				if rng.IntN(2) == 0 {
					f := starts[10+rng.IntN(15)]
					q.From = &f
				}
				if rng.IntN(2) == 0 {
					to := starts[rng.IntN(12)]
					q.To = &to
				}
				if rng.IntN(5) == 0 {
					q.Types = values(strs(types[0], types[1], types[2], types[3]))
				}
				if rng.IntN(5) == 0 {
					q.States = values(strs(states[0], states[1]))
				}
				if rng.IntN(5) == 0 {
					q.Results = values(strs(results[0], results[1], results[2]))
				}
				if rng.IntN(2) == 0 { // continue after a position: a session's, or between sessions
					sv := q.Servers[rng.IntN(len(q.Servers))]
					q.After = &store.ListKey{Start: starts[rng.IntN(len(starts))], Server: sv, ID: fmt.Sprintf("%c%02d", 'a'+rng.IntN(6), rng.IntN(90))}
				}
				return q
			}
			nonEmpty := 0
			for round, n := range []int{1, 2, 3, 5, 8, 13, 21, 40, 60, 120, 400} {
				limits := []int{1 + rng.IntN(12)}
				if round%2 == 1 {
					limits = append(limits, 1+rng.IntN(30), 0)
				}
				qs := make([]store.ListQuery, n)
				for i := range qs {
					qs[i] = randomQuery(limits)
				}
				got, err := s.ListSessionsBatch(ctx, qs)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(qs) {
					t.Fatalf("%d lists for %d queries", len(got), len(qs))
				}
				for i, q := range qs {
					want, err := s.ListSessions(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(want) > 0 {
						nonEmpty++
					}
					if len(got[i]) != len(want) || len(want) > 0 && !reflect.DeepEqual(got[i], want) {
						t.Fatalf("batch of %d, list %d (%+v): %s, want %s", n, i, q, listIDs(got[i]), listIDs(want))
					}
				}
			}
			if nonEmpty < 300 {
				t.Errorf("only %d lists had sessions: the queries test little", nonEmpty)
			}
		})
	}
}

// A list position on a server the query does not list is refused, in a batch as alone.
func TestListSessionsBatchRefusesForeignPosition(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.SQLite(t))
	ctx := context.Background()
	if err := s.Archive(ctx, lease(t, s, "syd1", "a"), []store.Change{{Session: store.Session{Server: "syd1",
		Session: upstream.RestoreSession{ID: "a1", Organization: "Contoso", CreationTime: t0}}}}, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	q := store.ListQuery{Servers: []string{"syd1"}, Limit: 5, Orgs: map[string]map[string]bool{"syd1": {"contoso": true}},
		After: &store.ListKey{Start: t0, Server: "mel1", ID: "x"}}
	if _, err := s.ListSessions(ctx, q); err == nil {
		t.Error("ListSessions: no error for a position on mel1")
	}
	if _, err := s.ListSessionsBatch(ctx, []store.ListQuery{q}); err == nil {
		t.Error("ListSessionsBatch: no error for a position on mel1")
	}
}

// A list whose position's id is not valid UTF-8 (a client's cursor; JSON cannot carry it) is
// answered as ListSessions answers it, beside lists read together.
func TestListSessionsBatchInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.SQLite(t))
	ctx := context.Background()
	var cs []store.Change
	for _, id := range []string{"a", "b\xff", "b\xfe", "c"} {
		cs = append(cs, store.Change{Session: store.Session{Server: "syd1", Session: upstream.RestoreSession{ID: id,
			Organization: "Contoso", CreationTime: t0}}})
	}
	if err := s.Archive(ctx, lease(t, s, "syd1", "a"), cs, store.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	orgs := map[string]map[string]bool{"syd1": {"contoso": true}}
	qs := []store.ListQuery{
		{Servers: []string{"syd1"}, Limit: 5, Orgs: orgs, After: &store.ListKey{Start: t0, Server: "syd1", ID: "b\xfe"}},
		{Servers: []string{"syd1"}, Limit: 5, Orgs: orgs, After: &store.ListKey{Start: t0, Server: "syd1", ID: "b\uFFFD"}},
		{Servers: []string{"syd1"}, Limit: 5, Orgs: orgs},
	}
	got, err := s.ListSessionsBatch(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range qs {
		want, err := s.ListSessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(listIDs(got[i]), listIDs(want)) {
			t.Errorf("list %d: %q, want %q", i, listIDs(got[i]), listIDs(want))
		}
	}
	if len(got[0]) != 2 { // b\xff and c
		t.Errorf("after b\\xfe: %q, want b\\xff and c", listIDs(got[0]))
	}
}

func listIDs(l []*store.Session) (out []string) {
	for _, x := range l {
		out = append(out, x.Server+"/"+x.Session.ID+"@"+x.Session.CreationTime.Format("15"))
	}
	return out
}
