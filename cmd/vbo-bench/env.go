package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// fixedNow anchors the simulators' generated data, so every run sees the same sessions.
var fixedNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// listingPage is the page size the gateway (upstream.IterPageSize) and the direct clients walk
// listings with.
const listingPage = upstream.IterPageSize

// simHost is one simulator on a loopback port, with a recorder of which sessions' events were
// read (to tell stopped-session calls from working-session calls).
type simHost struct {
	name string
	sim  *vbosim.Server
	url  string
	srv  *http.Server

	mu         sync.Mutex
	eventReads map[string]int // session id -> GET .../Events calls
}

func (h *simHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) == 4 && strings.EqualFold(segs[1], "RestoreSessions") && strings.EqualFold(segs[3], "Events") {
		h.mu.Lock()
		h.eventReads[segs[2]]++
		h.mu.Unlock()
	}
	h.sim.ServeHTTP(w, r)
}

// env is what a scenario runs against: simulators, a gateway (in-process or --url) and the
// direct clients' settings.
type env struct {
	o    *options
	sims []*simHost
	// gwURL is the GraphQL endpoint; gwHandler is swapped by freshGateway (in-process only).
	gwURL     string
	gwHandler atomic.Pointer[http.Handler]
	gwSrv     *http.Server
	external  bool
	statsURLs []string
	hc        *http.Client // load generator -> gateway
}

func newEnv(ctx context.Context, o *options) (*env, error) {
	e := &env{o: o, hc: &http.Client{Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second}}}
	if o.url != "" {
		e.external, e.gwURL, e.statsURLs = true, o.url, o.simStats
		return e, nil
	}
	for i := 0; i < o.servers; i++ {
		name := fmt.Sprintf("sim%d", i+1)
		if i < len(demo.Names) {
			name = demo.Names[i]
		}
		sim := vbosim.New(vbosim.Options{Name: name, Seed: demo.Seed + int64(i), Username: demo.Username,
			Password: demo.Password, Orgs: o.orgs, Sessions: o.sessions, Now: fixedNow,
			Faults: vbosim.Faults{Latency: o.latency, Jitter: o.jitter}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			e.close()
			return nil, err
		}
		h := &simHost{name: name, sim: sim, url: "http://" + ln.Addr().String(), eventReads: map[string]int{}}
		h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = h.srv.Serve(ln) }()
		e.sims = append(e.sims, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.close()
		return nil, err
	}
	e.gwURL = "http://" + ln.Addr().String() + "/graphql"
	e.gwSrv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := e.gwHandler.Load()
		if h == nil {
			http.Error(w, "no gateway", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})}
	go func() { _ = e.gwSrv.Serve(ln) }()
	return e, nil
}

func (e *env) close() {
	for _, s := range e.sims {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.srv.Shutdown(ctx)
		cancel()
	}
	if e.gwSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.gwSrv.Shutdown(ctx)
		cancel()
	}
}

// benchLimits raise the gateway's query limits for the benchmark's documents: with the defaults
// (maxUpstreamCalls 2,500, maxResponseObjects 100,000, maxAliases 30) the dashboard (every
// session of up to 500 organisations, with 100 events each) and the 200-alias node lookups are
// refused before they run.
var benchLimits = config.Limits{MaxUpstreamCalls: 1_000_000, MaxResponseObjects: 100_000_000,
	MaxAliases: 1000, MaxTokens: 15000, MaxSelections: 5000}

// gatewayConfig is the gateway's configuration for the simulators (defaults otherwise, except
// benchLimits and --max-concurrency).
func (e *env) gatewayConfig() *config.Config {
	c := &config.Config{Listen: config.DefaultListen, MaxConcurrencyPerServer: e.o.maxConc, Limits: benchLimits,
		Auth: config.Auth{APIKeys: []config.APIKey{{Name: "bench", SHA256: demo.KeySHA256(demo.AdminKey), Role: "PROVIDER_ADMIN"}}}}
	for _, s := range e.sims {
		c.Servers = append(c.Servers, config.VBOServer{Name: s.name, URL: s.url, APIVersion: s.sim.APIVersion(),
			Username: demo.Username}.WithPassword(demo.Password))
	}
	return c
}

