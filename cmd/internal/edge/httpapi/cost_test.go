package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// countingUpstream is stubUpstream counting every call it answers.
type countingUpstream struct {
	stubUpstream
	n *atomic.Int64
}

func (u countingUpstream) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	u.n.Add(1)
	return u.stubUpstream.Organizations(ctx)
}

func (u countingUpstream) RestoreSessions(ctx context.Context, o upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	u.n.Add(1)
	return u.stubUpstream.RestoreSessions(ctx, o)
}

func (u countingUpstream) RestoreSessionEvents(ctx context.Context, id string, o upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	u.n.Add(1)
	return u.stubUpstream.RestoreSessionEvents(ctx, id, o)
}

type costRig struct {
	h     http.Handler
	calls *atomic.Int64
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newCostRig is one stub server behind a handler; who says whether the caller is the admin
// ("admin") or a tenant seeing one organisation ("tenant").
func newCostRig(t testing.TB, lim config.Limits) *costRig {
	t.Helper()
	calls := &atomic.Int64{}
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: countingUpstream{n: calls}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	h := newHandler(t, httpapi.Options{Backend: b, Limits: lim, Logger: slog.New(slog.NewTextHandler(logs, nil)), Introspection: true,
		KnownOrganizations: func(string) (int, bool) { return 2, true },
		Authenticate: func(r *http.Request) (*auth.Principal, error) {
			if r.Header.Get("Authorization") == "tenant" {
				return auth.NewTenantAuditor("t", "t1", []auth.OrgRef{{Server: "s1", OrgID: "o1"}}), nil
			}
			return auth.NewAdmin("admin"), nil
		}})
	return &costRig{h: h, calls: calls, logs: logs}
}

type costResp struct {
	status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost struct {
			Estimated *struct{ UpstreamCalls, ResponseObjects int64 } `json:"estimated"`
			Actual    struct{ UpstreamCalls int64 }                   `json:"actual"`
			Limits    *struct{ UpstreamCalls, ResponseObjects int64 } `json:"limits"`
			Result    string                                          `json:"result"`
			Mode      string                                          `json:"mode"`
		} `json:"cost"`
	} `json:"extensions"`
}

func (r *costRig) post(t testing.TB, who, query string, vars map[string]any) costResp {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", who)
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	var out costResp
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("HTTP %d: %v: %s", w.Code, err, w.Body)
	}
	out.status = w.Code
	return out
}

