package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// testCursorSecret seals the test gateways' cursors; testCursors crafts and opens them.
const testCursorSecret = "a test secret that seals cursors, 32+ bytes"

var testCursors = func() *gid.Cursors {
	c, err := gid.NewCursors([]byte(testCursorSecret))
	if err != nil {
		panic(err)
	}
	return c
}()

// fixedNow anchors every simulator's generated data, so runs are reproducible.
var fixedNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// harness is three simulators behind one gateway, queried in-process.
type harness struct {
	t     testing.TB
	fleet *demo.Fleet
	gw    *app.Gateway
	c     *client.Client

	recMu    sync.Mutex
	recorded map[string][]url.Values // server -> query strings of GET /vN/RestoreSessions
}

type harnessOpts struct {
	orgs, sessions int
	sim            func(name string, o *vbosim.Options)
	tune           func(*config.Config)
	// record puts a recording proxy in front of every simulator (see harness.listings).
	record bool
}

func startHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if o.orgs == 0 {
		o.orgs = 6
	}
	if o.sessions == 0 {
		o.sessions = 120
	}
	fleet, err := demo.Start(demo.Options{Orgs: o.orgs, Sessions: o.sessions, Now: fixedNow, Sim: o.sim})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(fleet.Close)
	fleet.Config = fleet.Config.WithCursorSecret([]byte(testCursorSecret))
	h := &harness{t: t, fleet: fleet, recorded: map[string][]url.Values{}}
	if o.record {
		for i := range fleet.Config.Servers {
			name := fleet.Config.Servers[i].Name
			sim := fleet.Sims[name]
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.EqualFold(r.URL.Path, "/"+sim.APIVersion()+"/RestoreSessions") {
					h.recMu.Lock()
					h.recorded[name] = append(h.recorded[name], r.URL.Query())
					h.recMu.Unlock()
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(ts.Close)
			fleet.Config.Servers[i].URL = ts.URL
		}
	}
	// These tests check data and upstream calls, not the query cost limits (tested elsewhere):
	// the mapping query asks for every event of many sessions.
	fleet.Config.Limits.MaxUpstreamCalls, fleet.Config.Limits.MaxResponseObjects = 1<<30, 1<<40
	// Nor latency: the large walks, run in parallel (and under -race) on a shared 2-core machine,
	// can pass the 15 s default deadline.
	fleet.Config.Resilience.RequestTimeout = 90 * time.Second
	adminOnly(fleet.Config)
	if o.tune != nil {
		o.tune(fleet.Config)
	}
	gw, err := runGateway(t, t.Context(), fleet.Config, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	gw.Handler = asAdmin(gw.Handler)
	h.gw, h.c = gw, client.New(gw.Handler, client.Path("/graphql"))
	return h
}

// listings returns the query strings of the session listing calls a server received (only
// with harnessOpts.record) and forgets them.
func (h *harness) listings(server string) []url.Values {
	h.recMu.Lock()
	defer h.recMu.Unlock()
	out := h.recorded[server]
	delete(h.recorded, server)
	return out
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string { s, _ := e.Extensions["code"].(string); return s }

// query runs a query and returns the raw data and the errors.
func (h *harness) query(q string, vars map[string]any) (json.RawMessage, []gqlError) {
	h.t.Helper()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := h.c.RawPost(q, opts...)
	if err != nil {
		h.t.Fatalf("post: %v", err)
	}
	data, err := json.Marshal(resp.Data)
	if err != nil {
		h.t.Fatalf("marshal data: %v", err)
	}
	var errs []gqlError
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			h.t.Fatalf("errors: %v: %s", err, resp.Errors)
		}
	}
	return data, errs
}

// mustQuery runs a query that must succeed without errors and decodes its data into out.
func (h *harness) mustQuery(q string, vars map[string]any, out any) {
	h.t.Helper()
	data, errs := h.query(q, vars)
	if len(errs) > 0 {
		h.t.Fatalf("unexpected errors: %+v\nquery: %s", errs, q)
	}
	if err := json.Unmarshal(data, out); err != nil {
		h.t.Fatalf("decode: %v: %s", err, data)
	}
}

