package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// limitCase is a query the limits must refuse before any upstream call.
type limitCase struct {
	name   string
	query  string
	vars   map[string]any
	status int
	code   string
	msg    string // substring naming the limit
}

func nested(depth int) string {
	// organizations > edges > node > restoreSessions > edges > node > organization > restoreSessions ...
	var b strings.Builder
	b.WriteString("{ organizations { edges { node { ")
	d := 3
	for d < depth {
		b.WriteString("restoreSessions { edges { node { organization { ")
		d += 4
	}
	b.WriteString("name")
	for i := 3; i < d; i += 4 {
		b.WriteString(" } } } }")
	}
	b.WriteString(" } } } }")
	return b.String()
}

func TestQueryLimitsRejectBeforeUpstream(t *testing.T) {
	// Serial: asserts each refusal takes under 2 s.
	r := newRig(t, rigOpts{})
	aliases := make([]string, 1000)
	for i := range aliases {
		aliases[i] = fmt.Sprintf("a%d: __typename", i)
	}
	cases := []limitCase{
		{"depth 30", nested(30), nil, 200, "QUERY_TOO_COMPLEX", "maxDepth"},
		{"1000 aliases", "{ " + strings.Join(aliases, " ") + " }", nil, 200, "QUERY_TOO_COMPLEX", "maxAliases"},
		{"first 100000", `{ organizations { edges { node { restoreSessions(first: 100000) { totalCount } } } } }`, nil, 200, "BAD_USER_INPUT", "maxFirst"},
		{"first 100000 variable", `query($n: Int) { restoreSessions(first: $n) { totalCount } }`, map[string]any{"n": 100000}, 200, "BAD_USER_INPUT", "maxFirst"},
		{"complexity bomb", `{ organizations(first: 500) { edges { node { restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { type } } } } } } } } } }`, nil, 200, "QUERY_TOO_COMPLEX", "maxResponseObjects"},
		{"directive flood (CVE-2023-49559)", "{ __typename " + strings.Repeat("@include(if: true) ", 60) + "}", nil, 200, "QUERY_TOO_COMPLEX", "maxDirectives"},
		{"directive flood past the token limit", "{ __typename " + strings.Repeat("@a", 20000) + " }", nil, 200, "QUERY_TOO_COMPLEX", "maxTokens"},
		{"recursive fragments (gqlparser #173)", `query { organizations { edges { node { ...F } } } }
fragment F on Organization { name restoreSessions { edges { node { organization { ...F restoreSessions { edges { node { organization { ...F } } } } } } } } }`, nil, 200, "BAD_USER_INPUT", "spreads itself"},
		{"mutual fragment cycle", `{ organizations { edges { node { ...A } } } } fragment A on Organization { server { ...B } } fragment B on VboServer { organizations { edges { node { ...A } } } }`, nil, 200, "BAD_USER_INPUT", "spreads itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.resetStats()
			start := time.Now()
			resp := r.post(tc.query, tc.vars)
			if resp.status != tc.status {
				t.Errorf("HTTP %d, want %d", resp.status, tc.status)
			}
			if len(resp.Errors) != 1 || resp.Errors[0].code() != tc.code || !strings.Contains(resp.Errors[0].Message, tc.msg) {
				t.Fatalf("errors = %+v, want one %s naming %q", resp.Errors, tc.code, tc.msg)
			}
			if string(resp.Data) != "null" && len(resp.Data) != 0 {
				t.Errorf("data = %s, want null", resp.Data)
			}
			if n := r.totalCalls(); n != 0 {
				t.Errorf("%d upstream calls, want 0", n)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
	// A legitimate query close to the limits passes.
	resp := r.post(`{ organizations(first: 3) { edges { node { restoreSessions(first: 2) { edges { node { organization { restoreSessions(first: 2) { edges { node { organization { name } } } } } } } } } } } }`, nil) // depth exactly 12
	if len(resp.Errors) != 0 {
		t.Errorf("depth-12 query: %+v", resp.Errors)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	r.resetStats()
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 5<<20) + `"}}`
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/json")
	resp := r.do(req)
	if resp.status != http.StatusRequestEntityTooLarge || len(resp.Errors) != 1 || resp.Errors[0].code() != "BAD_USER_INPUT" ||
		!strings.Contains(resp.Errors[0].Message, "maxBodyBytes") {
		t.Fatalf("HTTP %d %+v, want 413 BAD_USER_INPUT naming maxBodyBytes", resp.status, resp.Errors)
	}
	// Same without Content-Length (chunked).
	req = httptest.NewRequest(http.MethodPost, "/graphql", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	if resp := r.do(req); resp.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: HTTP %d, want 413", resp.status)
	}
	if n := r.totalCalls(); n != 0 {
		t.Errorf("%d upstream calls, want 0", n)
	}
}

func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	t.Parallel()
	off := false
	r := newRig(t, rigOpts{tune: func(c *config.Config) { c.Introspection = &off }})
	resp := r.post(`{ organizationz { totalCount } }`, nil)
	if len(resp.Errors) == 0 || strings.Contains(resp.Errors[0].Message, "Did you mean") {
		t.Errorf("errors = %+v, want no suggestion", resp.Errors)
	}
	on := newRig(t, rigOpts{})
	resp = on.post(`{ organizationz { totalCount } }`, nil)
	if len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "Did you mean") {
		t.Errorf("with introspection on, errors = %+v, want a suggestion", resp.Errors)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	q := url.Values{"query": {"{ __typename }"}}.Encode()
	cases := []struct {
		name, method, ct, body string
		hdr                    map[string]string
		want                   int
	}{
		{"GET without preflight header", "GET", "", "", nil, 400},
		{"GET with X-Requested-With", "GET", "", "", map[string]string{"X-Requested-With": "XMLHttpRequest"}, 200},
		{"GET with apollo-require-preflight", "GET", "", "", map[string]string{"apollo-require-preflight": "true"}, 200},
		{"GET with empty header", "GET", "", "", map[string]string{"GraphQL-Preflight": " "}, 400},
		{"text/plain POST", "POST", "text/plain", `{"query":"{ __typename }"}`, nil, 400},
		{"form POST", "POST", "application/x-www-form-urlencoded", q, nil, 400},
		{"multipart POST", "POST", "multipart/form-data; boundary=x", "--x--", nil, 400},
		{"no content type", "POST", "", `{"query":"{ __typename }"}`, nil, 400},
		{"JSON POST", "POST", "application/json", `{"query":"{ __typename }"}`, nil, 200},
		{"text/plain with GraphQL-Preflight", "POST", "text/plain", `{"query":"{ __typename }"}`, map[string]string{"GraphQL-Preflight": "1"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := "/graphql"
			if tc.method == "GET" {
				target += "?" + q
			}
			req := httptest.NewRequest(tc.method, target, strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			r.gw.Handler.ServeHTTP(w, req)
			// text/plain with a preflight header passes CSRF; gqlgen has no text/plain transport.
			if tc.want == 200 && tc.ct == "text/plain" {
				if w.Code == 400 && strings.Contains(w.Body.String(), "forgery") {
					t.Errorf("refused by the CSRF check: %s", w.Body)
				}
				return
			}
			if w.Code != tc.want {
				t.Errorf("HTTP %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{tune: func(c *config.Config) { c.Limits.CORSAllowedOrigins = []string{"https://portal.example.net"} }})
	for origin, allowed := range map[string]bool{"https://portal.example.net": true, "https://evil.example": false} {
		req := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		r.gw.Handler.ServeHTTP(w, req)
		if got := w.Header().Get("Access-Control-Allow-Origin"); (got == origin) != allowed {
			t.Errorf("origin %s: Access-Control-Allow-Origin = %q, allowed %v", origin, got, allowed)
		}
	}
	def := newRig(t, rigOpts{})
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://portal.example.net")
	w := httptest.NewRecorder()
	def.gw.Handler.ServeHTTP(w, req)
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("default config sent Access-Control-Allow-Origin %q, want none", got)
	}
}

func TestRateLimitPerPrincipal(t *testing.T) {
	// Serial: Retry-After 2 holds only if its three requests come within a second.
	r := newRig(t, rigOpts{tune: func(c *config.Config) { c.Limits.RateLimit = config.RateLimit{PerSecond: 0.5, Burst: 2} }})
	for i := range 2 {
		if resp := r.post(`{ __typename }`, nil); resp.status != 200 || len(resp.Errors) != 0 {
			t.Fatalf("request %d: HTTP %d %+v", i, resp.status, resp.Errors)
		}
	}
	resp := r.post(`{ __typename }`, nil)
	if resp.status != http.StatusTooManyRequests || len(resp.Errors) != 1 || resp.Errors[0].code() != "RATE_LIMITED" {
		t.Fatalf("3rd request: HTTP %d %+v, want 429 RATE_LIMITED", resp.status, resp.Errors)
	}
	if ra := resp.header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2", ra)
	}
}

func TestPersistedOnlyMode(t *testing.T) {
	t.Parallel()
	const allowed = `{ servers { name } }`
	sum := sha256.Sum256([]byte(allowed))
	hash := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	manifest := filepath.Join(dir, "pq.json")
	b, _ := json.Marshal(map[string]any{"operations": []map[string]string{{"id": hash, "body": allowed}}})
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{tune: func(c *config.Config) {
		c.Limits.PersistedQueries = config.PersistedQueries{Manifest: manifest, Only: true}
	}})
	send := func(body map[string]any) rigResp {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		return r.do(req)
	}
	pq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	if resp := send(map[string]any{"extensions": pq}); len(resp.Errors) != 0 || !strings.Contains(string(resp.Data), "syd1") {
		t.Errorf("by hash: %s %+v", resp.Data, resp.Errors)
	}
	if resp := send(map[string]any{"query": allowed}); len(resp.Errors) != 0 {
		t.Errorf("listed query text: %+v", resp.Errors)
	}
	if resp := send(map[string]any{"query": `{ servers { name apiVersion } }`}); len(resp.Errors) != 1 || resp.Errors[0].code() != "PERSISTED_QUERY_NOT_IN_LIST" {
		t.Errorf("unlisted query: %+v", resp.Errors)
	}
	other := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if resp := send(map[string]any{"extensions": other}); len(resp.Errors) != 1 || resp.Errors[0].code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("unknown hash: %+v", resp.Errors)
	}
}

func TestInternalErrorsMasked(t *testing.T) {
	t.Parallel()
	// An upstream error body never reaches the client (flapping server answering a 500 whose
	// body names the simulator), and the message carries no upstream text.
	r := newRig(t, rigOpts{})
	r.post(`{ organizations { totalCount } }`, nil)
	r.fleet.Sims["syd1"].SetFaults(vbo500(1))
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ organizations { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	r.gw.Handler.ServeHTTP(w, req)
	if body := w.Body.String(); strings.Contains(body, "vbo-sim") || strings.Contains(body, "injected") || !strings.Contains(body, "UPSTREAM_ERROR") {
		t.Errorf("body = %s", body)
	}
}