// freshGateway builds a new gateway (empty caches, no token) and routes requests to it.
func (e *env) freshGateway(mod func(*config.Config)) error {
	if e.external {
		return nil
	}
	c := e.gatewayConfig()
	if mod != nil {
		mod(c)
	}
	gw, err := app.New(context.Background(), c, app.Options{Logger: discardLogger()})
	if err != nil {
		return err
	}
	h := gw.Handler
	e.gwHandler.Store(&h)
	return nil
}

// directClients returns one upstream.Client per simulator (fresh: no token yet). conc bounds
// calls in flight per server (0 = unlimited).
func (e *env) directClients(conc int) ([]*upstream.Client, error) {
	var out []*upstream.Client
	for _, s := range e.sims {
		c, err := upstream.NewClient(s.url, upstream.ClientOptions{Logger: discardLogger(), Name: s.name, APIVersion: s.sim.APIVersion(), Username: demo.Username, Password: demo.Password, MaxConcurrency: conc})
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// resetStats zeroes every simulator's counters (and the event-read recorder).
func (e *env) resetStats(ctx context.Context) {
	for _, s := range e.sims {
		s.sim.ResetStats()
		s.mu.Lock()
		s.eventReads = map[string]int{}
		s.mu.Unlock()
	}
	for _, u := range e.statsURLs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, strings.TrimRight(u, "/")+"/_sim/stats", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// totalCalls is the number of upstream calls since resetStats; -1 when unknown (--url without
// --sim-stats).
func (e *env) totalCalls(ctx context.Context) int {
	if e.external && len(e.statsURLs) == 0 {
		return -1
	}
	n := 0
	for _, s := range e.sims {
		n += s.sim.Stats().Total
	}
	for _, u := range e.statsURLs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u, "/")+"/_sim/stats", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		var st vbosim.Stats
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return -1
		}
		n += st.Total
	}
	return n
}

// stoppedEventReads counts the events calls since resetStats that read stopped sessions.
func (e *env) stoppedEventReads() (stopped, working int) {
	for _, s := range e.sims {
		s.mu.Lock()
		for id, n := range s.eventReads {
			rs, ok := s.sim.Session(id)
			if ok && rs.State == upstream.SessionStateStopped {
				stopped += n
			} else {
				working += n
			}
		}
		s.mu.Unlock()
	}
	return stopped, working
}

func (e *env) setLatency(l, j time.Duration) {
	for _, s := range e.sims {
		s.sim.SetFaults(vbosim.Faults{Latency: l, Jitter: j})
	}
}

// ---- minimum calls, from the simulators' own data ----

// pagesFor is the number of listing calls needed to read n items in pages of size (at least one).
func pagesFor(n, size int) int {
	return max(1, int(math.Ceil(float64(n)/float64(size))))
}

// eventCalls is the number of events calls needed to read every event of a session.
func eventCalls(sim *vbosim.Server, id string) int {
	return pagesFor(len(sim.Events(id)), listingPage)
}

// dashboardPlan is what the dashboard shows from one server.
type dashboardPlan struct {
	listingCalls int
	shown        []upstream.RestoreSession // sessions shown (newest perOrg of every organisation)
	minCalls     int                       // token + organisations + listing + events
	workingCalls int                       // events calls for working sessions (never cacheable)
}

// planDashboard walks the server's newest-first listing once for all organisations, as the
// gateway does, asking perOrg+1 sessions of each (the extra one tells hasNextPage).
func planDashboard(sim *vbosim.Server, perOrg int) dashboardPlan {
	orgs := sim.Organizations()
	need := perOrg + 1
	count := map[string]int{}
	unsatisfied := len(orgs)
	all := sim.Sessions()
	walked := len(all)
	var p dashboardPlan
	for i, s := range all {
		k := strings.ToLower(s.Organization)
		if count[k] < need {
			count[k]++
			if count[k] <= perOrg {
				p.shown = append(p.shown, s)
			}
			if count[k] == need {
				unsatisfied--
			}
		}
		if unsatisfied == 0 {
			walked = i + 1
			break
		}
	}
	p.listingCalls = pagesFor(walked, listingPage)
	p.minCalls = 1 + 1 + p.listingCalls
	for _, s := range p.shown {
		n := eventCalls(sim, s.ID)
		p.minCalls += n
		if s.State != upstream.SessionStateStopped {
			p.workingCalls += n
		}
	}
	return p
}