// Every response says what the query was estimated to cost and what it cost.
func TestCostExtensionOnEveryResponse(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	resp := r.post(t, "admin", `{ organizations { edges { node { name restoreSessions(first: 2) { edges { node { events(first: 3) { edges { node { type } } } } } } } } } }`, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	c := resp.Extensions.Cost
	// Objects: the connection, 2 × (edge, organisation, sessions connection), 2 × 2 × (edge,
	// session, events connection), 2 × 2 × 3 × (edge, event).
	if c.Estimated == nil || c.Estimated.ResponseObjects != 1+2*3+2*2*3+2*2*3*2 || c.Result != "COST_OK" || c.Mode != "enforce" {
		t.Fatalf("extensions.cost = %+v", c)
	}
	if c.Limits == nil || c.Limits.UpstreamCalls != config.DefaultMaxUpstreamCalls || c.Limits.ResponseObjects != config.DefaultMaxResponseObjects {
		t.Errorf("limits = %+v", c.Limits)
	}
	// The stub's calls do not go through upstream.Client (which counts), so actual is 0 here;
	// the end-to-end tests (cmd/internal/app) check actual against the simulators.
	if c.Actual.UpstreamCalls != 0 || c.Estimated.UpstreamCalls < r.calls.Load() {
		t.Errorf("estimated %d calls, actual reported %d, stub saw %d", c.Estimated.UpstreamCalls, c.Actual.UpstreamCalls, r.calls.Load())
	}
	// A query that does not validate has no estimate, but still the report.
	resp = r.post(t, "admin", `{ nope }`, nil)
	if len(resp.Errors) != 1 || resp.Extensions.Cost.Estimated != nil || resp.Extensions.Cost.Mode != "enforce" {
		t.Errorf("invalid query: errors %+v cost %+v", resp.Errors, resp.Extensions.Cost)
	}
}

func TestCostRefusalNamesTheFieldAndMakesNoCall(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	cases := []struct {
		name, who, query string
		limit, field     string
		advice           string // extensions.advice, and the message's when it names no value
		lowerTo          string // the message's value to lower to (issue 23), "" when none fits
	}{
		{"500 x 500 x 500", "admin",
			`{ organizations(first: 500) { edges { node { restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { type } } } } } } } } } }`,
			"maxResponseObjects", "RestoreSession.events", "lower `first` on RestoreSession.events (500), Organization.restoreSessions (500) or Query.organizations (2)",
			"lower `first` on RestoreSession.events to about 123"}, // 123 x 500 x 2 + 3,007 < 250,000
		{"viewer list x 500 x 500", "tenant",
			`{ viewer { organizations { restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { type } } } } } } } } }`,
			"maxResponseObjects", "RestoreSession.events", "lower `first` on RestoreSession.events (500) or Organization.restoreSessions (500)",
			"lower `first` on RestoreSession.events to about 48"}, // 48 x 500 x 2 + 1,503 < 50,000
		{"event -> session -> events", "admin",
			`{ restoreSessions { edges { node { events { edges { node { session { events { edges { node { type } } } } } } } } } } }`,
			"maxUpstreamCalls", "RestoreSession.events", "lower `first` on RestoreSession.events (50) or Query.restoreSessions (50)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.calls.Load()
			resp := r.post(t, tc.who, tc.query, nil)
			if len(resp.Errors) != 1 || string(resp.Data) != "null" && len(resp.Data) != 0 {
				t.Fatalf("errors %+v data %s", resp.Errors, resp.Data)
			}
			e := resp.Errors[0]
			if e.Extensions["code"] != "QUERY_TOO_COMPLEX" || e.Extensions["limit"] != tc.limit || e.Extensions["field"] != tc.field {
				t.Errorf("extensions = %v", e.Extensions)
			}
			want := tc.lowerTo
			if want == "" {
				want = tc.advice
			}
			if !strings.Contains(e.Message, tc.field) || !strings.Contains(e.Message, want) || e.Extensions["advice"] != tc.advice {
				t.Errorf("message %q (advice %q) does not name %s and %q, with advice %q", e.Message, e.Extensions["advice"], tc.field, want, tc.advice)
			}
			if n := r.calls.Load() - before; n != 0 {
				t.Errorf("%d upstream calls, want 0", n)
			}
			if c := resp.Extensions.Cost; c.Result != "COST_ESTIMATED_TOO_EXPENSIVE" || c.Estimated == nil {
				t.Errorf("extensions.cost = %+v", c)
			}
		})
	}
}

