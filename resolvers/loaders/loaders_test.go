package loaders

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// fakeUp is an in-memory Upstream that counts calls and records listing options.
type fakeUp struct {
	mu       sync.Mutex
	orgs     []upstream.Organization
	sessions []upstream.RestoreSession // newest first
	events   map[string][]upstream.RestoreSessionEvent
	calls    map[string]int
	listings []upstream.RestoreSessionListOptions
}

func (f *fakeUp) count(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[k]++
}

func (f *fakeUp) n(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[k]
}

func (f *fakeUp) takeListings() []upstream.RestoreSessionListOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.listings
	f.listings = nil
	return out
}

func (f *fakeUp) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	f.count("orgs")
	return slices.Clone(f.orgs), nil
}

func (f *fakeUp) RestoreSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	f.count("sessions")
	f.mu.Lock()
	f.listings = append(f.listings, o)
	f.mu.Unlock()
	var match []upstream.RestoreSession
	for _, s := range f.sessions {
		if o.StartTimeFrom != nil && s.CreationTime.Before(*o.StartTimeFrom) ||
			o.StartTimeTo != nil && !s.CreationTime.Before(*o.StartTimeTo) {
			continue
		}
		match = append(match, s)
	}
	limit := o.Limit
	if limit == 0 {
		limit = upstream.DefaultPageSize
	}
	start := min(o.Offset, len(match))
	end := min(start+limit, len(match))
	return &upstream.Page[upstream.RestoreSession]{Offset: o.Offset, Limit: limit, Results: slices.Clone(match[start:end])}, nil, nil
}

func (f *fakeUp) RestoreSession(ctx context.Context, id string) (*upstream.RestoreSession, *upstream.Response, error) {
	f.count("session")
	for _, s := range f.sessions {
		if s.ID == id {
			return &s, nil, nil
		}
	}
	return nil, nil, &upstream.Error{StatusCode: 404}
}

func (f *fakeUp) RestoreSessionEvents(ctx context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	f.count("events")
	evs := f.events[id]
	start := min(o.Offset, len(evs))
	end := min(start+o.Limit, len(evs))
	return &upstream.Page[upstream.RestoreSessionEvent]{Offset: o.Offset, Limit: o.Limit, Results: slices.Clone(evs[start:end])}, nil, nil
}

