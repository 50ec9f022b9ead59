package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/telemetry"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// opsEnv is the demo fleet behind recording proxies, one gateway with tracing into an in-memory
// exporter and a JSON debug log into a buffer.
type opsEnv struct {
	t     *testing.T
	fleet *demo.Fleet
	gw    *app.Gateway
	spans *tracetest.InMemoryExporter
	logs  *lockedBuffer

	mu   sync.Mutex
	seen []seenRequest // every request the simulators received
	// secrets the simulators handed out (access and refresh tokens)
	issued []string
}

type seenRequest struct {
	server, method, path, traceparent, authorization string
}

// lockedBuffer collects the gateway's log lines (written concurrently).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines decodes every JSON log line.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

type opsOpts struct {
	sim  func(name string, o *vbosim.Options)
	tune func(*config.Config)
	// keepTenants keeps the demo tenants and keys (default: admin only).
	keepTenants bool
	health      time.Duration
}

func startOps(t *testing.T, o opsOpts) *opsEnv {
	t.Helper()
	fleet, err := demo.Start(demo.Options{Orgs: 4, Sessions: 40, Now: fixedNow, Sim: o.sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Close)
	e := &opsEnv{t: t, fleet: fleet, spans: tracetest.NewInMemoryExporter(), logs: &lockedBuffer{}}
	for i := range fleet.Config.Servers {
		name := fleet.Config.Servers[i].Name
		sim := fleet.Sims[name]
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			e.seen = append(e.seen, seenRequest{server: name, method: r.Method, path: r.URL.Path,
				traceparent: r.Header.Get("Traceparent"), authorization: r.Header.Get("Authorization")})
			e.mu.Unlock()
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, r)
			if strings.HasSuffix(r.URL.Path, "/token") {
				var tok struct {
					Access  string `json:"access_token"`
					Refresh string `json:"refresh_token"`
				}
				if json.Unmarshal(rec.Body.Bytes(), &tok) == nil {
					e.mu.Lock()
					e.issued = append(e.issued, tok.Access, tok.Refresh)
					e.mu.Unlock()
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}))
		t.Cleanup(ts.Close)
		fleet.Config.Servers[i].URL = ts.URL
	}
	if !o.keepTenants {
		adminOnly(fleet.Config)
	}
	if o.tune != nil {
		o.tune(fleet.Config)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(e.spans))
	level := new(slog.LevelVar)
	level.Set(slog.LevelDebug)
	logger, err := telemetry.NewLogger(e.logs, telemetry.FormatJSON, level)
	if err != nil {
		t.Fatal(err)
	}
	e.gw, err = runGateway(t, t.Context(), fleet.Config, app.Options{Logger: logger, LogLevel: level,
		Tracing: telemetry.NewTracing(tp), HealthInterval: o.health})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return e
}

// post sends one GraphQL request with headers and returns status, headers and body.
func (e *opsEnv) post(query string, headers map[string]string) (int, http.Header, string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.gw.Handler.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}

func (e *opsEnv) requests() []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seenRequest(nil), e.seen...)
}

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingParent  = "00f067aa0ba902b7"
)

