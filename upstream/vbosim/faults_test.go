package vbosim

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The faults that hostile-server tests need: redirects, a stalled body, oversized pages.

func TestFaultRedirects(t *testing.T) {
	h := newHarness(t, Options{Sessions: 10})
	tok := h.login().AccessToken
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, body io.Reader, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.ts.URL+path, body)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	tests := []struct {
		name       string
		faults     Faults
		method     string
		path       string
		wantStatus int
		wantLoc    string
	}{
		{"token 307", Faults{RedirectTokenTo: "http://127.0.0.1:1/x/"}, "POST", "/v6/token", 307, "http://127.0.0.1:1/x/v6/token"},
		{"get 302", Faults{RedirectGetTo: "http://127.0.0.1:2"}, "GET", "/v6/RestoreSessions?limit=1", 302, "http://127.0.0.1:2/v6/RestoreSessions?limit=1"},
		{"token not redirected by the GET fault", Faults{RedirectGetTo: "http://127.0.0.1:2"}, "POST", "/v6/token", 200, ""},
		{"get not redirected by the token fault", Faults{RedirectTokenTo: "http://127.0.0.1:1"}, "GET", "/v6/RestoreSessions?limit=1", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.sim.SetFaults(tc.faults)
			defer h.sim.SetFaults(Faults{})
			var body io.Reader
			hdr := map[string]string{"Authorization": "Bearer " + tok}
			if tc.method == "POST" {
				body = form("grant_type", "password", "username", "admin", "password", "password")
				hdr = formHdr
			}
			res := send(tc.method, tc.path, body, hdr)
			if res.StatusCode != tc.wantStatus || res.Header.Get("Location") != tc.wantLoc {
				t.Fatalf("%s %s = %d Location %q; want %d %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Location"), tc.wantStatus, tc.wantLoc)
			}
		})
	}
}

func TestFaultStallBody(t *testing.T) {
	h := newHarness(t, Options{Sessions: 10})
	h.login()
	h.sim.SetFaults(Faults{StallBody: 30 * time.Millisecond})
	req, _ := http.NewRequest("GET", h.ts.URL+"/v6/RestoreSessions?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+h.tok)
	start := time.Now()
	res, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	headers := time.Since(start)
	if res.StatusCode != 200 || res.ContentLength < 10 {
		t.Fatalf("status %d, length %d", res.StatusCode, res.ContentLength)
	}
	// The headers come at once, then the body one byte at a time.
	br := bufio.NewReader(res.Body)
	for i := range 5 {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && b != '{' {
			t.Fatalf("first byte %q", b)
		}
	}
	if body := time.Since(start); body < 5*30*time.Millisecond || headers > body/2 {
		t.Errorf("headers after %v, 5 body bytes after %v: want headers at once and ~30ms per byte", headers, body)
	}
	if br.Buffered() > 0 {
		t.Errorf("%d bytes arrived together; want one at a time", br.Buffered())
	}
	// Token calls are not stalled (only GETs).
	h.login()
}

func TestFaultOversizedItems(t *testing.T) {
	for _, tc := range []struct {
		version, path string
		plain         bool
	}{
		{"v6", "/v6/Organizations", true},
		{"v7", "/v7/Organizations", true},
		{"v8", "/v8/Organizations?limit=5", false},
		{"v6", "/v6/RestoreSessions?limit=5", false},
		{"v8", "/v8/RestoreSessions?limit=5", false},
	} {
		t.Run(tc.version+tc.path, func(t *testing.T) {
			h := newHarness(t, Options{APIVersion: tc.version, Sessions: 10})
			h.sim.SetFaults(Faults{OversizedItems: 10001})
			r := h.get(tc.path)
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			var items []json.RawMessage
			if tc.plain {
				mustJSON(t, r.body, &items)
			} else {
				var p upstream.Page[json.RawMessage]
				mustJSON(t, r.body, &p)
				items = p.Results
				if p.Limit != 5 {
					t.Errorf("envelope limit %d, want the asked 5", p.Limit)
				}
			}
			if len(items) != 10001 || string(items[0]) != "{}" || string(items[10000]) != "{}" {
				t.Fatalf("%d items (%.20s...)", len(items), r.body)
			}
			if !strings.HasSuffix(string(r.body), "]") && !strings.HasSuffix(string(r.body), "}") {
				t.Errorf("body ends %q", r.body[len(r.body)-5:])
			}
		})
	}
	t.Run("control endpoint round trip", func(t *testing.T) {
		h := newHarness(t, Options{Sessions: 1})
		r := h.do("PUT", "/_sim/faults", strings.NewReader(`{"redirectTokenTo":"http://a:1","redirectGetTo":"http://b:2","stallBody":"500ms","oversizedItems":7}`), nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		want := Faults{RedirectTokenTo: "http://a:1", RedirectGetTo: "http://b:2", StallBody: 500 * time.Millisecond, OversizedItems: 7}
		if got := h.sim.CurrentFaults(); got != want {
			t.Fatalf("faults %+v, want %+v", got, want)
		}
		var got Faults
		mustJSON(t, h.do("GET", "/_sim/faults", nil, nil).body, &got)
		if got != want {
			t.Fatalf("GET faults %+v, want %+v", got, want)
		}
	})
}
