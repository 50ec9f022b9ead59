package e2e_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// listingPage and firstPage are the page sizes the gateway walks an open-ended session listing
// with (the loaders' defaults): a first call of firstPage sessions, then pages of listingPage.
const (
	listingPage = upstream.MaxPageSize
	firstPage   = loaders.DefaultFirstPageSize
)

// pagesFor is how many calls a walk of n items takes when it must see the end of the listing:
// it stops at the first page shorter than the page size asked (an exact fit needs an empty page).
func pagesFor(n int) int {
	if n < firstPage {
		return 1
	}
	return 2 + (n-firstPage)/listingPage
}

// pagesWalked is how many calls a walk takes to read its first n sessions.
func pagesWalked(n int) int {
	if n <= firstPage {
		return 1
	}
	return 1 + (n-firstPage+listingPage-1)/listingPage
}

// eventsCounted is how many events the gateway reads to answer totalCount in these tests
// (limits.maxEventsCounted, lowered from 10,000 so the large session stays small): one call,
// whatever the session's size.
const eventsCounted = 500

// expectedCalls is the minimum upstream traffic of orgsQuery for one server, derived from the
// simulator's own data.
type expectedCalls struct {
	listing, events int
	sessions        []upstream.RestoreSession // distinct sessions whose events are read
}

func minimumCalls(h *harness, server string, perOrg int, match func(*upstream.RestoreSession) bool) expectedCalls {
	sim := h.sim(server)
	need := map[string]int{} // lower-case org name -> sessions still wanted (perOrg + 1 peek)
	for _, o := range sim.Organizations() {
		need[strings.ToLower(o.Name)] = perOrg + 1
	}
	unsatisfied := len(need)
	all := sim.Sessions()
	var e expectedCalls
	walked := 0
	for _, s := range all {
		if unsatisfied == 0 {
			break
		}
		walked++
		if match != nil && !match(&s) {
			continue
		}
		k := strings.ToLower(s.Organization)
		n, ok := need[k]
		if !ok || n == 0 {
			continue
		}
		if n > 1 { // the peek session only decides hasNextPage; its events are not read
			e.sessions = append(e.sessions, s)
		}
		need[k] = n - 1
		if n == 1 {
			unsatisfied--
		}
	}
	if unsatisfied > 0 { // the walk reached the end of the listing
		e.listing = pagesFor(len(all))
	} else {
		e.listing = pagesWalked(walked)
	}
	// totalCount reads each session from the start in one call of up to eventsCounted events
	// (the page's 51 events come from the same read).
	e.events = len(e.sessions)
	return e
}

const orgsQuery = `{ organizations(first: 500) { edges { node { name
  restoreSessions(first: 10%s) { edges { node { id state events(first: 50) { totalCount edges { node { id } } } } }
    pageInfo { hasNextPage } } } } } }`

func TestUpstreamCallsMinimum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		sessions int
		ttl      time.Duration
		filter   string
		match    func(*upstream.RestoreSession) bool
	}{
		{"newest 10", 400, time.Minute, "", nil},
		{"newest 10 without listing cache", 400, -time.Second, "", nil},
		// Rare matches make the walk read to the end of the listing (a first page of 1,000, then
		// one of 10,000: the loaders' tests walk several pages with a small page size).
		{"teams only", 1010, time.Minute, ", filter: {types: [TEAMS]}",
			func(s *upstream.RestoreSession) bool { return s.Type == upstream.SessionTypeTeams }},
	}
	for _, tc := range tests {
		ttl := tc.ttl
		query := fmt.Sprintf(orgsQuery, tc.filter)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own harness
			h := startHarness(t, harnessOpts{orgs: 12, sessions: tc.sessions, tune: func(c *config.Config) {
				c.Cache.ListingTTL = ttl
				c.Limits.MaxEventsCounted = eventsCounted
			}})
			// One session with more events than totalCount reads, among the newest: it costs one
			// call like any other, and its totalCount is null.
			big := h.sim("akl1").Sessions()[3]
			h.sim("akl1").SetLargeSession(big.ID, eventsCounted+5)

			want := map[string]expectedCalls{}
			for _, s := range demo.Names {
				want[s] = minimumCalls(h, s, 10, tc.match)
			}
			var resp struct {
				Organizations struct {
					Edges []struct {
						Node struct {
							RestoreSessions struct {
								Edges []struct {
									Node struct {
										ID, State string
										Events    struct{ TotalCount *int }
									}
								}
							}
						}
					}
				}
			}
			h.mustQuery(query, nil, &resp)
			gotSessions := 0
			for _, o := range resp.Organizations.Edges {
				gotSessions += len(o.Node.RestoreSessions.Edges)
			}
			wantSessions := 0
			for _, s := range demo.Names {
				wantSessions += len(want[s].sessions)
			}
			if gotSessions != wantSessions {
				t.Fatalf("query returned %d sessions, want %d", gotSessions, wantSessions)
			}
			for _, s := range demo.Names {
				w := want[s]
				got := map[string]int{
					"token": h.calls(s, routeToken), "orgs": h.calls(s, routeOrgs), "listing": h.calls(s, routeSessions),
					"events": h.calls(s, routeEvents), "session": h.calls(s, routeSession), "event": h.calls(s, routeEvent)}
				exp := map[string]int{"token": 1, "orgs": 1, "listing": w.listing, "events": w.events, "session": 0, "event": 0}
				t.Logf("%s first query: calls %v, minimum %v (%d sessions)", s, got, exp, len(w.sessions))
				for k, v := range exp {
					if got[k] != v {
						t.Errorf("%s: %s calls = %d, want %d", s, k, got[k], v)
					}
				}
				if tot := h.sim(s).Stats().Total; tot != 2+w.listing+w.events {
					t.Errorf("%s: %d calls in all, want %d", s, tot, 2+w.listing+w.events)
				}
			}
			bigSeen := false
			for _, o := range resp.Organizations.Edges {
				for _, e := range o.Node.RestoreSessions.Edges {
					gidOf, err := gid.Parse(e.Node.ID)
					if err != nil {
						t.Fatal(err)
					}
					id, got := gidOf.Upstream, e.Node.Events.TotalCount
					switch {
					case id == big.ID:
						bigSeen = true
						if got != nil {
							t.Errorf("the large session's totalCount = %d, want null (more than %d events)", *got, eventsCounted)
						}
					case got == nil:
						t.Errorf("session %s: totalCount null", id)
					}
				}
			}
			if tc.match == nil && !bigSeen {
				t.Error("the large session is not among those read: the case proves little")
			}

			// The same query again: stopped sessions' events come from the immutable cache, working
			// ones are refetched; organisations and listings come from the listing cache when on.
			h.resetStats()
			h.mustQuery(query, nil, &resp)
			for _, s := range demo.Names {
				w := want[s]
				workingEvents := 0 // and sessions too large to cache
				for _, sess := range w.sessions {
					if sess.State == upstream.SessionStateWorking || sess.ID == big.ID {
						workingEvents++
					}
				}
				exp := map[string]int{"token": 0, "orgs": 0, "listing": 0, "events": workingEvents}
				if ttl < 0 {
					exp["orgs"], exp["listing"] = 1, w.listing
				}
				got := map[string]int{"token": h.calls(s, routeToken), "orgs": h.calls(s, routeOrgs),
					"listing": h.calls(s, routeSessions), "events": h.calls(s, routeEvents)}
				t.Logf("%s repeat: calls %v, want %v", s, got, exp)
				for k, v := range exp {
					if got[k] != v {
						t.Errorf("%s repeat: %s calls = %d, want %d", s, k, got[k], v)
					}
				}
			}
			working := 0
			for _, s := range demo.Names {
				for _, sess := range want[s].sessions {
					if sess.State == upstream.SessionStateWorking {
						working++
					}
				}
			}
			if working == 0 && tc.match == nil {
				t.Error("no working session among those read: the repeat case proves little")
			}
		})
	}
}