// One nested query: the span tree runs from the caller's traceparent through the HTTP server
// span, the operation span and the resolver-field spans to one client span per VBO call, every
// span in the caller's trace, VBO routes templated; and VBO receives the same trace id.
func TestTracingSpanTreeAndPropagation(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{})
	code, _, body := e.post(`query Nested { restoreSessions(first: 2) { edges { node { id events(first: 2) { edges { node { type } } } } } } }`,
		map[string]string{"Authorization": "Bearer " + demo.AdminKey, "Traceparent": "00-" + incomingTraceID + "-" + incomingParent + "-01"})
	if code != 200 || strings.Contains(body, `"errors"`) {
		t.Fatalf("query = %d %s", code, body)
	}
	spans := e.spans.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
		if got := s.SpanContext.TraceID().String(); got != incomingTraceID {
			t.Errorf("span %q in trace %s, want the caller's %s", s.Name, got, incomingTraceID)
		}
	}
	find := func(name string) []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range spans {
			if s.Name == name {
				out = append(out, s)
			}
		}
		return out
	}
	parentOf := func(s tracetest.SpanStub) string { return s.Parent.SpanID().String() }
	server := find("POST /graphql")
	if len(server) != 1 || parentOf(server[0]) != incomingParent || !server[0].Parent.IsRemote() {
		t.Fatalf("server span = %+v, want one child of the caller's span %s", server, incomingParent)
	}
	op := find("query Nested")
	if len(op) != 1 || parentOf(op[0]) != server[0].SpanContext.SpanID().String() {
		t.Fatalf("operation span = %+v, want one child of the server span", op)
	}
	opID := op[0].SpanContext.SpanID().String()
	// underOp reports whether the span descends from the operation span.
	underOp := func(s tracetest.SpanStub) bool {
		for i := 0; i < 20; i++ {
			p := parentOf(s)
			if p == opID {
				return true
			}
			next, ok := byID[p]
			if !ok {
				return false
			}
			s = next
		}
		return false
	}
	if f := find("Query.restoreSessions"); len(f) != 1 || parentOf(f[0]) != opID {
		t.Errorf("Query.restoreSessions spans = %d, want one child of the operation", len(f))
	}
	if f := find("RestoreSession.events"); len(f) != 2 || !underOp(f[0]) || !underOp(f[1]) {
		t.Errorf("RestoreSession.events spans = %d, want 2 under the operation", len(f))
	}
	routes := map[string]bool{}
	for _, s := range spans {
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if strings.HasPrefix(s.Name, "GET /v") || strings.HasPrefix(s.Name, "POST /v") {
			if attrs["vbo.server"] == "" || attrs["http.route"] == "" || !underOp(s) {
				t.Errorf("VBO span %q: attributes %v, under the operation %v", s.Name, attrs, underOp(s))
			}
			routes[attrs["http.route"]] = true
		}
		for k, v := range attrs { // no raw id anywhere: templated routes only
			if strings.Contains(v, "-") && strings.Count(v, "-") >= 4 && (k == "url.full" || k == "http.route") {
				t.Errorf("span %q attribute %s = %q carries a raw id", s.Name, k, v)
			}
		}
	}
	for _, want := range []string{"/v6/RestoreSessions", "/v6/RestoreSessions/{id}/Events"} {
		if !routes[want] {
			t.Errorf("no VBO span for route %s (have %v)", want, routes)
		}
	}
	// VBO saw the caller's trace id on every call of this request.
	var vbo int
	for _, r := range e.requests() {
		vbo++
		if !strings.HasPrefix(r.traceparent, "00-"+incomingTraceID+"-") {
			t.Errorf("VBO %s %s got traceparent %q, want trace %s", r.method, r.path, r.traceparent, incomingTraceID)
		}
	}
	if vbo == 0 {
		t.Fatal("no VBO call recorded")
	}
}