func (f *fakeUp) RestoreSessionEvent(ctx context.Context, sid, eid string) (*upstream.RestoreSessionEvent, *upstream.Response, error) {
	f.count("event")
	for _, e := range f.events[sid] {
		if e.ID == eid {
			return &e, nil, nil
		}
	}
	return nil, nil, &upstream.Error{StatusCode: 404}
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// newFake builds n sessions spread over orgs, one a minute, newest first; session i of the
// listing is s<i>, organisation "Org<i%orgs>", Working when i < working; each has i%7+2 events.
func newFake(n, orgs, working int) *fakeUp {
	f := &fakeUp{events: map[string][]upstream.RestoreSessionEvent{}}
	for o := range orgs {
		f.orgs = append(f.orgs, upstream.Organization{ID: fmt.Sprintf("org-%d", o), Name: fmt.Sprintf("Org%d", o)})
	}
	for i := range n {
		s := upstream.RestoreSession{ID: fmt.Sprintf("s%d", i), Organization: fmt.Sprintf("org%d", i%orgs), // case differs
			CreationTime: t0.Add(-time.Duration(i) * time.Minute), State: upstream.SessionStateStopped, Type: upstream.SessionTypeExchange}
		if i < working {
			s.State = upstream.SessionStateWorking
		}
		f.sessions = append(f.sessions, s)
		for k := range i%7 + 2 {
			f.events[s.ID] = append(f.events[s.ID], upstream.RestoreSessionEvent{ID: fmt.Sprintf("%s-e%d", s.ID, k), Order: k})
		}
	}
	return f
}

func newBackend(t *testing.T, f *fakeUp, cfg Config) *Backend {
	t.Helper()
	if cfg.BatchWait == 0 {
		cfg.BatchWait = 20 * time.Millisecond // generous, so concurrent loads surely batch
	}
	b, err := NewBackend([]VBOServer{{Name: "srv", APIVersion: "v6", Client: f}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(ss []upstream.RestoreSession) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// wantOrg is the first need sessions of organisation o (newest first) in f.
func wantOrg(f *fakeUp, o, need int) []string {
	var out []string
	for _, s := range f.sessions {
		if strings.EqualFold(s.Organization, fmt.Sprintf("Org%d", o)) && len(out) < need {
			out = append(out, s.ID)
		}
	}
	return out
}

func TestBatchOrgSessionsOneWalk(t *testing.T) {
	f := newFake(100, 5, 0)
	b := newBackend(t, f, Config{PageSize: 10, ListingTTL: -1})
	l := b.New()
	ctx := context.Background()
	const need = 4
	pages := make([]*SessionPage, 5)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for o := range 5 {
		wg.Go(func() {
			pages[o], errs[o] = l.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", fmt.Sprintf("Org%d", o), Window{}, nil, need, nil))
		})
	}
	wg.Wait()
	for o := range 5 {
		if errs[o] != nil {
			t.Fatalf("org %d: %v", o, errs[o])
		}
		if got, want := ids(pages[o].Sessions), wantOrg(f, o, need); !slices.Equal(got, want) {
			t.Errorf("org %d = %v, want %v", o, got, want)
		}
		if len(pages[o].After) != need || pages[o].Total != nil {
			t.Errorf("org %d: %d cursors, total %v", o, len(pages[o].After), pages[o].Total)
		}
	}
	// One walk: every org has 4 sessions after 20 sessions = 2 pages of 10.
	if n := f.n("sessions"); n != 2 {
		t.Errorf("listing calls = %d, want 2 (one walk)", n)
	}
	for i, o := range f.takeListings() {
		if o.Offset != i*10 || o.Limit != 10 || o.StartTimeFrom != nil || o.StartTimeTo != nil {
			t.Errorf("listing %d: %+v", i, o)
		}
	}

	// Walking the whole listing from the top gives a total.
	l = b.New()
	p, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "ORG3", Window{}, nil, 1000, nil))
	if err != nil || len(p.Sessions) != 20 || p.Total == nil || *p.Total != 20 {
		t.Errorf("full walk: %d sessions, total %v, %v", len(p.Sessions), p.Total, err)
	}
	// Need 0 and an unknown server answer at once.
	if p, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org1", Window{}, nil, 0, nil)); err != nil || len(p.Sessions) != 0 {
		t.Errorf("need 0: %v, %v", p, err)
	}
	if _, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("nope", "Org1", Window{}, nil, 3, nil)); err == nil {
		t.Error("unknown server: no error")
	}
}

func TestMatcherAndWindow(t *testing.T) {
	f := newFake(60, 3, 0)
	b := newBackend(t, f, Config{PageSize: 1000, ListingTTL: -1})
	ctx := context.Background()
	from, to := t0.Add(-40*time.Minute), t0.Add(-10*time.Minute)
	odd := &Matcher{Fn: func(_ string, s *upstream.RestoreSession) bool { return s.ID[len(s.ID)-1]%2 == 1 }}
	p, err := b.New().OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org1", Window{From: &from, To: &to}, nil, 100, odd))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 11; i <= 40; i++ { // creation times t0-40m .. t0-11m
		s := f.sessions[i]
		if s.Organization == "org1" && odd.Fn("srv", &s) {
			want = append(want, s.ID)
		}
	}
	if got := ids(p.Sessions); !slices.Equal(got, want) {
		t.Errorf("window+matcher = %v, want %v", got, want)
	}
	ls := f.takeListings()
	if len(ls) != 1 || !ls[0].StartTimeFrom.Equal(from) || !ls[0].StartTimeTo.Equal(to) {
		t.Errorf("listings = %+v, want the window sent upstream", ls)
	}
}

