package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// fixedNow anchors the simulators' generated data, so every run sees the same sessions.
var fixedNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// listingPage is the page size the minimum calls are planned with: the most VBO serves in one
// page, which the gateway walks listings with (the direct clients walk with the client's
// default, upstream.IterPageSize).
const listingPage = upstream.MaxPageSize

// benchPasswordEnv carries the simulators' password to the gateway process (passwordEnv).
const benchPasswordEnv = "VBO_BENCH_PASSWORD"

// simHost is one simulated VBO server served by the vbo-sim process. sim is a copy of its data
// built in this process from the same options (seed, name, anchor): it is never served, only
// read to plan the minimum calls and pick ids (newEnv checks that it matches what is served).
type simHost struct {
	name string
	url  string // base URL, without the /v6 suffix
	sim  *vbosim.Server
}

// env is what a scenario runs against: the vbo-sim process, the gateway process (or --url) and
// the direct clients' settings.
type env struct {
	o    *options
	bins *binaries
	sims []*simHost
	simP *proc

	gw        *proc // the current gateway process (freshGateway replaces it)
	gwURL     string
	gwPeak    int64 // largest VmHWM of the gateway processes so far
	external  bool
	statsURLs []string
	hc        *http.Client // load generator -> gateway

	// systemPID is the process of the system under test (0: this process, for direct-*).
	systemPID func() int

	dir      string // config files
	profiles int    // gateway CPU profiles written (--gateway-cpu-profile)
}

func newEnv(ctx context.Context, o *options, bins *binaries) (*env, error) {
	e := &env{o: o, bins: bins, hc: &http.Client{Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second}}}
	e.systemPID = func() int { return 0 }
	if o.url != "" {
		e.external, e.gwURL, e.statsURLs = true, o.url, o.simStats
		return e, nil
	}
	var err error
	if e.dir, err = os.MkdirTemp("", "vbo-bench-"); err != nil {
		return nil, err
	}
	names := make([]string, o.servers)
	for i := range names {
		names[i] = fmt.Sprintf("sim%d", i+1)
		if i < len(demo.Names) {
			names[i] = demo.Names[i]
		}
	}
	// The simulators: one vbo-sim process, random ports, the demo's seeds (seed + i), fixed anchor.
	ready := &lineWaiter{lines: make(chan string, o.servers)}
	cmd := pinned(ctx, o.harnessCPUs, bins.sim, "--listen", "127.0.0.1:0", "--names", strings.Join(names, ","),
		"--seed", strconv.FormatInt(demo.Seed, 10), "--seed-step", "1", "--now", fixedNow.Format(time.RFC3339),
		"--orgs", strconv.Itoa(o.orgs), "--sessions", strconv.Itoa(o.sessions), "--max-events", strconv.Itoa(maxEvents),
		"--latency", o.latency.String(), "--jitter", o.jitter.String(), "--username", demo.Username, "--password", demo.Password)
	if e.simP, err = startProc(cmd, ready); err != nil {
		e.close()
		return nil, fmt.Errorf("start vbo-sim: %w", err)
	}
	// The twins build while vbo-sim builds the same data.
	twins := make([]*vbosim.Server, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			twins[i] = vbosim.New(vbosim.Options{Name: name, Seed: demo.Seed + int64(i), Username: demo.Username,
				Password: demo.Password, Orgs: o.orgs, Sessions: o.sessions, Now: fixedNow, MaxEventsPerSession: maxEvents})
		})
	}
	wg.Wait()
	urls := map[string]string{}
	timeout := time.After(2 * time.Minute)
	for len(urls) < len(names) {
		select {
		case line := <-ready.lines:
			if name, u, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				urls[name] = strings.TrimSuffix(u, "/"+twins[0].APIVersion())
			}
		case <-e.simP.done:
			err := fmt.Errorf("vbo-sim exited: %s", e.simP.output())
			e.close()
			return nil, err
		case <-timeout:
			err := fmt.Errorf("vbo-sim not ready: %s", e.simP.output())
			e.close()
			return nil, err
		}
	}
	for i, name := range names {
		e.sims = append(e.sims, &simHost{name: name, url: urls[name], sim: twins[i]})
	}
	if err := e.checkTwins(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// maxEvents is the simulators' cap on generated events per session (vbo-sim's default).
const maxEvents = 60

// checkTwins compares the newest sessions each server serves with its twin's.
func (e *env) checkTwins(ctx context.Context) error {
	clients, err := e.directClients(0)
	if err != nil {
		return err
	}
	for i, c := range clients {
		p, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 3}})
		if err != nil {
			return fmt.Errorf("%s: %w", e.sims[i].name, err)
		}
		want := e.sims[i].sim.Sessions()
		for k, rs := range p.Results {
			if k >= len(want) || rs.ID != want[k].ID {
				return fmt.Errorf("%s: vbo-sim serves other data than the bench planned with (session %d)", e.sims[i].name, k)
			}
		}
	}
	return nil
}

