package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// The scenario tests run the scenarios against in-process simulators (httptest, loopback) with
// small options, and, for the gateway system, against a fake gateway (--url mode: no gateway
// process) that answers each document with canned data and records what it was sent. They pin
// what each scenario reports: mode, note, minimum and upstream calls, iterations, extras.

// benchTestOptions are small options: 2 servers of 4 organisations and 120 sessions, no latency.
func benchTestOptions() *options {
	return &options{servers: 2, orgs: 4, sessions: 120, maxConc: 4, iterations: 2, budget: time.Minute,
		dashSessions: 3, auditDays: 30, pageSize: 5, pages: 2, lookups: 6, overheadN: 5,
		concurrency: []int{1, 2}, duration: 40 * time.Millisecond, largeEvents: 25, eventsPage: 10}
}

// testSims serves n simulators on loopback; each is its own twin.
func testSims(t *testing.T, o *options) []*simHost {
	t.Helper()
	var out []*simHost
	for i := range o.servers {
		name := demo.Names[i]
		sim := vbosim.New(vbosim.Options{Name: name, Seed: demo.Seed + int64(i), Username: demo.Username,
			Password: demo.Password, Orgs: o.orgs, Sessions: o.sessions, Now: fixedNow, MaxEventsPerSession: 12})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		out = append(out, &simHost{name: name, url: srv.URL, sim: sim})
	}
	return out
}

// rowFigures is the part of a row that does not depend on timing.
type rowFigures struct {
	Mode          string
	Note          string
	MinimumCalls  float64
	UpstreamCalls float64
	Iterations    int
	Concurrency   int
	Extra         string // sorted k=v, timing-dependent keys left out
}

// pin projects r; timed (a load over a duration): the calls per request and the iteration
// count depend on the machine's speed and are left out.
func pin(r row, timed bool) rowFigures {
	var extra []string
	for k, v := range r.Extra {
		if strings.HasSuffix(k, "CpuMsPerRequest") || k == "cpuMsPerRequest" {
			continue
		}
		extra = append(extra, fmt.Sprintf("%s=%g", k, v))
	}
	slices.Sort(extra)
	p := rowFigures{Mode: r.Mode, Note: r.Note, MinimumCalls: r.MinimumCalls, Concurrency: r.Concurrency,
		Extra: strings.Join(extra, " ")}
	if !timed {
		p.UpstreamCalls, p.Iterations = r.UpstreamCalls, r.Iterations
	}
	return p
}

