package cost_test

import (
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/cost"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
)

// fakeArchive covers every window starting at or after from, and continues cursor "arch".
type fakeArchive struct{ from time.Time }

func (a fakeArchive) Covers(from, _ *time.Time) bool { return from == nil || !from.Before(a.from) }
func (a fakeArchive) Continues(after string) bool    { return after == "arch" }

// Listings the archive answers, and their sessions' events, cost no upstream call; their
// response objects are what they were; any other way to a session still counts VBO's calls.
func TestArchiveReadsCostNoCalls(t *testing.T) {
	t.Parallel()
	e := estimator(t)
	archive := fakeArchive{from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	covered := func(v cost.Visible) cost.Visible { v.Archive = archive; return v }
	sessionID := gid.ID{Kind: gid.KindRestoreSession, Server: "syd1", Upstream: "0b4e8f5a-1"}.String()
	cases := []struct {
		name           string
		query          string
		vis            cost.Visible
		calls, objects int64
	}{
		{"admin, default pages: none", defaultPages, covered(admin), 0, 5151},
		// A tenant's organisation lists (its scope) are still read: one per server.
		{"tenant, default pages: the organisation lists only", defaultPages, covered(tenant), 2, 5151},
		{"tenant, without the archive", defaultPages, tenant, 2 + 2*2 + 50, 5151},
		{"live reads VBO", `{ restoreSessions(live: true) { edges { node { events { edges { node { type } } } } } } }`, covered(admin), 3 + 50, 5151},
		{"an archive cursor continues on the archive", `{ restoreSessions(first: 10, after: "arch") { edges { node { name } } } }`, covered(admin), 0, 1 + 20},
		{"a VBO cursor continues on VBO", `{ restoreSessions(first: 10, after: "x") { edges { node { name } } } }`, covered(admin), 3 * 2, 1 + 20},
		{"a window the archive covers", `{ restoreSessions(first: 10, filter: {startTimeFrom: "2026-02-01T00:00:00Z"}) { edges { node { name } } } }`, covered(admin), 0, 1 + 20},
		{"a window from before the archive", `{ restoreSessions(first: 10, filter: {startTimeFrom: "2025-12-01T00:00:00Z"}) { edges { node { name } } } }`, covered(admin), 3, 1 + 20},
		// Organisation lists (3), no walk, no events call.
		{"dashboard: organisations from VBO, sessions and events from the archive", `{ organizations(first: 36) { edges { node { name
			restoreSessions(first: 10) { edges { node { startTime events(first: 20) { edges { node { type } } } } } } } } } }`,
			covered(admin), 3, 1 + 3*36 + 3*360 + 2*7200},
		// One call for the session (it may be older than the archive), one for its events.
		{"restoreSession reads VBO", `{ restoreSession(id: "` + sessionID + `") { events(first: 5) { edges { node { type } } } } }`, covered(admin), 2, 1 + 1 + 10},
		// An event's session is loaded by id: its events are VBO's, whatever listing led there.
		{"an event's session's events", `{ restoreSessions(first: 2) { edges { node { events(first: 3) { edges { node { session { events(first: 1) { edges { node { type } } } } } } } } } } }`,
			covered(admin), 2*3 + 2*3, 1 + 3*2 + 2*3*2 + 2*3*(1+1+2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op, vars := operation(t, tc.query, nil)
			got := e.Estimate(op, vars, tc.vis)
			if got.UpstreamCalls != tc.calls || got.ResponseObjects != tc.objects {
				t.Errorf("estimate = %d calls, %d objects; want %d, %d", got.UpstreamCalls, got.ResponseObjects, tc.calls, tc.objects)
			}
		})
	}
}
