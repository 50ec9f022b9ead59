package store_test

import (
	"context"
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
			for _, tc := range []struct {
				name string
				orgs map[string]map[string]bool
				want []string
			}{
				{"every organisation", nil, []string{"a1", "b1", "b2", "a2", "a3", "a4", "a5", "a6", "b3"}},
				{"folded names per server", map[string]map[string]bool{"syd1": keys("contoso", "sales"), "mel1": keys("sales")},
					[]string{"a1", "b2", "a2", "a4", "a5", "a6", "b3"}},
				{"one server's", map[string]map[string]bool{"mel1": keys("contoso")}, []string{"b1"}},
				{"a name nobody has", map[string]map[string]bool{"syd1": keys("northwind")}, nil},
				{"no organisation", map[string]map[string]bool{}, nil},
			} {
				q := store.ListQuery{Servers: []string{"syd1", "mel1"}, Orgs: tc.orgs}
				var got []string
				for page := 0; page < 10; page++ { // two at a time, along the keyset
					q.Limit = 2
					list, err := s.ListSessions(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
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