func TestPageMemoAndListingTTL(t *testing.T) {
	ctx := context.Background()
	for _, ttl := range []time.Duration{-1, time.Minute} {
		t.Run(fmt.Sprint("ttl=", ttl), func(t *testing.T) {
			f := newFake(50, 4, 0)
			b := newBackend(t, f, Config{PageSize: 10, ListingTTL: ttl, BatchWait: time.Millisecond})
			l := b.New()
			// Two walks that cannot batch (sequential) read the same pages: fetched once.
			if _, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org0", Window{}, nil, 8, nil)); err != nil {
				t.Fatal(err)
			}
			first := f.n("sessions")
			if first != 3 { // the 8th session of Org0 is s28: pages at offsets 0, 10, 20
				t.Errorf("first walk: %d listing calls, want 3", first)
			}
			if _, err := l.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org1", Window{}, nil, 3, nil)); err != nil {
				t.Fatal(err)
			}
			if n := f.n("sessions"); n != first {
				t.Errorf("second walk in the same request: %d listing calls, want %d (memo)", n, first)
			}
			// A merged read of the same request whose page size differs is a different page.
			l.MergedRestoreSessions(ctx, []string{"srv"}, Window{}, nil, 9, nil) // limit 10 = PageSize: memo hit
			if n := f.n("sessions"); n != first {
				t.Errorf("merged read of a memoised page: %d listing calls, want %d", n, first)
			}
			// Organisations: once per request, and across requests within the TTL.
			for range 3 {
				if _, err := l.Organizations(ctx, "srv"); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.n("orgs"); n != 1 {
				t.Errorf("organisations: %d calls, want 1", n)
			}
			// A new request: the listing TTL decides.
			l2 := b.New()
			if _, err := l2.OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org0", Window{}, nil, 8, nil)); err != nil {
				t.Fatal(err)
			}
			l2.Organizations(ctx, "srv")
			wantSessions, wantOrgs := first, 1
			if ttl < 0 {
				wantSessions, wantOrgs = 2*first, 2
			}
			if n := f.n("sessions"); n != wantSessions {
				t.Errorf("new request: %d listing calls, want %d", n, wantSessions)
			}
			if n := f.n("orgs"); n != wantOrgs {
				t.Errorf("new request: %d organisation calls, want %d", n, wantOrgs)
			}
		})
	}
}

