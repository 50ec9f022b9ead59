package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestResponseFraming: an executed operation's answer carries its Content-Length and is not
// chunked (one write system call fewer per response); answers refused before execution, which
// the GraphQL-over-HTTP layer may rewrite, are still framed correctly. Each body is complete
// JSON whatever the framing.
func TestResponseFraming(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	srv := httptest.NewServer(h.gw.Handler) // 127.0.0.1
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, accept, body string
		status             int
		wantLength         bool
	}{
		{"executed", "application/json", `{"query":"{ restoreSessions(first: 50) { edges { node { id startTime } } } }"}`, 200, true},
		{"executed, graphql-response+json", "application/graphql-response+json", `{"query":"{ servers { name } }"}`, 200, true},
		{"invalid query", "application/graphql-response+json", `{"query":"{ nope }"}`, 400, false},
		{"no query", "application/json", `{"variables":{}}`, 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // read-only requests; srv closes after every case
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", tc.accept)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if !json.Valid(body) {
				t.Fatalf("body is not JSON: %.300s", body)
			}
			chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
			if tc.wantLength {
				if chunked || resp.ContentLength != int64(len(body)) {
					t.Errorf("Content-Length %d (header %q), chunked %v; body is %d bytes",
						resp.ContentLength, resp.Header.Get("Content-Length"), chunked, len(body))
				}
			} else if n := resp.Header.Get("Content-Length"); n != "" && n != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %s, body %d bytes", n, len(body))
			}
		})
	}
}