func (e *env) close() {
	e.stopGateway()
	e.simP.stop()
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// benchLimits raise the gateway's query limits for the benchmark's documents: with the defaults
// benchLimits raise the gateway's query limits for the benchmark's documents: with the defaults
// (maxUpstreamCalls 2,500, maxResponseObjects 250,000, maxAliases 30) the dashboard (every
// session of up to 500 organisations, with 100 events each) and the 200-alias node lookups are
// refused before they run. perPrincipal -1: the load generator is one principal running up to
// 64 requests at once (default: 8 at a time, 32 queued).
const benchLimits = `limits:
  maxUpstreamCalls: 1000000
  maxResponseObjects: 100000000
  maxAliases: 1000
  maxTokens: 15000
  maxSelections: 5000
  concurrency: {perPrincipal: -1}
`

// gatewaySettings are what a scenario changes in the gateway's configuration.
type gatewaySettings struct {
	noListingCache   bool // cache.listingTTL: -1s
	noImmutableCache bool // cache.maxBytes: -1
	archive          bool // the watch on, reads.from: archive (archiveWatchConfig)
}

// gatewayConfig is the gateway's configuration file for the simulators: defaults, except
// benchLimits, --max-concurrency, the bench's API key (the demo admin key's SHA-256) and s.
func (e *env) gatewayConfig(listen string, s gatewaySettings) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nmaxConcurrencyPerServer: %d\n", listen, e.o.maxConc)
	ttl, maxBytes := "0s", 0
	if s.noListingCache {
		ttl = "-1s"
	}
	if s.noImmutableCache {
		maxBytes = -1
	}
	fmt.Fprintf(&b, "cache: {listingTTL: %s, maxBytes: %d}\n", ttl, maxBytes)
	b.WriteString(benchLimits)
	if s.archive {
		b.WriteString(archiveWatchConfig(e.dir))
	}
	b.WriteString("servers:\n")
	for _, s := range e.sims {
		fmt.Fprintf(&b, "  - {name: %s, url: %q, apiVersion: %s, username: %q, passwordEnv: %s}\n",
			s.name, s.url, s.sim.APIVersion(), demo.Username, benchPasswordEnv)
	}
	fmt.Fprintf(&b, "auth:\n  apiKeys:\n    - {name: bench, sha256: %s, role: PROVIDER_ADMIN}\n", demo.KeySHA256(demo.AdminKey))
	return []byte(b.String())
}