// Tenants get less than provider admins by default, and each role can be given its own.
func TestCostLimitsPerRole(t *testing.T) {
	// 50 sessions × 20 events each: 50 events calls + the listing; within the admin's 2,500,
	// over a tenant's 40.
	q := `{ restoreSessions { edges { node { events(first: 20) { edges { node { type } } } } } } }`
	lim := config.Limits{Roles: map[string]config.RoleLimits{config.RoleTenantAuditor: {MaxUpstreamCalls: 40}}}.WithDefaults()
	r := newCostRig(t, lim)
	if resp := r.post(t, "admin", q, nil); len(resp.Errors) != 0 {
		t.Fatalf("admin: %+v", resp.Errors)
	}
	resp := r.post(t, "tenant", q, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["limit"] != "maxUpstreamCalls" ||
		!strings.Contains(resp.Errors[0].Message, "of 40 for TENANT_AUDITOR") {
		t.Fatalf("tenant: %+v", resp.Errors)
	}
	if c := resp.Extensions.Cost.Limits; c == nil || c.UpstreamCalls != 40 || c.ResponseObjects != config.DefaultTenantResponseObjects {
		t.Errorf("tenant limits = %+v", c)
	}
}

// Measure mode reports and logs what enforce would refuse, and runs the query.
func TestCostMeasureMode(t *testing.T) {
	r := newCostRig(t, config.Limits{CostMode: config.CostMeasure, MaxResponseObjects: 3}.WithDefaults())
	resp := r.post(t, "admin", `{ organizations { edges { node { name } } } }`, nil)
	if len(resp.Errors) != 0 || !strings.Contains(string(resp.Data), "Org One") {
		t.Fatalf("measure mode refused or failed: %+v %s", resp.Errors, resp.Data)
	}
	if c := resp.Extensions.Cost; c.Result != "COST_ESTIMATED_TOO_EXPENSIVE" || c.Mode != "measure" {
		t.Errorf("extensions.cost = %+v", c)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "measure mode: not refused") || !strings.Contains(logs, "maxResponseObjects") {
		t.Errorf("logs = %s", logs)
	}
}

func fanout(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ viewer { ...L%d } } fragment L0 on Viewer { tenant }", n-1)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, " fragment L%d on Viewer { ...L%d ...L%d }", i, i-1, i-1)
	}
	return b.String()
}

func medianOf(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// The document attacks are refused before validation, in milliseconds, naming the field.
func TestDocumentFloodsRefusedFast(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	typenames := "{ " + strings.Repeat("__typename ", 4998) + "}" // 55 KB, 4,998 tokens: within maxTokens
	if len(typenames) < 54_000 {
		t.Fatalf("flood is %d bytes", len(typenames))
	}
	// The fan-outs are answered in under 100 ms (the bound). The 55 KB flood is lexed
	// and parsed whole before its selections are counted: about 10 ms of CPU (see
	// BenchmarkRefuseTypenameFlood); 250 ms of wall time leaves room for a loaded machine.
	cases := []struct {
		name, query, field string
		within             time.Duration
	}{
		{"fan-out 2^20", fanout(21), "tenant", 100 * time.Millisecond},
		{"fan-out 2^30", fanout(31), "tenant", 100 * time.Millisecond},
		{"fan-out 2^40", fanout(41), "tenant", 100 * time.Millisecond},
		{"55 KB of __typename", typenames, "__typename", 250 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var took []time.Duration
			for i := range 5 {
				// A new variant each time: a cached query text would skip the work.
				q := tc.query + strings.Repeat(" ", i)
				start := time.Now()
				resp := r.post(t, "admin", q, nil)
				took = append(took, time.Since(start))
				if len(resp.Errors) != 1 || resp.Errors[0].Extensions["limit"] != "maxSelections" || resp.Errors[0].Extensions["field"] != tc.field {
					t.Fatalf("errors = %+v", resp.Errors)
				}
			}
			if m := medianOf(took); m > tc.within {
				t.Errorf("median %v, want under %v", m, tc.within)
			}
		})
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls", n)
	}
}

// GraphiQL's introspection query and the gateway's own example operations fit the limits.
func TestIntrospectionWithinLimits(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	resp := r.post(t, "admin", introspection.Query, nil)
	if len(resp.Errors) != 0 || !strings.Contains(string(resp.Data), "RestoreSession") {
		t.Fatalf("introspection: %+v", resp.Errors)
	}
	if c := resp.Extensions.Cost; c.Estimated == nil || c.Estimated.UpstreamCalls != 0 {
		t.Errorf("introspection cost = %+v", c)
	}
}