func TestImmutableCache(t *testing.T) {
	ctx := context.Background()
	f := newFake(20, 2, 2) // s0, s1 working
	f.events["s5"] = nil
	for k := range 25 { // one events page of 30, two of 10
		f.events["s5"] = append(f.events["s5"], upstream.RestoreSessionEvent{ID: fmt.Sprintf("s5-e%d", k), Order: k})
	}
	b := newBackend(t, f, Config{PageSize: 10, EventsPageSize: 30, ListingTTL: -1})

	all := func(id string, final bool) EventsQuery {
		return EventsQuery{Server: "srv", SessionID: id, Final: final, Need: 100, Limit: 30, Count: true}
	}
	load := func(l *Loaders, q EventsQuery) *EventsPage {
		t.Helper()
		page, err := l.RestoreSessionEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	// Stopped session read whole in one page: fetched once, then served from the cache.
	page := load(b.New(), all("s5", true))
	if len(page.Events) != 25 || page.Events[24].ID != "s5-e24" || !page.End || page.Total == nil || *page.Total != 25 || f.n("events") != 1 {
		t.Fatalf("s5: %+v, %d calls", page, f.n("events"))
	}
	for range 3 {
		if got := load(b.New(), all("s5", true)); len(got.Events) != 25 || *got.Total != 25 {
			t.Fatalf("cached s5: %d events", len(got.Events))
		}
	}
	if n := f.n("events"); n != 1 {
		t.Errorf("stopped session refetched: %d calls, want 1", n)
	}
	// A page of a cached session and one event of it cost nothing either.
	if got := load(b.New(), EventsQuery{Server: "srv", SessionID: "s5", Final: true, After: 20, Need: 3, Limit: 5}); len(got.Events) != 3 ||
		got.Offsets[0] != 20 || got.Events[0].ID != "s5-e20" || f.n("events") != 1 {
		t.Errorf("page from cache: %+v, %d calls", got, f.n("events"))
	}
	if ev, err := b.New().RestoreSessionEvent(ctx, "srv", "s5", "s5-e7"); err != nil || ev.Order != 7 || f.n("event") != 0 {
		t.Errorf("event from cache: %+v, %v, %d calls", ev, err, f.n("event"))
	}
	// Running session: refetched by every request (but once per request).
	base := f.n("events")
	for range 3 {
		l := b.New()
		for range 2 {
			load(l, all("s0", false))
		}
	}
	if n := f.n("events") - base; n != 3 {
		t.Errorf("running session: %d calls over 3 requests, want 3", n)
	}

	// Sessions seen in a listing are remembered when stopped: RestoreSession then costs nothing.
	if _, err := b.New().OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "Org0", Window{}, nil, 100, nil)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s4", "s6", "s0"} {
		if _, err := b.New().RestoreSession(ctx, "srv", id); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.n("session"); n != 1 { // only the working s0
		t.Errorf("RestoreSession calls = %d, want 1 (working session only)", n)
	}

	// A disabled cache keeps nothing.
	f2 := newFake(10, 1, 0)
	b2 := newBackend(t, f2, Config{PageSize: 10, ListingTTL: -1, CacheBytes: -1})
	for range 2 {
		if _, err := b2.New().RestoreSessionEvents(ctx, EventsQuery{Server: "srv", SessionID: "s3", Final: true, Need: 10, Limit: 10, Count: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := f2.n("events"); n != 2 {
		t.Errorf("disabled cache: %d calls, want 2", n)
	}
}

// tiedFake has 9 sessions: 2 newer ones, then 6 created at exactly tie (one of them half a
// second after tie would be dropped by a resume, see below), then 1 older.
func tiedFake() (*fakeUp, time.Time) {
	tie := t0.Add(-time.Hour)
	f := &fakeUp{events: map[string][]upstream.RestoreSessionEvent{}}
	add := func(id string, at time.Time) {
		f.sessions = append(f.sessions, upstream.RestoreSession{ID: id, Organization: "Org0", CreationTime: at, State: upstream.SessionStateStopped})
	}
	add("n1", tie.Add(30*time.Minute))
	add("n2", tie.Add(500*time.Millisecond)) // within the one-second resume margin
	for k := range 6 {
		add(fmt.Sprintf("t%d", k), tie)
	}
	add("old", tie.Add(-time.Minute))
	return f, tie
}

func TestStreamResumeWithTies(t *testing.T) {
	ctx := context.Background()
	f, tie := tiedFake()
	all := ids(f.sessions)
	for _, pageSize := range []int{2, 3, 1000} {
		for _, first := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("page=%d/first=%d", pageSize, first), func(t *testing.T) {
				b := newBackend(t, f, Config{PageSize: pageSize, ListingTTL: -1, BatchWait: time.Millisecond})
				f.takeListings()
				var got []string
				cur := gid.StreamCursor{}
				for page := 0; page < 20; page++ {
					// A cursor survives the trip through its text form.
					c, err := gid.DecodeStream(gid.EncodeStream(cur))
					if err != nil {
						t.Fatal(err)
					}
					mp := b.New().MergedRestoreSessions(ctx, []string{"srv"}, Window{}, c, first, nil)
					if mp.Errors != nil {
						t.Fatal(mp.Errors)
					}
					for _, s := range mp.Sessions {
						got = append(got, s.Session.ID)
					}
					if page > 0 {
						// Resumed pages never re-read from the top: the window is narrowed to the position.
						for _, o := range f.takeListings() {
							if c["srv"].Done {
								t.Errorf("page %d: listing after the stream was done", page)
							} else if o.StartTimeTo == nil || o.StartTimeTo.After(c["srv"].Time.Add(time.Second)) {
								t.Errorf("page %d: listing %+v not narrowed to %v", page, o, c["srv"].Time)
							}
						}
					} else {
						f.takeListings()
					}
					cur = mp.End
					if !mp.HasNext {
						break
					}
				}
				if !slices.Equal(got, all) {
					t.Errorf("walk = %v, want %v", got, all)
				}
			})
		}
	}

	// Organisation walks resume from an edge's position too, in the middle of the ties.
	b := newBackend(t, f, Config{PageSize: 2, ListingTTL: -1})
	p, err := b.New().OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "org0", Window{}, nil, 5, nil))
	if err != nil || len(p.Sessions) != 5 {
		t.Fatal(p, err)
	}
	if pos := p.After[4]; !pos.Time.Equal(tie) || pos.Skip != 3 {
		t.Errorf("position after the 3rd tie = %+v, want {%v 3}", pos, tie)
	}
	p2, err := b.New().OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "org0", Window{}, &p.After[4], 10, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p2.Sessions); !slices.Equal(got, all[5:]) || p2.Total != nil {
		t.Errorf("resumed org walk = %v (total %v), want %v", got, p2.Total, all[5:])
	}
	// A position marked done yields nothing, without a call.
	before := f.n("sessions")
	p3, err := b.New().OrgRestoreSessions(ctx, NewOrgSessionsKey("srv", "org0", Window{}, &gid.Position{Done: true}, 10, nil))
	if err != nil || len(p3.Sessions) != 0 || f.n("sessions") != before {
		t.Errorf("done position: %v, %v, %d calls", p3, err, f.n("sessions")-before)
	}
}