// The access line of a request: request id (a valid incoming one kept, an invalid one
// replaced), trace id, principal, operation, status, duration, upstream calls, error codes.
func TestAccessLogFields(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{keepTenants: true})
	_, h, _ := e.post(`query Mine { viewer { tenant organizations { name } } }`, map[string]string{
		"Authorization": "Bearer " + demo.TenantKeyPrefix + "1", "X-Request-Id": "portal-42.a",
		"Traceparent": "00-" + incomingTraceID + "-" + incomingParent + "-01"})
	if got := h.Get("X-Request-Id"); got != "portal-42.a" {
		t.Errorf("X-Request-Id = %q, want the caller's", got)
	}
	_, h2, _ := e.post(`{ nope }`, map[string]string{"Authorization": "Bearer " + demo.AdminKey, "X-Request-Id": "bad id\"with<junk>"})
	newID := h2.Get("X-Request-Id")
	if newID == "" || strings.ContainsAny(newID, " \"<") {
		t.Errorf("invalid incoming id answered with %q, want a fresh one", newID)
	}
	var mine, bad map[string]any
	for _, l := range e.logs.lines(t) {
		if l["msg"] != "request" {
			continue
		}
		switch l["request_id"] {
		case "portal-42.a":
			mine = l
		case newID:
			bad = l
		}
	}
	if mine == nil || bad == nil {
		t.Fatalf("access lines missing:\n%s", e.logs.String())
	}
	want := map[string]any{"trace_id": incomingTraceID, "subject": "apikey:demo-tenant-1", "tenant": "tenant-1",
		"operation": "Mine", "status": float64(200), "path": "/graphql", "method": "POST"}
	for k, v := range want {
		if mine[k] != v {
			t.Errorf("access line %s = %v, want %v (line %v)", k, mine[k], v, mine)
		}
	}
	if d, ok := mine["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("duration_ms = %v", mine["duration_ms"])
	}
	if n, ok := mine["upstream_calls"].(float64); !ok || n < 1 {
		t.Errorf("upstream_calls = %v, want the organisation listing(s)", mine["upstream_calls"])
	}
	// The cost the response reported (extensions.cost) is on the line too.
	if cost, ok := mine["cost"].(map[string]any); !ok || cost["estimated"] == nil {
		t.Errorf("cost = %v, want the response's extensions.cost", mine["cost"])
	}
	if bad["error_codes"] != "GRAPHQL_VALIDATION_FAILED" || bad["subject"] != "apikey:demo-admin" {
		t.Errorf("failed request's line = %v, want error_codes GRAPHQL_VALIDATION_FAILED", bad)
	}
	// One debug line per upstream call, templated route, same request id.
	var upstreamLines int
	for _, l := range e.logs.lines(t) {
		if l["msg"] == "upstream call" && l["request_id"] == "portal-42.a" {
			upstreamLines++
			if r, _ := l["route"].(string); !strings.HasPrefix(r, "/v") || l["server"] == "" {
				t.Errorf("upstream line = %v", l)
			}
		}
	}
	if float64(upstreamLines) != mine["upstream_calls"] {
		t.Errorf("%d upstream debug lines, access line says %v", upstreamLines, mine["upstream_calls"])
	}
}

// A full cycle of good and bad logins, token refreshes and upstream failures, logged at debug:
// no line carries a VBO password or token, an API key or a bearer token.
func TestNoSecretInAnyLogLine(t *testing.T) {
	t.Parallel()
	const adminKey, tenant2Key, tenant3Key = "k-admin-6b1f0c2e", "k-t2-93a7d4aa", "k-t3-0d5c8e71"
	e := startOps(t, opsOpts{keepTenants: true, sim: func(_ string, o *vbosim.Options) {
		o.TokenLifetime = 61 * time.Second // inside the refresh margin after a second: refreshes
	}, tune: func(c *config.Config) {
		c.Cache.ListingTTL = -time.Second
		// Keys whose names differ from their values (the demo's are alike).
		c.Auth.APIKeys = []config.APIKey{
			{Name: "ops-admin", SHA256: demo.KeySHA256(adminKey), Role: "PROVIDER_ADMIN"},
			{Name: "ops-t2", SHA256: demo.KeySHA256(tenant2Key), Tenant: "tenant-2"},
			{Name: "ops-t3", SHA256: demo.KeySHA256(tenant3Key), Tenant: "tenant-3"},
		}
	}})
	jwtish := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	creds := []map[string]string{
		{"Authorization": "Bearer " + adminKey},
		{"Authorization": "Bearer " + tenant2Key},
		{"X-API-Key": tenant3Key},
		{"Authorization": "Bearer wrong-key-0123456789"},
		{"X-API-Key": "another-wrong-key"},
		{"Authorization": "Bearer " + jwtish},
		{"Authorization": "Basic dXNlcjpwYXNz"},
	}
	q := `{ viewer { tenant } organizations(first: 3) { edges { node { name restoreSessions(first: 2) { edges { node { id } } } } } } }`
	for round := 0; round < 2; round++ {
		for _, c := range creds {
			e.post(q, c)
		}
		time.Sleep(1100 * time.Millisecond) // the token is now due for refresh
	}
	// Upstream failures: one server refuses the credentials' token, another is down.
	e.fleet.Sims["mel1"].SetFaults(vbosim.Faults{Down: true})
	e.fleet.Sims["akl1"].SetFaults(vbosim.Faults{BurstStatus: 500, BurstCount: 5})
	for _, c := range creds[:3] {
		e.post(q, c)
	}
	e.fleet.Sims["mel1"].SetFaults(vbosim.Faults{})
	e.post(q, creds[0])

	e.mu.Lock()
	secrets := append([]string{demo.Password, adminKey, tenant2Key, tenant3Key,
		"wrong-key-0123456789", "another-wrong-key", jwtish, "dXNlcjpwYXNz"}, e.issued...)
	refreshes := 0
	for _, r := range e.seen {
		if strings.HasSuffix(r.path, "/token") {
			refreshes++
		}
	}
	e.mu.Unlock()
	if refreshes < 6 || len(e.issued) < 6 {
		t.Fatalf("only %d token calls: the cycle did not refresh tokens", refreshes)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "authentication failed") || !strings.Contains(logs, "upstream call") {
		t.Fatalf("the cycle logged no failed login or upstream call:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line carries a secret %q: %s", s, line)
			}
		}
	}
}