func (h *harness) sim(name string) *vbosim.Server { return h.fleet.Sims[name] }

func (h *harness) resetStats() {
	for _, s := range h.fleet.Sims {
		s.ResetStats()
	}
}

// calls returns a simulator's counter for a route template without the version, e.g.
// "GET /RestoreSessions".
func (h *harness) calls(server, route string) int {
	s := h.sim(server)
	method, path, _ := strings.Cut(route, " ")
	return s.Calls(method + " /" + s.APIVersion() + path)
}

const (
	routeToken    = "POST /token"
	routeOrgs     = "GET /Organizations"
	routeSessions = "GET /RestoreSessions"
	routeSession  = "GET /RestoreSessions/{restoreSessionId}"
	routeEvents   = "GET /RestoreSessions/{restoreSessionId}/Events"
	routeEvent    = "GET /RestoreSessions/{restoreSessionId}/Events/{eventId}"
)

// simSession is a simulator session with its server.
type simSession struct {
	Server string
	S      upstream.RestoreSession
}

// allSessions returns every session of every simulator, newest first (ties in server display
// order, then upstream order), as the gateway's merge should order them.
func (h *harness) allSessions() []simSession {
	var out []simSession
	for _, name := range demo.Names {
		for _, s := range h.sim(name).Sessions() {
			out = append(out, simSession{name, s})
		}
	}
	slices.SortStableFunc(out, func(a, b simSession) int { return b.S.CreationTime.Compare(a.S.CreationTime) })
	return out
}

// Expected mappings, written independently of graph/model.
var (
	wantSessionType = map[upstream.RestoreSessionType]string{
		"Vex": "EXCHANGE", "Veod": "ONEDRIVE", "Vesp": "SHAREPOINT", "Vet": "TEAMS"}
	wantSessionState  = map[upstream.RestoreSessionState]string{"Working": "WORKING", "Stopped": "STOPPED"}
	wantSessionResult = map[upstream.RestoreSessionResult]string{
		"Success": "SUCCESS", "Warning": "WARNING", "Failed": "FAILED"}
	wantEventType = map[upstream.RestoreEventType]string{"None": "NONE", "Save": "SAVE", "Export": "EXPORT",
		"Send": "SEND", "Restore": "RESTORE", "View": "VIEW"}
	wantEventStatus = map[upstream.RestoreEventStatus]string{"Running": "RUNNING", "Success": "SUCCESS",
		"Warning": "WARNING", "Failed": "FAILED", "Cancelled": "CANCELLED", "Skipped": "SKIPPED"}
	wantOrgType = map[upstream.OrganizationType]string{"Office365": "OFFICE365", "OnPremises": "ON_PREMISES",
		"Hybrid": "HYBRID"}
)

func mapped[K comparable](m map[K]string, k K) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "UNKNOWN"
}

// rfc is how the gateway must print a time: UTC RFC 3339.
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func rfcPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc(*t)
	return &s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func show[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// Decoded GraphQL shapes used by several tests.
type pageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

type sessionNode struct {
	ID           string  `json:"id"`
	UpstreamID   string  `json:"upstreamId"`
	Name         string  `json:"name"`
	Type         string  `json:"type"`
	State        string  `json:"state"`
	Result       string  `json:"result"`
	StartTime    string  `json:"startTime"`
	EndTime      *string `json:"endTime"`
	InitiatedBy  *string `json:"initiatedBy"`
	Reason       *string `json:"reason"`
	Details      *string `json:"details"`
	ScopeName    *string `json:"scopeName"`
	Organization struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Detached bool   `json:"detached"`
		Server   struct {
			Name string `json:"name"`
		} `json:"server"`
	} `json:"organization"`
	ClientHost *struct {
		Raw         string  `json:"raw"`
		MachineName *string `json:"machineName"`
		ViaAddress  *string `json:"viaAddress"`
	} `json:"clientHost"`
}

type sessionConn struct {
	TotalCount *int `json:"totalCount"`
	Edges      []struct {
		Cursor string      `json:"cursor"`
		Node   sessionNode `json:"node"`
	} `json:"edges"`
	PageInfo pageInfo `json:"pageInfo"`
}