// TestDirectScenarios pins what each scenario reports for the direct-* systems.
func TestDirectScenarios(t *testing.T) {
	t.Parallel()
	o := benchTestOptions()
	sims := testSims(t, o)
	const overhead = "plain REST call with upstream.Client (token reused)"
	for _, tc := range []struct {
		sc       string
		parallel bool
		want     []rowFigures
		wantErr  string
	}{
		{sc: "dashboard", want: []rowFigures{{Mode: "cold", MinimumCalls: 30, UpstreamCalls: 36, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=24"}}},
		{sc: "dashboard", parallel: true, want: []rowFigures{{Mode: "cold", MinimumCalls: 30, UpstreamCalls: 36, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=24"}}},
		{sc: "repeat-dashboard", want: []rowFigures{{Mode: "warm", Note: "no cache: every repeat costs what the first did", MinimumCalls: 2, UpstreamCalls: 35, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=24"}}},
		{sc: "repeat-dashboard", parallel: true, want: []rowFigures{{Mode: "warm", Note: "no cache: every repeat costs what the first did", MinimumCalls: 2, UpstreamCalls: 35, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=24"}}},
		{sc: "audit-window", want: []rowFigures{{Mode: "cold", MinimumCalls: 25, UpstreamCalls: 25, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=22"}}},
		{sc: "audit-window", parallel: true, want: []rowFigures{{Mode: "cold", MinimumCalls: 25, UpstreamCalls: 25, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=22"}}},
		{sc: "cross-server-page", want: []rowFigures{{Mode: "cold", MinimumCalls: 6, UpstreamCalls: 6, Iterations: 2, Concurrency: 1}}},
		{sc: "cross-server-page", parallel: true, want: []rowFigures{{Mode: "cold", MinimumCalls: 6, UpstreamCalls: 6, Iterations: 2, Concurrency: 1}}},
		{sc: "node-lookups", want: []rowFigures{{Mode: "cold", Note: "a script looks every id up (no de-duplication)", MinimumCalls: 5, UpstreamCalls: 8, Iterations: 2, Concurrency: 1, Extra: "distinctIds=3"}}},
		{sc: "node-lookups", parallel: true, want: []rowFigures{{Mode: "cold", Note: "a script looks every id up (no de-duplication)", MinimumCalls: 5, UpstreamCalls: 8, Iterations: 2, Concurrency: 1, Extra: "distinctIds=3"}}},
		{sc: "overhead", want: []rowFigures{{Mode: "steady", Note: overhead, MinimumCalls: 1, Concurrency: 1}}},
		{sc: "overhead", parallel: true, want: []rowFigures{{Mode: "steady", Note: overhead, MinimumCalls: 1, Concurrency: 2}}},
		{sc: "flat-sessions-events", want: []rowFigures{{Mode: "steady", Note: "token reused", MinimumCalls: 11, UpstreamCalls: 11, Iterations: 2, Concurrency: 1, Extra: "criticalPathMs=0"}}},
		{sc: "flat-sessions-events", parallel: true, want: []rowFigures{{Mode: "steady", Note: "token reused", MinimumCalls: 11, UpstreamCalls: 11, Iterations: 2, Concurrency: 1, Extra: "criticalPathMs=0"}}},
		{sc: "memory", wantErr: "not implemented for direct systems"},
		{sc: "memory", parallel: true, wantErr: "not implemented for direct systems"},
		{sc: "nope", wantErr: "not implemented for direct systems"},
	} {
		t.Run(fmt.Sprintf("%s/parallel=%v", tc.sc, tc.parallel), func(t *testing.T) {
			e := &env{o: o, sims: sims, hc: http.DefaultClient, systemPID: func() int { return 0 }}
			rows, err := e.directScenario(context.Background(), tc.sc, tc.parallel)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []rowFigures
			for _, r := range rows {
				got = append(got, pin(r, tc.sc == "overhead"))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rows\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// fakeGateway answers the bench's documents with canned data and records each request's
// operation and variables.
type fakeGateway struct {
	mu   sync.Mutex
	seen []string
	o    *options
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op := "anonymous"
	if q, ok := strings.CutPrefix(req.Query, "query "); ok {
		op, _, _ = strings.Cut(q, "(")
		op, _, _ = strings.Cut(op, " ")
	}
	var keys []string
	for k, v := range req.Variables {
		if k == "from" || k == "to" { // --url mode: relative to time.Now
			v = "T"
		}
		keys = append(keys, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(keys)
	f.mu.Lock()
	f.seen = append(f.seen, op+" "+strings.Join(keys, " "))
	f.mu.Unlock()
	var data string
	switch op {
	case "Dashboard":
		data = `{"organizations":{"edges":[{"node":{"restoreSessions":{"edges":[{"node":{"id":"a"}},{"node":{"id":"b"}}]}}}]}}`
	case "Page":
		edges := strings.TrimSuffix(strings.Repeat(`{},`, f.o.pageSize), ",")
		data = `{"restoreSessions":{"pageInfo":{"hasNextPage":true,"endCursor":"c"},"edges":[` + edges + `]}}`
	case "Events":
		next, cur := "true", "p1"
		if req.Variables["after"] != nil {
			next, cur = "false", "p2"
		}
		data = `{"restoreSession":{"events":{"pageInfo":{"hasNextPage":` + next + `,"endCursor":"` + cur + `"},"edges":[{},{},{}]}}}`
	case "anonymous": // discover
		data = `{"servers":[{"name":"syd1"}],"organizations":{"edges":[{"node":{"id":"org-1"}}]},` +
			`"restoreSessions":{"edges":[{"node":{"id":"s-1"}},{"node":{"id":"s-2"}}]}}`
	default:
		data = `{}`
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":%s}`, data)
}

// TestGatewayScenarios pins what each scenario reports for the gateway in --url mode (no
// gateway process: a fake answers), without and with the simulators' data for the minimum
// calls, and the documents and variables each sends.
func TestGatewayScenarios(t *testing.T) {
	t.Parallel()
	o := benchTestOptions()
	sims := testSims(t, o)
	const (
		overhead = "gateway: listing TTL cache off, so every request reads upstream like the other systems"
		flat     = "gateway caches off (listing TTL and immutable cache), token reused"
	)
	pages := []string{"Page after=<nil> first=5", "Page after=c first=5", "Page after=<nil> first=5", "Page after=c first=5"}
	for _, tc := range []struct {
		sc       string
		withSims bool
		want     []rowFigures
		seen     []string // requests, repeats of the one before left out
		wantErr  string
	}{
		{sc: "dashboard", want: []rowFigures{{Mode: "steady", MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=0"}},
			seen: []string{"Dashboard perOrg=3"}},
		{sc: "repeat-dashboard", want: []rowFigures{{Mode: "warm", MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=0"}},
			seen: []string{"Dashboard perOrg=3"}},
		{sc: "audit-window", want: []rowFigures{{Mode: "steady", MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1}},
			seen: []string{"anonymous n=3", "Audit first=500 from=T org=org-1 to=T"}},
		{sc: "cross-server-page", want: []rowFigures{{Mode: "steady", MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1}},
			seen: pages},
		{sc: "node-lookups", want: []rowFigures{{Mode: "steady", MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1}},
			seen: []string{"anonymous n=3", "Lookups "}},
		{sc: "overhead", want: []rowFigures{{Mode: "steady", Note: overhead, MinimumCalls: -1, Concurrency: 1}, {Mode: "steady", Note: overhead, MinimumCalls: -1, Concurrency: 2}},
			seen: []string{"anonymous n=3", "Overhead first=5 servers=[syd1]"}},
		{sc: "flat-sessions-events", want: []rowFigures{{Mode: "steady", Note: flat, MinimumCalls: -1, UpstreamCalls: -1, Iterations: 2, Concurrency: 1, Extra: "criticalPathMs=0"}},
			seen: []string{"anonymous n=3", "Flat first=10 servers=[syd1]"}},
		{sc: "nope", wantErr: `unknown scenario "nope"`},

		{sc: "dashboard", withSims: true, want: []rowFigures{{Mode: "steady", MinimumCalls: 30, Iterations: 2, Concurrency: 1, Extra: "concurrencyBoundMs=0 criticalPathMs=0 sessionsShown=24"}},
			seen: []string{"Dashboard perOrg=3"}},
		{sc: "repeat-dashboard", withSims: true, want: []rowFigures{{Mode: "warm", MinimumCalls: 2, Iterations: 2, Concurrency: 1, Extra: "sessionsShown=24 stoppedSessionCalls=0 workingSessionCalls=0"}},
			seen: []string{"Dashboard perOrg=3"}},
		{sc: "audit-window", withSims: true, want: []rowFigures{{Mode: "steady", MinimumCalls: -1, Iterations: 2, Concurrency: 1}},
			seen: []string{"anonymous n=3", "Audit first=500 from=T org=org-1 to=T"}},
		{sc: "cross-server-page", withSims: true, want: []rowFigures{{Mode: "steady", MinimumCalls: 6, Iterations: 2, Concurrency: 1}},
			seen: pages},
		{sc: "node-lookups", withSims: true, want: []rowFigures{{Mode: "steady", MinimumCalls: -1, Iterations: 2, Concurrency: 1}},
			seen: []string{"anonymous n=3", "Lookups "}},
		{sc: "overhead", withSims: true, want: []rowFigures{{Mode: "steady", Note: overhead, MinimumCalls: -1, Concurrency: 1}, {Mode: "steady", Note: overhead, MinimumCalls: -1, Concurrency: 2}},
			seen: []string{"Overhead first=5 servers=[syd1]"}},
		{sc: "flat-sessions-events", withSims: true, want: []rowFigures{{Mode: "steady", Note: flat, MinimumCalls: 11, Iterations: 2, Concurrency: 1, Extra: "criticalPathMs=0"}},
			seen: []string{"Flat first=10 servers=[syd1]"}},
		{sc: "memory", withSims: true, want: []rowFigures{{Mode: "steady", Note: "latency and CPU per events page", MinimumCalls: 4, Iterations: 2, Concurrency: 1, Extra: "baselineRssBytes=0 eventsStreamed=6 pages=2"}},
			seen: []string{"Events after=<nil> first=10 id=%s", "Events after=p1 first=10 id=%s"}},
		{sc: "nope", withSims: true, wantErr: `unknown scenario "nope"`},
	} {
		t.Run(fmt.Sprintf("%s/sims=%v", tc.sc, tc.withSims), func(t *testing.T) {
			fg := &fakeGateway{o: o}
			gw := httptest.NewServer(fg)
			defer gw.Close()
			e := &env{o: o, hc: http.DefaultClient, systemPID: func() int { return 0 }, external: true, gwURL: gw.URL}
			if tc.withSims {
				e.sims = sims
				for _, s := range sims {
					e.statsURLs = append(e.statsURLs, s.url)
				}
			}
			rows, err := e.gatewayScenario(context.Background(), tc.sc)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []rowFigures
			for _, r := range rows {
				got = append(got, pin(r, tc.sc == "overhead"))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rows\n got %+v\nwant %+v", got, tc.want)
			}
			fg.mu.Lock()
			seen := slices.Compact(slices.Clone(fg.seen))
			fg.mu.Unlock()
			want := tc.seen
			if tc.sc == "memory" { // the large session: the first stopped one past the newest 100
				id := ""
				for _, rs := range sims[0].sim.Sessions()[100:] {
					if rs.State == upstream.SessionStateStopped {
						id = gid.ID{Kind: gid.KindRestoreSession, Server: sims[0].name, Upstream: rs.ID}.String()
						break
					}
				}
				want = []string{fmt.Sprintf(tc.seen[0], id), fmt.Sprintf(tc.seen[1], id)}
			}
			if !slices.Equal(seen, want) {
				t.Fatalf("requests\n got %q\nwant %q", seen, want)
			}
		})
	}
}