// BenchmarkRefuseTypenameFlood is the CPU the 55 KB __typename flood costs (each variant
// defeats the query cache): lexing, the gateway's own parse and walk, then the refusal.
func BenchmarkRefuseTypenameFlood(b *testing.B) {
	r := newCostRig(b, config.Limits{}.WithDefaults())
	q := "{ " + strings.Repeat("__typename ", 4998) + "}"
	i := 0
	for b.Loop() {
		i++
		resp := r.post(b, "admin", q+strings.Repeat(" ", i%1000), nil)
		if len(resp.Errors) != 1 {
			b.Fatal(resp.Errors)
		}
	}
}

// spreads is `n` fragments on typ, each selecting field, spread side by side in one set.
func spreads(prefix, typ, field string, n int) (spread, defs string) {
	var sp, df strings.Builder
	for i := range n {
		fmt.Fprintf(&sp, "...%s%d ", prefix, i)
		fmt.Fprintf(&df, " fragment %s%d on %s { %s }", prefix, i, typ, field)
	}
	return sp.String(), df.String()
}

// A selection set that repeats a response key or spreads many fragments is refused before
// validation, naming the field: gqlparser compares those pairwise.
func TestCrowdedSelectionSetRefused(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	sp, defs := spreads("F", "Query", "__typename", 65)
	for name, tc := range map[string]struct{ query, field string }{
		"17 repeats of one field":               {"{ viewer { " + strings.Repeat("tenant ", 17) + "} }", "tenant"},
		"17 repeats through an inline fragment": {"{ viewer { ... on Viewer { " + strings.Repeat("tenant ", 9) + "} " + strings.Repeat("tenant ", 8) + "} }", "tenant"},
		"65 fragments in one set":               {"{ " + sp + "}" + defs, ""},
	} {
		t.Run(name, func(t *testing.T) {
			resp := r.post(t, "admin", tc.query, nil)
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["limit"] != "selectionSet" || tc.field != "" && resp.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("errors = %+v", resp.Errors)
			}
		})
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls", n)
	}
}

// worstAcceptedDocuments are the worst documents the selection bounds still admit: the bounds
// (500 selections; per set, 16 of one response key and 64 fragments) are what keep gqlparser's
// pairwise comparisons from growing with the square of a query's size.
func worstAcceptedDocuments() map[string]string {
	qsp, qdefs := spreads("Q", "Query", "__typename", 64)
	vsp, vdefs := spreads("V", "Viewer", "tenant", 64)
	return map[string]string{
		"14 x 16 repeats, nested":                "{ " + strings.Repeat("viewer { "+strings.Repeat("tenant ", 16)+strings.Repeat("subject ", 16)+"} ", 14) + "}",
		"64 fragments side by side, in two sets": "{ " + qsp + " viewer { " + vsp + "} }" + qdefs + vdefs,
	}
}

// The worst documents the bounds admit are accepted (their validation time is
// BenchmarkWorstAcceptedDocuments': a timed assertion failed on a loaded CI machine).
func TestWorstAcceptedDocumentsAccepted(t *testing.T) {
	r := newCostRig(t, config.Limits{}.WithDefaults())
	for name, q := range worstAcceptedDocuments() {
		t.Run(name, func(t *testing.T) {
			if resp := r.post(t, "admin", q, nil); len(resp.Errors) != 0 {
				t.Fatalf("refused: %+v", resp.Errors)
			}
		})
	}
}

// BenchmarkWorstAcceptedDocuments: parse, validate and run the worst admitted documents
// (each iteration a distinct document, so no parsed-query cache helps).
//
//	go test ./cmd/internal/edge/httpapi/ -run '^$' -bench WorstAcceptedDocuments -benchtime 20x
func BenchmarkWorstAcceptedDocuments(b *testing.B) {
	r := newCostRig(b, config.Limits{}.WithDefaults())
	for name, q := range worstAcceptedDocuments() {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if resp := r.post(b, "admin", q+strings.Repeat(" ", i%512), nil); len(resp.Errors) != 0 {
					b.Fatalf("refused: %+v", resp.Errors)
				}
			}
		})
	}
}