func TestMergedPageCalls(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{orgs: 4, sessions: 300, record: true})
	const q = `query($after: String) { restoreSessions(first: 50, after: $after) {
	  edges { cursor node { id startTime } } pageInfo { hasNextPage endCursor } } }`
	var p1 struct{ RestoreSessions sessionConn }
	h.mustQuery(q, map[string]any{"after": nil}, &p1)
	all := h.allSessions()
	for i, e := range p1.RestoreSessions.Edges {
		if w := all[i]; e.Node.ID != (gid.ID{Kind: gid.KindRestoreSession, Server: w.Server, Upstream: w.S.ID}).String() {
			t.Fatalf("page 1 edge %d = %s, want %s/%s", i, e.Node.ID, w.Server, w.S.ID)
		}
	}
	for _, s := range demo.Names {
		ls := h.listings(s)
		if len(ls) != 1 || ls[0].Get("limit") != "51" || ls[0].Get("offset") != "0" && ls[0].Get("offset") != "" ||
			ls[0].Get("startTimeTo") != "" || ls[0].Get("startTimeFrom") != "" {
			t.Errorf("%s page 1: listing calls %v, want one with limit 51 from the top", s, ls)
		}
		if n := h.calls(s, routeOrgs) + h.calls(s, routeEvents) + h.calls(s, routeSession); n != 0 {
			t.Errorf("%s page 1: %d calls besides the listing", s, n)
		}
	}
	cur, err := testCursors.DecodeStream(*p1.RestoreSessions.PageInfo.EndCursor)
	if err != nil {
		t.Fatal(err)
	}
	var p2 struct{ RestoreSessions sessionConn }
	h.mustQuery(q, map[string]any{"after": *p1.RestoreSessions.PageInfo.EndCursor}, &p2)
	for i, e := range p2.RestoreSessions.Edges {
		if w := all[50+i]; e.Node.ID != (gid.ID{Kind: gid.KindRestoreSession, Server: w.Server, Upstream: w.S.ID}).String() {
			t.Fatalf("page 2 edge %d = %s, want %s/%s", i, e.Node.ID, w.Server, w.S.ID)
		}
	}
	for _, s := range demo.Names {
		ls := h.listings(s)
		if len(ls) != 1 {
			t.Errorf("%s page 2: %d listing calls, want 1", s, len(ls))
			continue
		}
		q := ls[0]
		if q.Get("limit") != "51" || q.Get("offset") != "" && q.Get("offset") != "0" {
			t.Errorf("%s page 2: limit %s offset %s, want 51 from offset 0", s, q.Get("limit"), q.Get("offset"))
		}
		pos, ok := cur[s]
		if !ok {
			if q.Get("startTimeTo") != "" {
				t.Errorf("%s page 2: untouched server narrowed to %s", s, q.Get("startTimeTo"))
			}
			continue
		}
		to, err := time.Parse(time.RFC3339Nano, q.Get("startTimeTo"))
		if err != nil || to.Before(pos.Time) || to.After(pos.Time.Add(time.Second)) {
			t.Errorf("%s page 2: startTimeTo %q, want within a second after the cursor's %s", s, q.Get("startTimeTo"), pos.Time)
		}
		if _, err := strconv.Atoi(q.Get("limit")); err != nil {
			t.Errorf("%s: limit %q", s, q.Get("limit"))
		}
	}
}