func TestMergeOrderAcrossServers(t *testing.T) {
	ctx := context.Background()
	// Two servers whose sessions interleave, with a tie across them.
	a, c := &fakeUp{}, &fakeUp{}
	for i := range 30 {
		s := upstream.RestoreSession{ID: fmt.Sprintf("x%d", i), CreationTime: t0.Add(-time.Duration(i*2) * time.Minute)}
		a.sessions = append(a.sessions, s)
		s = upstream.RestoreSession{ID: fmt.Sprintf("y%d", i), CreationTime: t0.Add(-time.Duration(i*3) * time.Minute)}
		c.sessions = append(c.sessions, s)
	}
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	var got []MergedSession
	cur := gid.StreamCursor{}
	for range 100 {
		mp := b.New().MergedRestoreSessions(ctx, []string{"a", "c"}, Window{}, cur, 7, nil)
		got = append(got, mp.Sessions...)
		cur = mp.End
		if !mp.HasNext {
			if mp.Total != nil {
				t.Errorf("total on a resumed page: %d", *mp.Total)
			}
			break
		}
	}
	if len(got) != 60 {
		t.Fatalf("merged %d sessions, want 60", len(got))
	}
	seen := map[string]bool{}
	for i, s := range got {
		if seen[s.Session.ID] {
			t.Errorf("duplicate %s", s.Session.ID)
		}
		seen[s.Session.ID] = true
		if i > 0 {
			prev := got[i-1].Session.CreationTime
			if s.Session.CreationTime.After(prev) {
				t.Errorf("%d: %s newer than its predecessor", i, s.Session.ID)
			}
			if s.Session.CreationTime.Equal(prev) && s.Server == "a" && got[i-1].Server == "c" {
				t.Errorf("%d: tie not broken in server display order", i)
			}
		}
	}
	// One page from the top over everything knows the total.
	mp := b.New().MergedRestoreSessions(ctx, []string{"a", "c"}, Window{}, nil, 500, nil)
	if mp.Total == nil || *mp.Total != 60 || mp.HasNext || !mp.End["a"].Done || !mp.End["c"].Done {
		t.Errorf("whole merge: total %v hasNext %v end %v", mp.Total, mp.HasNext, mp.End)
	}
}

