package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// stubUpstream is an in-memory VBO server: two organisations, a few sessions, no events.
type stubUpstream struct{}

func (stubUpstream) Organizations(context.Context) ([]upstream.Organization, error) {
	return []upstream.Organization{{ID: "o1", Name: "Org One"}, {ID: "o2", Name: "Org Two"}}, nil
}

func (stubUpstream) RestoreSessions(_ context.Context, opts upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	if opts.Offset > 0 {
		return &upstream.Page[upstream.RestoreSession]{}, nil, nil
	}
	var out []upstream.RestoreSession
	for i, org := range []string{"Org One", "Org Two", "Org One"} {
		out = append(out, upstream.RestoreSession{ID: "00000000-0000-0000-0000-00000000000" + string(rune('1'+i)),
			Organization: org, InitiatedBy: "ACME\\alice", ClientHost: "host-1 (10.0.0.1)"})
	}
	return &upstream.Page[upstream.RestoreSession]{Results: out}, nil, nil
}

func (stubUpstream) RestoreSession(context.Context, string) (*upstream.RestoreSession, *upstream.Response, error) {
	return nil, nil, &upstream.Error{Server: "s1", StatusCode: 404}
}

func (stubUpstream) RestoreSessionEvents(context.Context, string, upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	return &upstream.Page[upstream.RestoreSessionEvent]{}, nil, nil
}

func (stubUpstream) RestoreSessionEvent(context.Context, string, string) (*upstream.RestoreSessionEvent, *upstream.Response, error) {
	return nil, nil, &upstream.Error{Server: "s1", StatusCode: 404}
}

func stubHandler(t testing.TB, opts httpapi.Options) http.Handler {
	t.Helper()
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: stubUpstream{}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts.Backend = b
	return newHandler(t, opts)
}

// newHandler fills in what every handler needs (an admin authenticator, a logger, the default
// limits and request deadline) where the test left it unset, and builds the handler.
func newHandler(t testing.TB, opts httpapi.Options) http.Handler {
	t.Helper()
	if opts.Authenticate == nil {
		opts.Authenticate = func(*http.Request) (*auth.Principal, error) { return auth.NewAdmin("test"), nil }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Limits = opts.Limits.WithDefaults() // the composition root does this once in the gateway
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = config.DefaultRequestTimeout
	}
	if opts.Cursors == nil {
		opts.Cursors = gid.NewRandomCursors()
	}
	h, err := httpapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewFailsClosed(t *testing.T) {
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: stubUpstream{}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	admin := func(*http.Request) (*auth.Principal, error) { return auth.NewAdmin("test"), nil }
	ok := httpapi.Options{Backend: b, Logger: logger, Authenticate: admin,
		Limits: config.Limits{}.WithDefaults(), RequestTimeout: time.Second, Cursors: gid.NewRandomCursors()}
	if _, err := httpapi.New(ok); err != nil {
		t.Fatalf("complete options refused: %v", err)
	}
	for name, mutate := range map[string]func(*httpapi.Options){
		"no authenticator": func(o *httpapi.Options) { o.Authenticate = nil },
		"no backend":       func(o *httpapi.Options) { o.Backend = nil },
		"no logger":        func(o *httpapi.Options) { o.Logger = nil },
		"no deadline":      func(o *httpapi.Options) { o.RequestTimeout = 0 },
		"no cursor sealer": func(o *httpapi.Options) { o.Cursors = nil },
		"no limits":        func(o *httpapi.Options) { o.Limits = config.Limits{} },
	} {
		o := ok
		mutate(&o)
		if h, err := httpapi.New(o); err == nil || h != nil {
			t.Errorf("%s: New = (%v, %v), want an error and no handler", name, h, err)
		}
	}
}

type gqlResp struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func postJSON(t testing.TB, h http.Handler, query string, vars map[string]any) (*httptest.ResponseRecorder, gqlResp) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var r gqlResp
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("HTTP %d: %v: %s", w.Code, err, w.Body)
	}
	return w, r
}

// A panic in a resolver becomes INTERNAL with the request id; the panic text stays in the log.
func TestPanicMaskedAsInternal(t *testing.T) {
	h := stubHandler(t, httpapi.Options{ServerStatus: func(string) model.ServerStatus { panic("secret panic detail") }})
	w, r := postJSON(t, h, `{ servers { name status } }`, nil)
	id := w.Header().Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INTERNAL" || !strings.Contains(r.Errors[0].Message, id) {
		t.Fatalf("errors = %+v, want one INTERNAL naming request id %s", r.Errors, id)
	}
	if strings.Contains(w.Body.String(), "secret") {
		t.Errorf("panic detail leaked: %s", w.Body)
	}
}

// Errors from one server are reported once per request, however many fields failed.
type failingUpstream struct{ stubUpstream }

func (failingUpstream) RestoreSessions(context.Context, upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error) {
	return nil, nil, &upstream.Error{Server: "s1", StatusCode: 503, Message: "secret body"}
}

func (failingUpstream) RestoreSessionEvents(context.Context, string, upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error) {
	return nil, nil, &upstream.Error{Server: "s1", StatusCode: 503, Message: "secret body"}
}

