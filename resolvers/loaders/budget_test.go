package loaders

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// With a scan budget, a filter that matches little of a large listing costs each request a
// bounded number of listing calls, and walking the pages still yields every match exactly once,
// newest first.
func TestMergeScanBudget(t *testing.T) {
	ctx := context.Background()
	a, c := &fakeUp{}, &fakeUp{}
	for i := range 200 {
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%03d", i), Organization: org(i), CreationTime: t0.Add(-time.Duration(2*i) * time.Minute)})
		c.sessions = append(c.sessions, upstream.RestoreSession{ID: fmt.Sprintf("c%03d", i), Organization: org(i + 3), CreationTime: t0.Add(-time.Duration(2*i+1) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1, PageSize: 10, ScanBudget: 30})
	if err != nil {
		t.Fatal(err)
	}
	rare := &Matcher{Fn: func(_ string, s *upstream.RestoreSession) bool { return s.Organization == "rare" }}
	var want []string
	for i := range 200 { // newest first across both servers: a(i) then c(i)
		if org(i) == "rare" {
			want = append(want, fmt.Sprintf("a%03d", i))
		}
		if org(i+3) == "rare" {
			want = append(want, fmt.Sprintf("c%03d", i))
		}
	}
	var got []string
	cur := gid.StreamCursor{}
	requests := 0
	for ; requests < 100; requests++ {
		a.calls, c.calls = nil, nil
		dec, _ := gid.DecodeStream(gid.EncodeStream(cur))
		mp := b.New().MergedRestoreSessions(ctx, []string{"a", "c"}, Window{}, dec, 5, rare)
		if n := a.n("sessions") + c.n("sessions"); n > 2*3 {
			t.Fatalf("request %d made %d listing calls, want at most 3 per server (budget 30, pages of 10)", requests, n)
		}
		for _, s := range mp.Sessions {
			got = append(got, s.Session.ID)
		}
		cur = mp.End
		if !mp.HasNext {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("walked %v\nwant   %v", got, want)
	}
	if requests < 3 {
		t.Errorf("finished in %d requests: the budget did not bound the walk", requests+1)
	}
}

// The per-organisation walk pauses too, and its resume position continues the walk.
func TestOrgWalkScanBudget(t *testing.T) {
	f := &fakeUp{}
	for i := range 300 {
		f.sessions = append(f.sessions, upstream.RestoreSession{ID: fmt.Sprintf("s%03d", i), Organization: org(i), CreationTime: t0.Add(-time.Duration(i) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "srv", Client: f}}, Config{ListingTTL: -1, PageSize: 20, ScanBudget: 40})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, s := range f.sessions {
		if s.Organization == "rare" {
			want = append(want, s.ID)
		}
	}
	var after *gid.Position
	for range 50 {
		p, err := b.New().OrgRestoreSessions(context.Background(), NewOrgSessionsKey("srv", "RARE", Window{}, after, 4, nil))
		if err != nil {
			t.Fatal(err)
		}
		n := min(len(p.Sessions), 3) // first: 3, need 4
		got = append(got, ids(p.Sessions[:n])...)
		switch {
		case p.Resume != nil && len(p.Sessions) < 4:
			after = p.Resume
		case len(p.Sessions) > 3:
			after = &p.After[2]
		default:
			after = nil
		}
		if after == nil {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("walked %v\nwant   %v", got, want)
	}
}

// org spreads sessions over organisations; one in 37 belongs to "rare".
func org(i int) string {
	if i%37 == 0 {
		return "rare"
	}
	return "Org" + strings.Repeat("x", i%3)
}

// A lane paused at its budget holds back older sessions of the other lanes: otherwise the next
// page would bring the paused lane's newer sessions after them.
func TestMergeScanBudgetKeepsOrder(t *testing.T) {
	ctx := context.Background()
	a, c := &fakeUp{}, &fakeUp{}
	for i := range 200 { // dense, rarely matching, recent
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%03d", i), Organization: org(i), CreationTime: t0.Add(-time.Duration(i) * time.Minute)})
	}
	for i := range 10 { // all matching, old
		c.sessions = append(c.sessions, upstream.RestoreSession{ID: fmt.Sprintf("c%03d", i), Organization: "rare", CreationTime: t0.Add(-time.Duration(300+i) * time.Minute)})
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1, PageSize: 10, ScanBudget: 30})
	if err != nil {
		t.Fatal(err)
	}
	rare := &Matcher{Fn: func(_ string, s *upstream.RestoreSession) bool { return s.Organization == "rare" }}
	var got []MergedSession
	cur := gid.StreamCursor{}
	for range 100 {
		mp := b.New().MergedRestoreSessions(ctx, []string{"a", "c"}, Window{}, cur, 5, rare)
		got = append(got, mp.Sessions...)
		cur = mp.End
		if !mp.HasNext {
			break
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Session.CreationTime.After(got[i-1].Session.CreationTime) {
			t.Fatalf("%s (%s) after %s (%s): not newest first", got[i].Session.ID, got[i].Session.CreationTime, got[i-1].Session.ID, got[i-1].Session.CreationTime)
		}
	}
	if len(got) != 6+10 { // a000, a037, ..., a185 and all of c
		t.Errorf("%d sessions, want 16", len(got))
	}
}