// freshGateway starts a new gateway process (empty caches, no token) and routes requests to
// it, after stopping the previous one.
func (e *env) freshGateway(ctx context.Context, s gatewaySettings) error {
	if e.external {
		return nil
	}
	e.stopGateway()
	port, err := freePort()
	if err != nil {
		return err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := e.gatewayConfig(listen, s)
	if _, err := config.Parse(cfg, func(string) (string, bool) { return demo.Password, true }, os.ReadFile); err != nil {
		return fmt.Errorf("bench gateway config: %w\n%s", err, cfg)
	}
	path := filepath.Join(e.dir, "gateway.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return err
	}
	args := []string{"--config", path, "--log-level", "warn"}
	if e.o.profileDir != "" {
		e.profiles++
		args = append(args, "--cpu-profile", filepath.Join(e.o.profileDir, fmt.Sprintf("gateway-%d-%d.pprof", os.Getpid(), e.profiles)))
	}
	cmd := pinned(ctx, e.o.systemCPUs, e.bins.gateway, args...)
	cmd.Env = append(os.Environ(), benchPasswordEnv+"="+demo.Password)
	if e.gw, err = startProc(cmd, nil); err != nil {
		return fmt.Errorf("start vbo-gateway: %w", err)
	}
	if err := waitHealthy(ctx, e.gw, "http://"+listen+"/healthz", 30*time.Second); err != nil {
		return fmt.Errorf("vbo-gateway: %w", err)
	}
	if err := e.waitProbed(ctx, "http://"+listen+"/readyz"); err != nil {
		return fmt.Errorf("vbo-gateway: %w", err)
	}
	e.gwURL = "http://" + listen + "/graphql"
	e.systemPID = func() int { return e.gw.pid() }
	return nil
}

// waitProbed waits until the gateway's start-up health probes have reached every server
// (/readyz: reachable == total). They log in, so a fresh gateway's first request needs no
// token call: startupTokens.
func (e *env) waitProbed(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct{ Reachable, Total int }
		err := e.simControl(ctx, http.MethodGet, url, nil, &st)
		if err == nil && st.Total > 0 && st.Reachable == st.Total {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("start-up probes did not reach every server (%d of %d): %v", st.Reachable, st.Total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loggedIn is how many of a scenario's token calls (one per server it uses) a fresh
// gateway has already made before its first request: all of them, since its start-up probes
// log in to every server (waitProbed). The gateway's cold minimum leaves them out.
func (e *env) loggedIn(tokens int) int {
	if e.external {
		return 0
	}
	return tokens
}

// stopGateway ends the gateway process, keeping its peak RSS.
func (e *env) stopGateway() {
	if e.gw == nil {
		return
	}
	e.gwPeak = max(e.gwPeak, vmHWM(e.gw.pid()))
	e.gw.stop()
	e.gw = nil
}

// gatewayPeakRSS is the largest VmHWM of the gateway processes of this pair so far.
func (e *env) gatewayPeakRSS() int64 {
	if e.gw != nil {
		e.gwPeak = max(e.gwPeak, vmHWM(e.gw.pid()))
	}
	return e.gwPeak
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

// simControlURLs are the /_sim base URLs of every simulator (served or --sim-stats).
func (e *env) simControlURLs() []string {
	if e.external {
		return e.statsURLs
	}
	var out []string
	for _, s := range e.sims {
		out = append(out, s.url)
	}
	return out
}

// simControl sends one /_sim control request and decodes the answer into out (if not nil).
func (e *env) simControl(ctx context.Context, method, url string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: HTTP %d %s", method, url, resp.StatusCode, msg)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// resetStats zeroes every simulator's counters.
func (e *env) resetStats(ctx context.Context) {
	for _, u := range e.simControlURLs() {
		_ = e.simControl(ctx, http.MethodDelete, strings.TrimRight(u, "/")+"/_sim/stats", nil, nil)
	}
}

// stats sums every simulator's counters since resetStats; ok is false when unknown (--url
// without --sim-stats, or a simulator did not answer).
func (e *env) stats(ctx context.Context) (total, events int, ok bool) {
	urls := e.simControlURLs()
	if len(urls) == 0 {
		return 0, 0, false
	}
	for _, u := range urls {
		var st vbosim.Stats
		if err := e.simControl(ctx, http.MethodGet, strings.TrimRight(u, "/")+"/_sim/stats", nil, &st); err != nil {
			return 0, 0, false
		}
		total += st.Total
		for k, n := range st.Calls {
			if strings.HasSuffix(k, "/{restoreSessionId}/Events") {
				events += n
			}
		}
	}
	return total, events, true
}

// totalCalls is the number of upstream calls since resetStats; -1 when unknown.
func (e *env) totalCalls(ctx context.Context) int {
	n, _, ok := e.stats(ctx)
	if !ok {
		return -1
	}
	return n
}

func (e *env) setLatency(ctx context.Context, l, j time.Duration) error {
	for _, u := range e.simControlURLs() {
		if err := e.simControl(ctx, http.MethodPut, strings.TrimRight(u, "/")+"/_sim/faults", vbosim.Faults{Latency: l, Jitter: j}, nil); err != nil {
			return err
		}
	}
	return nil
}

// simCPU is the vbo-sim process's CPU time so far (0 with --url).
func (e *env) simCPU() time.Duration {
	if e.simP == nil {
		return 0
	}
	return treeCPU(e.simP.pid())
}

// systemCPU is the CPU time so far of the system under test's process (this process, without
// its children, for the direct-* systems, which run in the load generator).
func (e *env) systemCPU() time.Duration {
	if e.external {
		return 0
	}
	if pid := e.systemPID(); pid != 0 {
		return treeCPU(pid)
	}
	return selfCPU()
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

// largeSession makes a stopped session of the first server have n events (in vbo-sim and in
// its twin) and returns its global id.
func (e *env) largeSession(ctx context.Context, n int) (string, error) {
	s := e.sims[0]
	for _, rs := range s.sim.Sessions()[100:] {
		if rs.State == upstream.SessionStateStopped {
			u := fmt.Sprintf("%s/_sim/sessions/%s/large?events=%d", s.url, rs.ID, n)
			if err := e.simControl(ctx, http.MethodPost, u, nil, nil); err != nil {
				return "", err
			}
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