// walkMerged pages Query.restoreSessions to the end with the given page size and filter.
func (h *harness) walkMerged(first int, filter map[string]any) []sessionNode {
	h.t.Helper()
	const q = `query($first: Int, $after: String, $filter: RestoreSessionFilter) {
	  restoreSessions(first: $first, after: $after, filter: $filter) {
	    edges { cursor node { id upstreamId startTime type state result initiatedBy
	      clientHost { raw machineName } organization { name server { name } } } }
	    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
	  }
	}`
	var out []sessionNode
	var after any
	for page := 0; ; page++ {
		if page > 10000 {
			h.t.Fatal("walk does not end")
		}
		var resp struct {
			RestoreSessions sessionConn `json:"restoreSessions"`
		}
		vars := map[string]any{"first": first, "after": after}
		if filter != nil {
			vars["filter"] = filter
		}
		h.mustQuery(q, vars, &resp)
		c := resp.RestoreSessions
		if c.PageInfo.HasPreviousPage != (page > 0) {
			h.t.Fatalf("page %d: hasPreviousPage = %v", page, c.PageInfo.HasPreviousPage)
		}
		if len(c.Edges) > first {
			h.t.Fatalf("page %d: %d edges for first %d", page, len(c.Edges), first)
		}
		if c.PageInfo.HasNextPage && len(c.Edges) != first {
			h.t.Fatalf("page %d: short page (%d of %d) but hasNextPage", page, len(c.Edges), first)
		}
		for i, e := range c.Edges {
			out = append(out, e.Node)
			if i == len(c.Edges)-1 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != e.Cursor) {
				h.t.Fatalf("page %d: endCursor %v != last edge cursor %q", page, show(c.PageInfo.EndCursor), e.Cursor)
			}
		}
		if !c.PageInfo.HasNextPage {
			return out
		}
		after = *c.PageInfo.EndCursor
	}
}

// waitFor polls cond until it holds, and fails the test if it still does not after within.
// The pause between polls grows from 5 ms to 50 ms, so a long wait (cond often runs a query)
// does not load the machine the parallel tests share. what, formatted with fmt.Sprint when the
// test fails (so a lazy value shows the last state), says what was awaited. Call it from the
// test's goroutine: cond may call t.Fatal.
func waitFor(t testing.TB, within time.Duration, cond func() bool, what ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			if len(what) == 0 {
				what = []any{"the condition"}
			}
			t.Fatalf("timed out after %v waiting for %s", within, fmt.Sprint(what...))
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// lazy is a failure message computed when printed: waitFor(t, d, cond, "x: ", lazy(last)).
type lazy func() string

func (f lazy) String() string { return f() }

// base64URL encodes text as IDs and cursors are encoded, to forge plausible-looking ones.
func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// asAdmin sends requests that carry no credentials with the demo admin key: these tests check
// data, calls and limits as a provider admin (isolation_test.go checks who sees what).
func asAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.Header.Get("X-API-Key") == "" {
			r.Header.Set("Authorization", "Bearer "+demo.AdminKey)
		}
		h.ServeHTTP(w, r)
	})
}

// adminOnly drops the demo tenants and their keys: the tests that count upstream calls act as
// a provider admin, and resolving tenants' organisations at start-up would add calls.
func adminOnly(cfg *config.Config) {
	cfg.Tenants = nil
	cfg.Auth.APIKeys = []config.APIKey{{Name: "demo-admin", SHA256: demo.KeySHA256(demo.AdminKey), Role: "PROVIDER_ADMIN"}}
}

// runGateway builds a gateway (app.New) and runs its background work (Run) until the test
// ends, when it closes it and checks that Run stopped cleanly.
func runGateway(tb testing.TB, ctx context.Context, cfg *config.Config, opts app.Options) (*app.Gateway, error) {
	tb.Helper()
	gw, err := app.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	ran := make(chan error, 1)
	go func() { ran <- gw.Run(ctx) }()
	tb.Cleanup(func() {
		gw.Close()
		if err := <-ran; err != nil && !errors.Is(err, app.ErrClosed) { // a test may end before Run starts
			tb.Errorf("app.Run: %v", err)
		}
	})
	return gw, nil
}