// auditPlan picks the organisation with the most sessions in the window on the first server.
type auditPlan struct {
	server   *simHost
	org      upstream.Organization
	from, to time.Time
	inWindow int // sessions of every organisation in the window (the listing walked)
	sessions []upstream.RestoreSession
	minCalls int
}

func (e *env) planAudit(first int) auditPlan {
	s := e.sims[0]
	p := auditPlan{server: s, to: s.sim.Now(), from: s.sim.Now().Add(-time.Duration(e.o.auditDays) * 24 * time.Hour)}
	byOrg := map[string][]upstream.RestoreSession{}
	for _, rs := range s.sim.Sessions() {
		if !rs.CreationTime.Before(p.from) && rs.CreationTime.Before(p.to) {
			p.inWindow++
			k := strings.ToLower(rs.Organization)
			byOrg[k] = append(byOrg[k], rs)
		}
	}
	for _, o := range s.sim.Organizations() {
		if len(byOrg[strings.ToLower(o.Name)]) > len(p.sessions) {
			p.org, p.sessions = o, byOrg[strings.ToLower(o.Name)]
		}
	}
	walked := p.inWindow
	if len(p.sessions) > first { // the walk stops at the (first+1)th session of the org
		walked = 0
		n := 0
		for _, rs := range s.sim.Sessions() {
			if rs.CreationTime.Before(p.from) || !rs.CreationTime.Before(p.to) {
				continue
			}
			walked++
			if strings.EqualFold(rs.Organization, p.org.Name) {
				n++
				if n == first+1 {
					break
				}
			}
		}
		p.sessions = p.sessions[:first]
	}
	p.minCalls = 1 + 1 + pagesFor(walked, listingPage)
	for _, rs := range p.sessions {
		p.minCalls += eventCalls(s.sim, rs.ID)
	}
	return p
}

// lookupIDs picks distinct sessions round-robin over the servers (newest first) and returns
// the global IDs of the n lookups: each distinct id twice (n/2 distinct).
func (e *env) lookupIDs(n int) (ids []string, distinct []gid.ID) {
	nd := (n + 1) / 2
	lists := make([][]upstream.RestoreSession, len(e.sims))
	for i, s := range e.sims {
		lists[i] = s.sim.Sessions()
	}
	for k := 0; len(distinct) < nd; k++ {
		i := k % len(e.sims)
		j := k / len(e.sims) * 7 // spread over the listing
		if j >= len(lists[i]) {
			break
		}
		distinct = append(distinct, gid.ID{Kind: gid.KindRestoreSession, Server: e.sims[i].name, Upstream: lists[i][j].ID})
	}
	for _, d := range distinct {
		ids = append(ids, d.String())
	}
	for _, d := range distinct {
		if len(ids) < n {
			ids = append(ids, d.String())
		}
	}
	return ids, distinct
}

// largeSession makes a stopped session of the first server have n events and returns its id.
func (e *env) largeSession(n int) (string, error) {
	s := e.sims[0]
	for _, rs := range s.sim.Sessions()[100:] {
		if rs.State == upstream.SessionStateStopped {
			s.sim.SetLargeSession(rs.ID, n)
			return gid.ID{Kind: gid.KindRestoreSession, Server: s.name, Upstream: rs.ID}.String(), nil
		}
	}
	return "", errors.New("no stopped session")
}

func serversUsed(ids []gid.ID) int {
	var s []string
	for _, id := range ids {
		if !slices.Contains(s, id.Server) {
			s = append(s, id.Server)
		}
	}
	return len(s)
}
