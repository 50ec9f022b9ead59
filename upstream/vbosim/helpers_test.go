package vbosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for token-expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t   *testing.T
	sim *Server
	ts  *httptest.Server
	tok string
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = testNow
	}
	if o.Seed == 0 {
		o.Seed = 42
	}
	return harnessFor(t, New(o))
}

func harnessFor(t *testing.T, sim *Server) *harness {
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &harness{t: t, sim: sim, ts: ts}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(method, path string, body io.Reader, hdr map[string]string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func form(kv ...string) io.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

var formHdr = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

func (h *harness) login() upstream.Token {
	h.t.Helper()
	r := h.do("POST", "/"+h.sim.APIVersion()+"/token", form("grant_type", "password", "username", h.sim.opts.Username, "password", h.sim.opts.Password), formHdr)
	if r.status != 200 {
		h.t.Fatalf("login: %d %s", r.status, r.body)
	}
	var tok upstream.Token
	mustJSON(h.t, r.body, &tok)
	h.tok = tok.AccessToken
	return tok
}

func (h *harness) get(path string) resp {
	h.t.Helper()
	if h.tok == "" {
		h.login()
	}
	return h.do("GET", path, nil, map[string]string{"Authorization": "Bearer " + h.tok})
}

func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	r := h.get(path)
	if r.status != 200 {
		h.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	reflect.ValueOf(v).Elem().SetZero() // json.Unmarshal merges into maps; start clean
	mustJSON(h.t, r.body, v)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}
