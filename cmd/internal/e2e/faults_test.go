package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// rig is a gateway over three small simulators with test-sized resilience settings: fast
// retries, a 5-failure breaker with a short cool-down, no listing cache (so every query's
// upstream calls are its own).
type rig struct {
	t     *testing.T
	fleet *demo.Fleet
	gw    *app.Gateway
}

type rigOpts struct {
	sim  func(name string, o *vbosim.Options)
	tune func(*config.Config)
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 3, Sessions: 30, Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), Sim: o.sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	fleet.Config = fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	cfg := fleet.Config
	cfg.Cache.ListingTTL = -1
	cfg.Resilience = config.Resilience{RequestTimeout: 2 * time.Second, RetryAttempts: 3,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
		BreakerFailures: 5, BreakerCooldown: 200 * time.Millisecond}
	adminOnly(cfg)
	if o.tune != nil {
		o.tune(cfg)
	}
	gw, err := runGateway(t, t.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw.Handler = asAdmin(gw.Handler)
	return &rig{t: t, fleet: fleet, gw: gw}
}

type rigErr struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e rigErr) code() string   { s, _ := e.Extensions["code"].(string); return s }
func (e rigErr) server() string { s, _ := e.Extensions["server"].(string); return s }

type rigResp struct {
	status int
	header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []rigErr        `json:"errors"`
}

// do sends a raw request to the gateway handler.
func (r *rig) do(req *http.Request) rigResp {
	r.t.Helper()
	w := httptest.NewRecorder()
	r.gw.Handler.ServeHTTP(w, req)
	out := rigResp{status: w.Code, header: w.Header()}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		r.t.Fatalf("status %d, body not JSON: %v: %.300s", w.Code, err, w.Body.String())
	}
	return out
}

// post sends a JSON GraphQL request.
func (r *rig) post(query string, vars map[string]any) rigResp {
	r.t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return r.do(req)
}

func (r *rig) calls(server, route string) int {
	s := r.fleet.Sims[server]
	method, path, _ := strings.Cut(route, " ")
	return s.Calls(method + " /" + s.APIVersion() + path)
}

func (r *rig) totalCalls() int {
	n := 0
	for _, s := range r.fleet.Sims {
		n += s.Stats().Total
	}
	return n
}

func (r *rig) resetStats() {
	for _, s := range r.fleet.Sims {
		s.ResetStats()
	}
}

const (
	fRouteTok  = "POST /token"
	fRouteOrgs = "GET /Organizations"
	fRouteSess = "GET /RestoreSessions"
)

// faultOrgsQuery lists every organisation with a page of its sessions, and the servers' status.
const faultOrgsQuery = `{
  servers { name status }
  organizations(first: 100) {
    totalCount
    edges { node { name server { name } restoreSessions(first: 2) { edges { node { upstreamId } } } } }
  }
}`