func TestBackendConfig(t *testing.T) {
	if _, err := NewBackend([]VBOServer{{Name: "a"}, {Name: "a"}}, Config{}); err == nil {
		t.Error("duplicate server names accepted")
	}
	b, err := NewBackend([]VBOServer{{Name: "a", APIVersion: "v7"}, {Name: "b"}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := b.Server("a"); !ok || s.APIVersion != "v7" {
		t.Errorf("Server(a) = %+v, %v", s, ok)
	}
	if _, ok := b.Server("zz"); ok {
		t.Error("unknown server found")
	}
	if got := b.Servers(); len(got) != 2 || got[1].Name != "b" {
		t.Errorf("Servers() = %+v", got)
	}
	if b.cfg.PageSize != upstream.MaxPageSize || b.cfg.EventsPageSize != upstream.MaxPageSize || b.cfg.EventsCounted != DefaultEventsCounted ||
		b.cfg.ListingTTL != defaultListingTTL || b.listings == nil {
		t.Errorf("defaults not applied: %+v", b.cfg)
	}
}

// A server none of whose sessions made it onto page 1 (all older than the other's) must still
// be read from the top on page 2: the cursor must not record a made-up position for it.
func TestMergeUntouchedLaneResumesFromTop(t *testing.T) {
	ctx := context.Background()
	a, c := &fakeUp{}, &fakeUp{}
	for i := range 10 {
		a.sessions = append(a.sessions, upstream.RestoreSession{ID: fmt.Sprintf("a%d", i), CreationTime: t0.Add(-time.Duration(i) * time.Minute)})
		c.sessions = append(c.sessions, upstream.RestoreSession{ID: fmt.Sprintf("c%d", i), CreationTime: t0.Add(-time.Duration(i) * time.Hour * 24)})
	}
	c.sessions = c.sessions[1:] // c's newest is a day older than all of a's
	b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	cur := gid.StreamCursor{}
	for range 20 {
		dec, err := gid.DecodeStream(gid.EncodeStream(cur))
		if err != nil {
			t.Fatal(err)
		}
		mp := b.New().MergedRestoreSessions(ctx, []string{"a", "c"}, Window{}, dec, 4, nil)
		for _, s := range mp.Sessions {
			got = append(got, s.Session.ID)
			if p, ok := s.Cursor["c"]; ok && !p.Done && p.Time.IsZero() {
				t.Errorf("edge cursor records a zero position for an untouched server: %v", s.Cursor)
			}
		}
		cur = mp.End
		if !mp.HasNext {
			break
		}
	}
	want := append(ids(a.sessions), ids(c.sessions)...)
	if !slices.Equal(got, want) {
		t.Errorf("walk = %v, want %v", got, want)
	}
}

// TestWalkFirstPageSize: an open-ended walk asks for FirstPageSize first and PageSize after; a
// walk bounded by startTimeFrom, and a walk whose pages are smaller anyway, ask for PageSize
// throughout. exhausted is judged against the limit actually asked.
func TestWalkFirstPageSize(t *testing.T) {
	from := t0.Add(-time.Hour * 24 * 365)
	tests := []struct {
		name       string
		cfg        Config
		window     Window
		need       int
		wantLimits []int
	}{
		{"open-ended, satisfied by the first page", Config{PageSize: 100, FirstPageSize: 10}, Window{}, 2, []int{10}},
		{"open-ended, walks on in full pages", Config{PageSize: 100, FirstPageSize: 10}, Window{}, 1000, []int{10, 100, 100}},
		{"bounded by from", Config{PageSize: 100, FirstPageSize: 10}, Window{From: &from}, 2, []int{100}},
		{"first page disabled", Config{PageSize: 100, FirstPageSize: -1}, Window{}, 2, []int{100}},
		{"first page larger than pages", Config{PageSize: 10, FirstPageSize: 50}, Window{}, 2, []int{10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(150, 5, 0)
			tc.cfg.ListingTTL = -1
			b := newBackend(t, f, tc.cfg)
			p, err := b.New().OrgRestoreSessions(context.Background(), NewOrgSessionsKey("srv", "Org1", tc.window, nil, tc.need, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(p.Sessions), wantOrg(f, 1, tc.need); !slices.Equal(got, want) {
				t.Errorf("sessions = %v, want %v", got, want)
			}
			var limits []int
			offset := 0
			for _, o := range f.takeListings() {
				if o.Offset != offset {
					t.Errorf("offset %d, want %d", o.Offset, offset)
				}
				offset += o.Limit
				limits = append(limits, o.Limit)
			}
			if !slices.Equal(limits, tc.wantLimits) {
				t.Errorf("limits asked = %v, want %v", limits, tc.wantLimits)
			}
		})
	}
}

// TestMergeLaneAsksFirstPlusOne: a merge lane that keeps every session asks for first+1 in one
// call, whatever FirstPageSize: the lane is already sized to the page, and the cost estimate
// counts one call per lane for it. Only walks of full pages start with the smaller first page.
func TestMergeLaneAsksFirstPlusOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		first int
	}{
		{"first+1 above PageSize", Config{PageSize: 10}, 20},
		{"first+1 above FirstPageSize", Config{PageSize: 100, FirstPageSize: 10}, 20},
		{"first+1 equal to PageSize", Config{PageSize: 21, FirstPageSize: 10}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(150, 5, 0)
			tc.cfg.ListingTTL = -1
			b := newBackend(t, f, tc.cfg)
			p := b.New().MergedRestoreSessions(context.Background(), []string{"srv"}, Window{}, nil, tc.first, nil)
			if len(p.Sessions) != tc.first || !p.HasNext {
				t.Fatalf("%d sessions (hasNext %v), want %d and more", len(p.Sessions), p.HasNext, tc.first)
			}
			var limits []int
			for _, o := range f.takeListings() {
				limits = append(limits, o.Limit)
			}
			if want := []int{tc.first + 1}; !slices.Equal(limits, want) {
				t.Errorf("limits asked = %v, want %v", limits, want)
			}
		})
	}
}