func TestOneErrorPerFailedServer(t *testing.T) {
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: failingUpstream{}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, httpapi.Options{Backend: b})
	w, r := postJSON(t, h, `{ organizations { edges { node { name restoreSessions(first: 1) { totalCount } } } } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || r.Errors[0].Extensions["server"] != "s1" {
		t.Fatalf("errors = %+v, want one UPSTREAM_UNAVAILABLE for s1 (two organisations failed)", r.Errors)
	}
	if !strings.Contains(string(r.Data), "Org One") || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("body = %s", w.Body)
	}
}

// The request deadline reaches the upstream calls through the context.
type ctxUpstream struct {
	stubUpstream
	deadline chan time.Time
}

func (u ctxUpstream) Organizations(ctx context.Context) ([]upstream.Organization, error) {
	d, _ := ctx.Deadline()
	u.deadline <- d
	<-ctx.Done()
	return nil, &upstream.Error{Server: "s1", Err: ctx.Err()}
}

func TestRequestDeadlinePropagates(t *testing.T) {
	u := ctxUpstream{deadline: make(chan time.Time, 1)}
	b, _ := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: u}}, loaders.Config{ListingTTL: -1})
	h := newHandler(t, httpapi.Options{Backend: b, RequestTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, r := postJSON(t, h, `{ organizations { totalCount } }`, nil)
	d := <-u.deadline
	if d.IsZero() || d.Sub(start) > 300*time.Millisecond {
		t.Errorf("upstream ctx deadline = %v (start %v), want start+200ms", d, start)
	}
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_TIMEOUT" {
		t.Errorf("errors = %+v, want UPSTREAM_TIMEOUT", r.Errors)
	}
}

// FuzzRestoreSessionFilter throws arbitrary filter values at the gateway: every answer is a
// well-formed GraphQL response, and nothing is reported as an internal error.
func FuzzRestoreSessionFilter(f *testing.F) {
	f.Add("ACME\\alice", "host-1", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EXCHANGE", "s1", 5)
	f.Add("", "(10.0.0.1)", "0", "1970-01-01T00:00:00Z", "NOPE", "", -1)
	f.Add("%00\x00", "::1", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "ONEDRIVE", "s1\x00", 501)
	h := stubHandler(f, httpapi.Options{})
	f.Fuzz(func(t *testing.T, initiatedBy, clientHost, from, to, typ, srv string, first int) {
		filter := map[string]any{"initiatedBy": initiatedBy, "clientHost": clientHost,
			"startTimeFrom": from, "startTimeTo": to, "types": []string{typ}, "servers": []string{srv}}
		start := time.Now()
		_, r := postJSON(t, h, `query($f: RestoreSessionFilter, $n: Int) {
			restoreSessions(first: $n, filter: $f) { totalCount edges { node { initiatedBy clientHost { machineName } } } }
			organizations { edges { node { restoreSessions(first: 1, filter: $f) { totalCount } } } } }`,
			map[string]any{"f": filter, "n": first})
		for _, e := range r.Errors {
			if code := e.Extensions["code"]; code == "INTERNAL" || code == nil {
				t.Fatalf("error %q code %v", e.Message, code)
			}
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("took %v", el)
		}
	})
}

// TestEnumVariablesExact: gqlparser lets an enum value through a variable in any letter case;
// the gateway refuses it before execution with BAD_USER_INPUT, for hand-bound enums (the
// session filter's types, inside an input object) and gqlgen-generated ones (restoreAudit's
// groupBy, a list argument) alike, where the generated ones used to answer INTERNAL.
func TestEnumVariablesExact(t *testing.T) {
	h := stubHandler(t, httpapi.Options{})
	const sessions = `query($f: RestoreSessionFilter) { restoreSessions(first: 1, filter: $f) { totalCount } }`
	const audit = `query($g: [RestoreAuditDimension!]!) { restoreAudit(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", groupBy: $g) { rows { sessions } } }`
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		refused     string // the value named in the refusal; "" when accepted
	}{
		{"filter type, exact", sessions, map[string]any{"f": map[string]any{"types": []any{"EXCHANGE"}}}, ""},
		{"filter type, lower case", sessions, map[string]any{"f": map[string]any{"types": []any{"EXCHANGE", "exchange"}}}, "exchange"},
		{"filter type, one value for the list", sessions, map[string]any{"f": map[string]any{"types": "Teams"}}, "Teams"},
		{"generated enum, lower case", audit, map[string]any{"g": []any{"day"}}, "day"},
		{"generated enum, mixed case", audit, map[string]any{"g": []any{"INITIATED_BY", "Organization"}}, "Organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := postJSON(t, h, tc.query, tc.vars)
			refusal, refused := "", false
			for _, e := range r.Errors {
				if code := e.Extensions["code"]; code == "INTERNAL" || code == nil {
					t.Fatalf("error %q code %v", e.Message, code)
				}
				if e.Extensions["code"] == "BAD_USER_INPUT" {
					refusal, refused = e.Message, true
				}
			}
			switch {
			case tc.refused == "" && refused:
				t.Fatalf("refused: %q", refusal)
			case tc.refused != "" && (!refused || !strings.Contains(refusal, `"`+tc.refused+`"`)):
				t.Fatalf("errors %+v, want BAD_USER_INPUT naming %q", r.Errors, tc.refused)
			}
		})
	}
}
