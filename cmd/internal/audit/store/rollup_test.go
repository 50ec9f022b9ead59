package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The per-day rollup equals the sessions counted from scratch after every kind of write:
// sessions archived, archived again with another state, result, account, machine or item
// totals (a session moving between groups, a group's earliest or latest session leaving it, a
// group emptied), attributions decided later, and prunes. On each engine.
func TestRollupFollowsEveryWrite(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, s, "syd1", "a")
			check := func(step string) {
				t.Helper()
				drift, err := store.RollupDrift(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				if drift != "" {
					t.Fatalf("after %s: %s", step, drift)
				}
			}
			r := rand.New(rand.NewPCG(26, 1))
			results := []upstream.RestoreSessionResult{"Success", "Warning", "Failed", "Odd"}
			users := []string{"CONTOSO\\alice", "CONTOSO\\bob", ""}
			hosts := []string{"PC1 (via: 198.51.100.7)", "PC2", ""}
			base := t0.Add(-20 * 24 * time.Hour)
			gen := func(i int, working bool) store.Change {
				x := session(fmt.Sprintf("s%03d", i), base.Add(time.Duration(i%60)*7*time.Hour+time.Duration(r.IntN(3600))*time.Second), working)
				x.Result, x.InitiatedBy, x.ClientHost = results[r.IntN(len(results))], users[r.IntN(len(users))], hosts[r.IntN(len(hosts))]
				x.Organization = []string{"Contoso", "Fabrikam"}[i%2]
				c := change(x, 0, nil, !working)
				c.Session.OrgID = []string{"org-1", "org-2"}[i%2]
				if i%5 == 0 {
					c.Attribution = &store.Attribution{Pending: true}
				}
				return c
			}
			var first []store.Change
			for i := range 200 {
				first = append(first, gen(i, true))
			}
			if err := s.Archive(ctx, l, first, store.Checkpoint{HighWater: t0}, nil); err != nil {
				t.Fatal(err)
			}
			check("the first archive")
			// Again: most end (state, result, end time), some change account or machine, some
			// gain items through events; the same start and organisation.
			var again []store.Change
			for i := range 200 {
				if i%4 == 3 {
					continue
				}
				c := first[i]
				c.Session.Session.State = upstream.SessionStateStopped
				end := c.Session.Session.CreationTime.Add(time.Minute)
				c.Session.Session.EndTime = &end
				c.Session.Session.Result = results[r.IntN(len(results))]
				if i%3 == 0 {
					c.Session.Session.InitiatedBy, c.Session.Session.ClientHost = "CONTOSO\\carol", "PC9"
				}
				if i%2 == 0 {
					c.NewEvents, c.Session.EventsRead = events(0, 1+i%4, end), 1+i%4
				}
				c.Session.EventsComplete = true
				c.Attribution = nil
				again = append(again, c)
			}
			if err := s.Archive(ctx, l, again, store.Checkpoint{HighWater: t0}, nil); err != nil {
				t.Fatal(err)
			}
			check("archiving again")
			pending, err := s.PendingAttributions(ctx, "syd1")
			if err != nil || len(pending) == 0 {
				t.Fatal(len(pending), err)
			}
			decided := map[string]store.Attribution{}
			for i, x := range pending {
				decided[x.Session.ID] = store.Attribution{ThroughGateway: i%2 == 0, Person: []string{"alice", ""}[i%2]}
			}
			if err := s.Attribute(ctx, l, decided, nil); err != nil {
				t.Fatal(err)
			}
			check("attributing")
			// Prune half the days' ended sessions, then everything ended.
			if _, err := s.Prune(ctx, base.Add(10*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			check("a prune")
			if _, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			check("pruning every ended session")
		})
	}
}