// get serves one GET with optional headers.
func (e *opsEnv) get(path string, headers map[string]string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.gw.Handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

type readyBody struct {
	Ready     bool `json:"ready"`
	Reachable int  `json:"reachable"`
	Total     int  `json:"total"`
	Servers   []struct {
		Name          string  `json:"name"`
		State         string  `json:"state"`
		LastSuccess   *string `json:"lastSuccess"`
		LastErrorCode string  `json:"lastErrorCode"`
	} `json:"servers"`
}

// One server down from the start: the gateway starts, the probe tells the truth before any
// user query (servers { status }, /readyz), the tenant whose organisations live there is told
// so by an error naming the server, and once the server is back its names resolve by themselves.
func TestOneServerDownFromTheStart(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{keepTenants: true, sim: func(name string, o *vbosim.Options) {
		o.Faults.Down = name == "akl1"
	}, tune: func(c *config.Config) { c.Resilience.BreakerCooldown = 300 * time.Millisecond }})
	e.gw.Health.ProbeAll(t.Context())
	admin := map[string]string{"Authorization": "Bearer " + demo.AdminKey}

	code, body := e.get("/readyz", nil)
	var rb readyBody
	if err := json.Unmarshal([]byte(body), &rb); err != nil || code != 200 || !rb.Ready || rb.Reachable != 2 || rb.Total != 3 || rb.Servers != nil {
		t.Fatalf("/readyz = %d %s, want 200 ready 2 of 3 without server names", code, body)
	}
	if code, _ := e.get("/readyz/servers", nil); code != 401 {
		t.Errorf("/readyz/servers anonymously = %d, want 401", code)
	}
	if code, _ := e.get("/readyz/servers", map[string]string{"Authorization": "Bearer " + demo.TenantKeyPrefix + "1"}); code != 403 {
		t.Errorf("/readyz/servers as a tenant = %d, want 403", code)
	}
	code, body = e.get("/readyz/servers", admin)
	rb = readyBody{}
	if err := json.Unmarshal([]byte(body), &rb); err != nil || code != 200 || len(rb.Servers) != 3 {
		t.Fatalf("/readyz/servers = %d %s", code, body)
	}
	for _, s := range rb.Servers {
		switch {
		case s.Name == "akl1" && (s.State != "DOWN" || s.LastSuccess != nil ||
			s.LastErrorCode != "UPSTREAM_UNAVAILABLE" && s.LastErrorCode != "CIRCUIT_OPEN"):
			// CIRCUIT_OPEN when start-up's name resolution already opened the breaker.
			t.Errorf("akl1 = %+v, want DOWN with UPSTREAM_UNAVAILABLE or CIRCUIT_OPEN and no success", s)
		case s.Name != "akl1" && (s.State != "UP" || s.LastSuccess == nil || s.LastErrorCode != ""):
			t.Errorf("%s = %+v, want UP with a last success", s.Name, s)
		}
	}

	// servers { status } is right on the first query (the breaker alone would still say UP).
	_, _, out := e.post(`{ servers { name status } }`, admin)
	for _, want := range []string{`{"name":"syd1","status":"UP"}`, `{"name":"mel1","status":"UP"}`, `{"name":"akl1","status":"DOWN"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("servers = %s, want %s", out, want)
		}
	}

	// tenant-3's organisations are on akl1, by name: reported, not silently dropped.
	tenant3 := map[string]string{"Authorization": "Bearer " + demo.TenantKeyPrefix + "3"}
	_, _, out = e.post(`{ viewer { organizations { name } } }`, tenant3)
	if !strings.Contains(out, `"code":"UPSTREAM_UNAVAILABLE"`) || !strings.Contains(out, `"server":"akl1"`) {
		t.Fatalf("tenant-3 with akl1 down = %s, want UPSTREAM_UNAVAILABLE naming akl1", out)
	}
	// tenant-2 (syd1 only) is not affected.
	if _, _, out := e.post(`{ viewer { organizations { name } } }`, map[string]string{"Authorization": "Bearer " + demo.TenantKeyPrefix + "2"}); strings.Contains(out, "errors") {
		t.Errorf("tenant-2 = %s, want no error", out)
	}

	// akl1 comes back: the directory's retry resolves tenant-3's names, the probe sees it.
	e.fleet.Sims["akl1"].SetFaults(vbosim.Faults{})
	waitFor(t, 20*time.Second, func() bool {
		_, _, out = e.post(`{ viewer { organizations { name } } }`, tenant3)
		return !strings.Contains(out, "errors") && strings.Count(out, `"name"`) == 2
	}, "tenant-3's 2 organisations after akl1 recovered, have ", lazy(func() string { return out }))
}

// Every server down: /readyz answers 503 (the process is still alive: /healthz 200).
func TestReadyzWhenNoServerIsReachable(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{keepTenants: true, sim: func(_ string, o *vbosim.Options) { o.Faults.Down = true }})
	if code, body := e.get("/readyz", nil); code != 503 || !strings.Contains(body, `"ready":false`) {
		t.Errorf("/readyz before any probe = %d %s, want 503", code, body)
	}
	e.gw.Health.ProbeAll(t.Context())
	if code, body := e.get("/readyz", nil); code != 503 || !strings.Contains(body, `"reachable":0`) {
		t.Errorf("/readyz = %d %s, want 503 with nothing reachable", code, body)
	}
	if code, _ := e.get("/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
}

// withAuth returns a copy of cfg with its own tenants and keys (the servers are shared).
func withAuth(cfg *config.Config, tenants []config.Tenant, keys []config.APIKey) *config.Config {
	c := *cfg
	c.Tenants = slices.Clone(tenants)
	c.Auth.APIKeys = slices.Clone(keys)
	return &c
}

// Reloads add and remove an API key and a tenant while requests run: none of those requests
// fails, each reload takes effect for the next request, and an invalid configuration keeps the
// running one (logged, counted).
func TestReloadSwapsAuthWithoutDroppingRequests(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{keepTenants: true})
	base := e.fleet.Config
	const newKey = "k-tenant9-5e2c"
	added := withAuth(base,
		append(slices.DeleteFunc(slices.Clone(base.Tenants), func(t config.Tenant) bool { return t.ID == "tenant-3" }),
			config.Tenant{ID: "tenant-9", Organizations: []config.TenantOrg{{Server: "mel1", Name: e.fleet.Sims["mel1"].Organizations()[2].Name}}}),
		append(slices.DeleteFunc(slices.Clone(base.Auth.APIKeys), func(k config.APIKey) bool { return k.Tenant == "tenant-3" }),
			config.APIKey{Name: "tenant-9", SHA256: demo.KeySHA256(newKey), Tenant: "tenant-9"}))
	load := func(c *config.Config) func() (*config.Config, error) {
		return func() (*config.Config, error) { return c, nil }
	}
	whoAmI := func(key string) (int, string) {
		code, _, body := e.post(`{ viewer { tenant organizations { name } } }`, map[string]string{"Authorization": "Bearer " + key})
		return code, body
	}

	// Steady traffic from callers the reloads do not touch.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failures []string
	var served int
	for _, key := range []string{demo.AdminKey, demo.TenantKeyPrefix + "2"} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body := whoAmI(key)
				failMu.Lock()
				served++
				if code != 200 || strings.Contains(body, `"errors"`) {
					failures = append(failures, body)
				}
				failMu.Unlock()
			}
		})
	}
	for round := 0; round < 3; round++ {
		if err := e.gw.Reload(load(added)); err != nil {
			t.Fatalf("reload (add): %v", err)
		}
		if code, body := whoAmI(newKey); code != 200 || !strings.Contains(body, `"tenant":"tenant-9"`) || strings.Count(body, `"name"`) != 1 {
			t.Fatalf("new key after reload = %d %s", code, body)
		}
		if code, _ := whoAmI(demo.TenantKeyPrefix + "3"); code != 401 {
			t.Fatalf("removed key after reload = %d, want 401", code)
		}
		if err := e.gw.Reload(load(base)); err != nil {
			t.Fatalf("reload (back): %v", err)
		}
		if code, _ := whoAmI(newKey); code != 401 {
			t.Fatalf("new key after reloading the old config = %d, want 401", code)
		}
		if code, body := whoAmI(demo.TenantKeyPrefix + "3"); code != 200 || !strings.Contains(body, `"tenant":"tenant-3"`) {
			t.Fatalf("tenant-3 after reloading the old config = %d %s", code, body)
		}
	}

	// Invalid reloads keep the running configuration (the added one).
	if err := e.gw.Reload(load(added)); err != nil {
		t.Fatal(err)
	}
	badManifest := withAuth(base, base.Tenants, base.Auth.APIKeys)
	badManifest.Limits.PersistedQueries.Manifest = "/does/not/exist.json"
	movedServer := withAuth(base, base.Tenants, base.Auth.APIKeys)
	movedServer.Servers = slices.Clone(base.Servers)
	movedServer.Servers[0].URL = "http://127.0.0.1:1"
	for name, l := range map[string]func() (*config.Config, error){
		"unreadable file": func() (*config.Config, error) {
			return nil, errors.New("parse YAML: line 3: mapping values are not allowed")
		},
		"missing manifest": load(badManifest),
		"servers changed":  load(movedServer),
	} {
		if err := e.gw.Reload(l); err == nil {
			t.Errorf("%s: reload accepted", name)
		}
		if code, _ := whoAmI(newKey); code != 200 {
			t.Errorf("%s: the running configuration was dropped (new key = %d)", name, code)
		}
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 || served == 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %s", len(failures), served, failures[0])
	}
	if !strings.Contains(e.logs.String(), "configuration reload refused") {
		t.Error("invalid reload not logged")
	}
	_, m := e.get("/metrics", map[string]string{"Authorization": "Bearer " + demo.AdminKey})
	for _, want := range []string{`vbo_gateway_config_reloads_total{outcome="invalid"} 3`, `vbo_gateway_config_reloads_total{outcome="ok"} 7`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The operational metrics: GraphQL requests by operation and outcome, upstream latency by
// server, templated route and status class, token requests, health-probe outcomes.
func TestOperationalMetrics(t *testing.T) {
	t.Parallel()
	e := startOps(t, opsOpts{sim: func(name string, o *vbosim.Options) { o.Faults.Down = name == "akl1" }})
	e.gw.Health.ProbeAll(t.Context())
	admin := map[string]string{"Authorization": "Bearer " + demo.AdminKey}
	e.post(`query Dash { restoreSessions(first: 2) { edges { node { events(first: 1) { edges { node { type } } } } } } }`, admin)
	e.post(`query Dash { servers { name } }`, admin)
	e.post(`query Broken { nope }`, admin)
	_, m := e.get("/metrics", admin)
	for _, want := range []string{
		`vbo_gateway_graphql_requests_total{operation="Dash",outcome="partial"} 1`, // akl1 is down
		`vbo_gateway_graphql_requests_total{operation="Dash",outcome="ok"} 1`,
		`vbo_gateway_graphql_requests_total{operation="Broken",outcome="rejected"} 1`,
		`vbo_gateway_upstream_request_duration_seconds_count{route="/v6/RestoreSessions/{id}/Events",server="syd1",status_class="2xx"}`,
		`vbo_gateway_upstream_request_duration_seconds_count{route="/v6/token",server="akl1",status_class="5xx"}`,
		`vbo_gateway_upstream_token_requests_total{outcome="ok",server="syd1"}`,
		`vbo_gateway_upstream_token_requests_total{outcome="error",server="akl1"}`,
		`vbo_gateway_health_probes_total{outcome="ok",server="mel1"} 1`,
		`vbo_gateway_upstream_health{server="akl1"} 2`,
		`vbo_gateway_upstream_health{server="syd1"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "RestoreSessions/0") || strings.Contains(m, "RestoreSessions/1") {
		t.Error("a raw id in a metric label")
	}
}