type orgsData struct {
	Servers []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"servers"`
	Organizations struct {
		TotalCount int `json:"totalCount"`
		Edges      []struct {
			Node struct {
				Name   string `json:"name"`
				Server struct {
					Name string `json:"name"`
				} `json:"server"`
				RestoreSessions struct {
					Edges []struct {
						Node struct {
							UpstreamID string `json:"upstreamId"`
						} `json:"node"`
					} `json:"edges"`
				} `json:"restoreSessions"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"organizations"`
}

func decodeOrgs(t *testing.T, resp rigResp) orgsData {
	t.Helper()
	var d orgsData
	if err := json.Unmarshal(resp.Data, &d); err != nil {
		t.Fatalf("data: %v: %s", err, resp.Data)
	}
	return d
}

// orgsPerServer counts organisations (with their sessions) per server.
func (d orgsData) orgsPerServer() map[string]int {
	m := map[string]int{}
	for _, e := range d.Organizations.Edges {
		if len(e.Node.RestoreSessions.Edges) > 0 {
			m[e.Node.Server.Name]++
		}
	}
	return m
}

func (d orgsData) status() map[string]string {
	m := map[string]string{}
	for _, s := range d.Servers {
		m[s.Name] = s.Status
	}
	return m
}

// wantOneServerError asserts exactly one error, for server, with code.
func wantOneServerError(t *testing.T, resp rigResp, server, code string) {
	t.Helper()
	if len(resp.Errors) != 1 {
		t.Fatalf("errors = %+v, want exactly one (for %s)", resp.Errors, server)
	}
	e := resp.Errors[0]
	if e.code() != code || e.server() != server || len(e.Path) == 0 {
		t.Fatalf("error = %+v, want code %s, server %s and a path", e, code, server)
	}
	if strings.Contains(e.Message, "vbo-sim") || strings.Contains(e.Message, "injected") || strings.Contains(e.Message, "fault") {
		t.Errorf("error message echoes the upstream body: %q", e.Message)
	}
}

// One of three servers down: data from the other two, one UPSTREAM_UNAVAILABLE error for it;
// after five failed attempts the breaker opens and the server is skipped without calls; after
// the cool-down one probe closes it again.
func TestFaultServerDown(t *testing.T) {
	// Serial: the open-breaker query must come within the 200 ms cool-down, and fast.
	r := newRig(t, rigOpts{})
	r.fleet.Sims["akl1"].SetFaults(vbosim.Faults{Down: true})

	resp := r.post(faultOrgsQuery, nil)
	d := decodeOrgs(t, resp)
	if got := d.orgsPerServer(); got["syd1"] != 3 || got["mel1"] != 3 || got["akl1"] != 0 {
		t.Errorf("orgs with sessions per server = %v, want syd1:3 mel1:3 akl1:0", got)
	}
	wantOneServerError(t, resp, "akl1", "UPSTREAM_UNAVAILABLE")
	// The token call (POST, but idempotent) is tried 3 times; nothing else is sent.
	if n, m := r.calls("akl1", fRouteTok), r.calls("akl1", fRouteOrgs); n != 3 || m != 0 {
		t.Errorf("akl1 calls: token %d, orgs %d; want 3, 0", n, m)
	}
	if st := d.status(); st["akl1"] != "UP" || st["syd1"] != "UP" {
		t.Errorf("status after 3 failures = %v, want all UP (breaker opens at 5)", st)
	}

	// Second query: attempts 4 and 5 fail, the 5th opens the breaker, the 3rd try is refused.
	resp = r.post(faultOrgsQuery, nil)
	wantOneServerError(t, resp, "akl1", "UPSTREAM_UNAVAILABLE")
	if n := r.calls("akl1", fRouteTok); n != 5 {
		t.Errorf("akl1 token calls after 2 queries = %d, want 5", n)
	}
	// Third query: skipped fast, no call at all, status DOWN.
	r.resetStats()
	start := time.Now()
	resp = r.post(faultOrgsQuery, nil)
	wantOneServerError(t, resp, "akl1", "UPSTREAM_UNAVAILABLE")
	if n := r.fleet.Sims["akl1"].Stats().Total; n != 0 {
		t.Errorf("open breaker: akl1 got %d calls, want 0", n)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("query with an open breaker took %v", el)
	}
	if st := decodeOrgs(t, resp).status(); st["akl1"] != "DOWN" || st["mel1"] != "UP" {
		t.Errorf("status = %v, want akl1 DOWN", st)
	}

	// Recovery: after the cool-down the breaker is half-open (DEGRADED); one probe closes it.
	r.fleet.Sims["akl1"].SetFaults(vbosim.Faults{})
	time.Sleep(250 * time.Millisecond)
	resp = r.post(`{ servers { name status } }`, nil)
	if st := decodeOrgs(t, resp).status(); st["akl1"] != "DEGRADED" {
		t.Errorf("status after cool-down = %v, want akl1 DEGRADED", st)
	}
	resp = r.post(faultOrgsQuery, nil)
	if len(resp.Errors) != 0 {
		t.Fatalf("errors after recovery: %+v", resp.Errors)
	}
	d = decodeOrgs(t, resp)
	if got := d.orgsPerServer(); got["akl1"] != 3 {
		t.Errorf("akl1 orgs after recovery = %d, want 3", got["akl1"])
	}
	// (servers and organizations resolve concurrently: ask for the status afterwards.)
	if st := decodeOrgs(t, r.post(`{ servers { name status } }`, nil)).status(); st["akl1"] != "UP" {
		t.Errorf("status after recovery = %v, want akl1 UP", st)
	}
}

// A server slower than the request deadline: its calls end at the per-call response timeout
// (shorter than the request deadline, so the other servers' nested fields still have time),
// giving the others' data and one UPSTREAM_TIMEOUT.
func TestFaultSlowPastDeadline(t *testing.T) {
	// Serial: asserts the answer time (350 ms..1.5 s).
	r := newRig(t, rigOpts{tune: func(c *config.Config) {
		c.Resilience.RequestTimeout = time.Second
		c.Resilience.ResponseTimeout = 400 * time.Millisecond
	}})
	r.fleet.Sims["mel1"].SetFaults(vbosim.Faults{Latency: 3 * time.Second})
	start := time.Now()
	resp := r.post(faultOrgsQuery, nil)
	el := time.Since(start)
	d := decodeOrgs(t, resp)
	if got := d.orgsPerServer(); got["syd1"] != 3 || got["akl1"] != 3 || got["mel1"] != 0 {
		t.Errorf("orgs per server = %v", got)
	}
	wantOneServerError(t, resp, "mel1", "UPSTREAM_TIMEOUT")
	if el < 350*time.Millisecond || el > 1500*time.Millisecond {
		t.Errorf("answered after %v, want about the 400ms response timeout", el)
	}
	// One token call (not delayed) and one listing call: a timeout is not retried.
	if n, m := r.calls("mel1", fRouteTok), r.calls("mel1", fRouteOrgs); n != 1 || m != 1 {
		t.Errorf("mel1 calls: token %d, orgs %d; want 1, 1", n, m)
	}
}

// A server flapping between 500 and 200: a 500 is not retried (UPSTREAM_ERROR, one call), the
// next query is whole again; five 500s in a row open the breaker.
func TestFaultFlapping500(t *testing.T) {
	// Serial: the open-breaker query must come within the 200 ms cool-down.
	r := newRig(t, rigOpts{})
	syd := r.fleet.Sims["syd1"]
	r.post(faultOrgsQuery, nil) // tokens
	r.resetStats()

	syd.SetFaults(vbosim.Faults{BurstStatus: 500, BurstCount: 1})
	resp := r.post(faultOrgsQuery, nil)
	wantOneServerError(t, resp, "syd1", "UPSTREAM_ERROR")
	if got := decodeOrgs(t, resp).orgsPerServer(); got["mel1"] != 3 || got["akl1"] != 3 || got["syd1"] != 0 {
		t.Errorf("orgs per server = %v", got)
	}
	if n := r.calls("syd1", fRouteOrgs); n != 1 {
		t.Errorf("syd1 org calls = %d, want 1 (500 is not retried)", n)
	}
	resp = r.post(faultOrgsQuery, nil)
	if len(resp.Errors) != 0 {
		t.Fatalf("errors after the flap: %+v", resp.Errors)
	}
	if got := decodeOrgs(t, resp).orgsPerServer(); got["syd1"] != 3 {
		t.Errorf("syd1 orgs = %d, want 3", got["syd1"])
	}
	// Sessions: one listing walk for the three organisations of each server.
	if n := r.calls("syd1", fRouteSess); n != 1 {
		t.Errorf("syd1 session listings = %d, want 1", n)
	}

	// Five consecutive 500s trip the breaker; the sixth query sends nothing to syd1.
	syd.SetFaults(vbosim.Faults{BurstStatus: 500, BurstCount: 5})
	for i := range 5 {
		resp = r.post(faultOrgsQuery, nil)
		wantOneServerError(t, resp, "syd1", "UPSTREAM_ERROR")
		_ = i
	}
	r.resetStats()
	resp = r.post(faultOrgsQuery, nil)
	wantOneServerError(t, resp, "syd1", "UPSTREAM_UNAVAILABLE")
	if n := syd.Stats().Total; n != 0 {
		t.Errorf("syd1 calls with the breaker open = %d, want 0", n)
	}
}

// 429 with Retry-After: the call is repeated after the advertised wait and the data is whole;
// a Retry-After beyond the deadline is not waited for.
func TestFault429RetryAfter(t *testing.T) {
	// Serial: asserts answer times around a 1 s Retry-After.
	r := newRig(t, rigOpts{})
	syd := r.fleet.Sims["syd1"]
	r.post(faultOrgsQuery, nil) // tokens
	r.resetStats()

	syd.SetFaults(vbosim.Faults{RateLimitCount: 1, RetryAfter: time.Second})
	start := time.Now()
	resp := r.post(faultOrgsQuery, nil)
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("answered after %v: the retry did not wait for Retry-After (1s)", el)
	}
	if got := decodeOrgs(t, resp).orgsPerServer(); got["syd1"] != 3 {
		t.Errorf("syd1 orgs = %d, want 3", got["syd1"])
	}
	if n := r.calls("syd1", fRouteOrgs); n != 2 {
		t.Errorf("syd1 org calls = %d, want 2 (429 + retry)", n)
	}

	r.resetStats()
	syd.SetFaults(vbosim.Faults{RateLimitCount: 1, RetryAfter: 5 * time.Second})
	start = time.Now()
	resp = r.post(faultOrgsQuery, nil)
	wantOneServerError(t, resp, "syd1", "UPSTREAM_UNAVAILABLE")
	if el := time.Since(start); el > time.Second {
		t.Errorf("answered after %v: waited for a Retry-After past the 2s deadline", el)
	}
	if n := r.calls("syd1", fRouteOrgs); n != 1 {
		t.Errorf("syd1 org calls = %d, want 1", n)
	}
}

// Token expiry mid-query and a 401 storm: the simulator's clock jumps past the token's
// lifetime; 20 concurrent requests all get 401 on their first call, and share exactly one
// token call (refresh grant) before each retries once.
func TestFaultTokenExpiry401Storm(t *testing.T) {
	// Serial: 20 requests must each finish within the rig's 2 s deadline (they timed out under -race beside the parallel tests).
	var clockMu sync.Mutex
	offset := time.Duration(0)
	clock := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return time.Now().Add(offset)
	}
	r := newRig(t, rigOpts{sim: func(name string, o *vbosim.Options) {
		if name == "syd1" {
			o.Clock = clock
		}
	}, tune: func(c *config.Config) { c.Limits.Concurrency.PerPrincipal = 32 }}) // all 20 in flight at once
	const q = `{ organizations(first: 100, filter: {servers: ["syd1"]}) { totalCount edges { node { name restoreSessions(first: 1) { edges { node { upstreamId } } } } } } }`
	if resp := r.post(q, nil); len(resp.Errors) != 0 {
		t.Fatalf("warm-up: %+v", resp.Errors)
	}
	syd := r.fleet.Sims["syd1"]
	// Every first call is in flight at the same time (the latency is applied before the token
	// check), so all of them carry the expired token.
	syd.SetFaults(vbosim.Faults{Latency: 200 * time.Millisecond})
	clockMu.Lock()
	offset = 2 * time.Hour
	clockMu.Unlock()
	r.resetStats()

	const n = 20
	var wg sync.WaitGroup
	resps := make([]rigResp, n)
	for i := range n {
		wg.Go(func() { resps[i] = r.post(q, nil) })
	}
	wg.Wait()
	for i, resp := range resps {
		if len(resp.Errors) != 0 {
			t.Fatalf("request %d: %+v", i, resp.Errors)
		}
		var d struct {
			Organizations struct {
				TotalCount int `json:"totalCount"`
			} `json:"organizations"`
		}
		_ = json.Unmarshal(resp.Data, &d)
		if d.Organizations.TotalCount != 3 {
			t.Errorf("request %d: %d orgs, want 3", i, d.Organizations.TotalCount)
		}
	}
	if got := r.calls("syd1", fRouteTok); got != 1 {
		t.Errorf("token calls = %d, want exactly 1 for %d concurrent requests after expiry", got, n)
	}
	// Each request: one listing call rejected with 401 and one retried with the new token, or
	// (a request that a busy machine starts after the shared re-login) one call with the new
	// token. At least one request met the expired token, so the shared re-login happened.
	if got := r.calls("syd1", fRouteOrgs); got < n+1 || got > 2*n {
		t.Errorf("org calls = %d, want %d..%d (one 401 + one retry each, or one call after the re-login)", got, n+1, 2*n)
	}
	if got := r.calls("syd1", fRouteSess); got != n {
		t.Errorf("session listings = %d, want %d", got, n)
	}
}

// A client that disconnects cancels the upstream calls made for it.
func TestFaultClientDisconnectCancelsUpstream(t *testing.T) {
	// Serial: asserts the handler returns within 2 s of the disconnect.
	r := newRig(t, rigOpts{})
	r.post(faultOrgsQuery, nil)
	r.fleet.Sims["syd1"].SetFaults(vbosim.Faults{Latency: 5 * time.Second})
	ts := httptest.NewServer(r.gw.Handler)
	defer ts.Close()
	ctxReq, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", strings.NewReader(`{"query":"{ organizations { totalCount } }"}`))
	ctxReq.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	if resp, err := c.Do(ctxReq); err == nil {
		resp.Body.Close()
		t.Fatal("want a client timeout")
	}
	// The gateway's handler must return soon after the disconnect, not after 5 s.
	done := make(chan struct{})
	go func() { ts.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("gateway still busy 2s after the client went away")
	}
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("took %v", el)
	}
}

// With only requestTimeout configured, the per-call response timeout defaults to 2/3 of it: a
// server slower than the deadline reports UPSTREAM_TIMEOUT and the response arrives in time.
func TestFaultRequestDeadline(t *testing.T) {
	// Serial: asserts the answer comes within 1 s of a 300 ms deadline.
	r := newRig(t, rigOpts{tune: func(c *config.Config) { c.Resilience.RequestTimeout = 300 * time.Millisecond }})
	r.fleet.Sims["mel1"].SetFaults(vbosim.Faults{Latency: 3 * time.Second})
	start := time.Now()
	resp := r.post(`{ organizations(first: 100) { totalCount } }`, nil)
	if el := time.Since(start); el > time.Second {
		t.Errorf("answered after %v, want about the 300ms deadline", el)
	}
	wantOneServerError(t, resp, "mel1", "UPSTREAM_TIMEOUT")
	var d struct {
		Organizations struct{ TotalCount int } `json:"organizations"`
	}
	_ = json.Unmarshal(resp.Data, &d)
	if d.Organizations.TotalCount != 6 {
		t.Errorf("totalCount = %d, want 6 (syd1 + akl1)", d.Organizations.TotalCount)
	}
	if n := r.calls("mel1", fRouteOrgs); n != 1 {
		t.Errorf("mel1 org calls = %d, want 1", n)
	}
}

func vbo500(n int) vbosim.Faults { return vbosim.Faults{BurstStatus: 500, BurstCount: n} }
