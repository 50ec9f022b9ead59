package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// Issue 11 item 9: authentication needs only the headers. An unauthenticated request that
// announces a 1 MiB body and then stalls is answered 401 at once, without waiting for (or
// buffering) the body.
func TestUnauthenticatedBodyIsNeverRead(t *testing.T) {
	h := stubHandler(t, httpapi.Options{Authenticate: goodKeyOnly})
	ts := httptest.NewServer(h)
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer guess\r\nContent-Length: %d\r\n\r\n{\"query\":\"", 1<<20)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body stalls (the gateway waits for it): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HTTP %d, want 401", resp.StatusCode)
	}
}

// A body over maxBodyBytes answers 413 with the limit's usual code, announced or not.
func TestBodyOverLimitIs413(t *testing.T) {
	h := stubHandler(t, httpapi.Options{Limits: config.Limits{MaxBodyBytes: 1000}})
	big := `{"query":"{ viewer { role } }","variables":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	for _, chunked := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(big))
		if chunked {
			req = httptest.NewRequest(http.MethodPost, "/graphql", struct{ *strings.Reader }{strings.NewReader(big)})
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var r gqlResp
		_ = json.Unmarshal(rec.Body.Bytes(), &r)
		if rec.Code != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" ||
			!strings.Contains(r.Errors[0].Message, "maxBodyBytes") {
			t.Errorf("chunked=%v: HTTP %d %s, want 413 BAD_USER_INPUT naming maxBodyBytes", chunked, rec.Code, rec.Body)
		}
	}
}

// Issue 11 item 10: errors quote at most a short excerpt of what was sent and never name Go
// types; a body with trailing data or a repeated key is refused.
func TestDecodeErrorsAreShortAndRefuseAmbiguity(t *testing.T) {
	h := stubHandler(t, httpapi.Options{})
	huge := strings.Repeat("A", 200_000)
	goNames := []string{"map[", "interface {}", "json.Number", "float64", "int64", "Go value", "Go struct", "slice", "map as", "not a map", "RawParams"}
	cases := []struct {
		name, body string
		status     int    // 0: any
		want       string // in the message
	}{
		{name: "binary body", body: strings.Repeat("\x01", 500_000), status: 400, want: "not valid JSON"},
		{name: "trailing garbage", body: `{"query":"{ viewer { role } }"} xyz`, status: 400, want: "after the request's JSON object"},
		{name: "two objects", body: `{"query":"{ viewer { role } }"}{"query":"{ servers { name } }"}`, status: 400, want: "after the request's JSON object"},
		{name: "duplicate query", body: `{"query":"{ servers { name } }","query":"{ viewer { role } }"}`, status: 400, want: "twice"},
		{name: "query not a string", body: `{"query":{"a":1}}`, status: 400, want: `"query" must be a string`},
		{name: "variables not an object", body: `{"query":"{ viewer { role } }","variables":[1,2]}`, status: 400, want: `"variables" must be an object`},
		{name: "array body", body: `[{"query":"{ viewer { role } }"}]`, status: 400, want: "one JSON object"},
		{name: "truncated", body: `{"query":"{ viewer`, status: 400, want: "ends early"},
		{name: "huge name token", body: `{"query":"{ viewer { role } } ` + huge + `"}`, want: "Unexpected Name"},
		{name: "huge enum value", body: `{"query":"query($t: [RestoreSessionType!]) { restoreSessions(filter: {types: $t}) { totalCount } }","variables":{"t":["` + huge + `"]}}`},
		{name: "object as Int", body: `{"query":"query($n: Int) { restoreSessions(first: $n) { totalCount } }","variables":{"n":{"a":1}}}`},
		{name: "list as Int", body: `{"query":"query($n: Int) { restoreSessions(first: $n) { totalCount } }","variables":{"n":[1]}}`},
		{name: "string as filter", body: `{"query":"query($f: RestoreSessionFilter) { restoreSessions(filter: $f) { totalCount } }","variables":{"f":"x"}}`},
		{name: "float as Int", body: `{"query":"query($n: Int) { restoreSessions(first: $n) { totalCount } }","variables":{"n":1.5}}`, want: "cannot use a fraction as Int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if tc.status != 0 && rec.Code != tc.status {
				t.Errorf("HTTP %d, want %d: %.300s", rec.Code, tc.status, body)
			}
			if len(body) > 1000 {
				t.Errorf("answer of %d bytes to a %d-byte body: %.200s…", len(body), len(tc.body), body)
			}
			var r gqlResp
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || len(r.Errors) == 0 {
				t.Fatalf("not a GraphQL error response: %v %.300s", err, body)
			}
			t.Logf("HTTP %d: %s", rec.Code, r.Errors[0].Message)
			if !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Errorf("message %q, want it to say %q", r.Errors[0].Message, tc.want)
			}
			for _, g := range goNames {
				if strings.Contains(body, g) {
					t.Errorf("answer names a Go type (%q): %s", g, body)
				}
			}
		})
	}
	// A GET that repeats `query` is refused too.
	req := httptest.NewRequest(http.MethodGet, "/graphql?query=%7Bservers%7Bname%7D%7D&query=%7Bviewer%7Brole%7D%7D", nil)
	req.Header.Set("GraphQL-Preflight", "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "BAD_USER_INPUT") {
		t.Errorf("GET with two query parameters: %d %s, want 400 BAD_USER_INPUT", rec.Code, rec.Body)
	}
}

// Issue 11 item 11: when the deadline passes before the query runs, the answer is a GraphQL
// error with the request id, never HTTP 200 with the body `null`.
func TestDeadlineBeforeExecutionIsAnError(t *testing.T) {
	h := stubHandler(t, httpapi.Options{RequestTimeout: time.Nanosecond})
	w, r := postJSON(t, h, `{ servers { name } }`, nil)
	id := w.Header().Get("X-Request-Id")
	if strings.TrimSpace(w.Body.String()) == "null" || len(r.Errors) != 1 {
		t.Fatalf("HTTP %d %s, want one error", w.Code, w.Body)
	}
	if r.Errors[0].Extensions["code"] != "UPSTREAM_TIMEOUT" || id == "" || !strings.Contains(r.Errors[0].Message, id) {
		t.Errorf("error %+v, want UPSTREAM_TIMEOUT naming request id %q", r.Errors[0], id)
	}
}
