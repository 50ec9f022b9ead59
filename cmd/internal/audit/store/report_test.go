package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// OpenSessionKeys names the sessions archived and not ended among the keys asked, in the
// transaction; unknown, ended and empty keys are never open, repeats are answered once, and
// more keys than one statement takes are read in chunks. On each engine.
func TestOpenSessionKeys(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, s, "syd1", "a")
			if err := s.Archive(ctx, l, []store.Change{
				change(session("open1", t0.Add(-time.Hour), true), 3, events(0, 3, t0), false),
				change(session("done1", t0.Add(-time.Hour), false), 2, events(0, 2, t0), true),
			}, store.Checkpoint{HighWater: t0}, nil); err != nil {
				t.Fatal(err)
			}
			keys := []store.SessionKey{{"syd1", "open1"}, {"syd1", "done1"}, {"syd1", "nope"}, {"mel1", "open1"}, {"", ""}, {"syd1", "open1"}}
			for i := range 1200 {
				keys = append(keys, store.SessionKey{Server: "syd1", ID: fmt.Sprintf("x%04d", i)})
			}
			var open map[store.SessionKey]bool
			if err := s.InTx(ctx, func(tx store.Tx) (err error) {
				open, err = store.OpenSessionKeys(ctx, tx, keys)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(open) != 1 || !open[store.SessionKey{Server: "syd1", ID: "open1"}] {
				t.Fatalf("open = %v, want syd1/open1 alone", open)
			}
		})
	}
}

// The report readers: ReportSessions pages the window in (start, server, id) order with the
// fields a report reads; GroupSessions counts the window's sessions by the columns asked and
// selects by ValueSet (In, or outside NotIn; neither: nothing). On each engine.
func TestReportReaders(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := storetest.Open(t, eng.Options(t))
			ctx := context.Background()
			l := lease(t, s, "syd1", "a")
			var changes []store.Change
			for i, res := range []upstream.RestoreSessionResult{"Success", "Failed", "Failed", "Odd"} {
				x := session(fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Minute), false)
				x.Result = res
				changes = append(changes, change(x, 3, events(0, 3, t0), true))
			}
			outside := session("late", t0.Add(2*time.Hour), false)
			changes = append(changes, change(outside, 0, nil, true))
			if err := s.Archive(ctx, l, changes, store.Checkpoint{HighWater: t0}, nil); err != nil {
				t.Fatal(err)
			}
			from, to := t0, t0.Add(time.Hour)

			var got []string
			p := store.ReportPage{From: from, To: to, Rows: 3, Bytes: 1 << 20}
			for {
				page, err := s.ReportSessions(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				if len(page) > 3 {
					t.Fatalf("page of %d rows, want at most 3", len(page))
				}
				for _, x := range page {
					if x.OrgID != "org-1" || x.Session.Organization != "Contoso" || x.Totals.Items != 2 || x.Totals.ByEventType["Restore"] != 1 {
						t.Fatalf("session %+v: fields missing", x)
					}
					got = append(got, x.Session.ID)
				}
				last := page[len(page)-1]
				p.After = &store.ReportKey{Start: last.Session.CreationTime, Server: last.Server, ID: last.Session.ID}
			}
			if want := []string{"s0", "s1", "s2", "s3"}; !slices.Equal(got, want) {
				t.Fatalf("sessions %v, want %v", got, want)
			}

			for _, tc := range []struct {
				name    string
				results *store.ValueSet
				want    map[string]int64 // result -> sessions
			}{
				{"all", nil, map[string]int64{"Success": 1, "Failed": 2, "Odd": 1}},
				{"in", &store.ValueSet{In: []string{"Failed"}}, map[string]int64{"Failed": 2}},
				{"outside", &store.ValueSet{NotIn: []string{"Success", "Failed"}}, map[string]int64{"Odd": 1}},
				{"in or outside", &store.ValueSet{In: []string{"Success"}, NotIn: []string{"Success", "Failed"}}, map[string]int64{"Success": 1, "Odd": 1}},
				{"nothing", &store.ValueSet{}, map[string]int64{}},
			} {
				groups := map[string]int64{}
				var failed int64
				err := s.GroupSessions(ctx, store.GroupQuery{From: from, To: to, By: []store.GroupColumn{store.GroupResult, store.GroupDay},
					Results: tc.results}, func(g store.SessionGroup) error {
					if g.Server != "syd1" || g.OrgID != "org-1" || g.First.Before(from) || !g.First.Before(to) {
						t.Errorf("%s: group %+v", tc.name, g)
					}
					groups[g.Result] += g.Sessions
					failed += g.Failed
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(groups) != fmt.Sprint(tc.want) || failed != tc.want["Failed"] {
					t.Errorf("%s: groups %v (failed %d), want %v", tc.name, groups, failed, tc.want)
				}
			}
		})
	}
}
