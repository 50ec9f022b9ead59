package loaders

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// walkMerged pages through a merge of servers until hasNext is false (at most 50 pages).
func walkMerged(t *testing.T, b *Backend, servers []string, first int, m *Matcher, between func(page int)) []string {
	t.Helper()
	var got []string
	cur := gid.StreamCursor{}
	for page := range 50 {
		dec, err := gid.DecodeStream(gid.EncodeStream(cur))
		if err != nil {
			t.Fatal(err)
		}
		mp := b.New().MergedRestoreSessions(context.Background(), servers, Window{}, dec, first, m)
		for _, s := range mp.Sessions {
			got = append(got, s.Session.ID)
		}
		if !mp.HasNext {
			return got
		}
		cur = mp.End
		if between != nil {
			between(page)
		}
	}
	t.Fatalf("no end after 50 pages: %v", got)
	return nil
}

// More sessions at one timestamp than the scan budget: the walk must still move on (it used to
// pause at the same place on every request).
func TestScanBudgetSmallerThanATie(t *testing.T) {
	f := &fakeUp{}
	for i := range 3 {
		f.sessions = append(f.sessions, upstream.RestoreSession{ID: fmt.Sprintf("s%d", i), CreationTime: t0})
	}
	f.sessions = append(f.sessions, upstream.RestoreSession{ID: "old", CreationTime: t0.Add(-time.Hour)})
	b, err := NewBackend([]VBOServer{{Name: "a", Client: f}}, Config{ListingTTL: -1, ScanBudget: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := walkMerged(t, b, []string{"a"}, 1, nil, nil); fmt.Sprint(got) != "[s0 s1 s2 old]" {
		t.Errorf("walked %v, want [s0 s1 s2 old]", got)
	}
}

// A session inserted upstream while one walk reads its offset pages (here: cached pages mixed
// with a fresh one) shifts the later pages; nothing may come back twice.
func TestWalkSurvivesShiftedPages(t *testing.T) {
	f := &fakeUp{}
	for i := range 30 {
		f.sessions = append(f.sessions, upstream.RestoreSession{ID: fmt.Sprintf("s%02d", i), CreationTime: t0.Add(-time.Duration(i) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: f}}, Config{PageSize: 10}) // listing TTL on
	if err != nil {
		t.Fatal(err)
	}
	all := &Matcher{Fn: func(string, *upstream.RestoreSession) bool { return true }}
	ctx := context.Background()
	b.New().MergedRestoreSessions(ctx, []string{"a"}, Window{}, nil, 15, all) // caches offsets 0 and 10
	f.sessions = append([]upstream.RestoreSession{{ID: "new", CreationTime: t0.Add(time.Minute)}}, f.sessions...)
	mp := b.New().MergedRestoreSessions(ctx, []string{"a"}, Window{}, nil, 25, all)
	seen := map[string]bool{}
	for _, s := range mp.Sessions {
		if seen[s.Session.ID] {
			t.Errorf("%s twice in one page", s.Session.ID)
		}
		seen[s.Session.ID] = true
	}
}

// A server none of whose sessions made page 1 is nevertheless in the cursor: a session created
// there afterwards must not surface on a later page, after older ones.
func TestUntouchedLaneIgnoresLaterInsertions(t *testing.T) {
	a, c := &fakeUp{}, &fakeUp{}
	for i := range 6 {
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%d", i), CreationTime: t0.Add(-time.Duration(i) * time.Minute)})
	}
	c.sessions = []upstream.RestoreSession{{ID: "c0", CreationTime: t0.Add(-time.Hour)}}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := walkMerged(t, b, []string{"a", "c"}, 3, nil, func(page int) {
		if page == 0 {
			c.sessions = append([]upstream.RestoreSession{{ID: "c-new", CreationTime: t0.Add(time.Minute)}}, c.sessions...)
		}
	})
	if want := "[a0 a1 a2 a3 a4 a5 c0]"; fmt.Sprint(got) != want {
		t.Errorf("walked %v, want %s", got, want)
	}
}

// A failed server keeps hasNextPage true: its sessions come once it answers again.
func TestFailedLaneKeepsHasNext(t *testing.T) {
	a, c := &fakeUp{}, &flaky{fakeUp: &fakeUp{}}
	for i := range 3 {
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%d", i), CreationTime: t0.Add(-time.Duration(2*i) * time.Minute)})
		c.sessions = append(c.sessions, upstream.RestoreSession{ID: fmt.Sprintf("c%d", i), CreationTime: t0.Add(-time.Duration(2*i+1) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := walkMerged(t, b, []string{"a", "c"}, 2, nil, func(page int) { c.down = page == 0 })
	slices.Sort(got)
	if want := "[a0 a1 a2 c0 c1 c2]"; fmt.Sprint(got) != want {
		t.Errorf("walked %v, want %s (nothing lost while c was down)", got, want)
	}
}
