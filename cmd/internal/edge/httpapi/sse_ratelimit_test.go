package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
)

// TestSSESharesTheRateBudget: a principal's SSE subscriptions and HTTP requests draw from one
// rate budget (the one its websocket operations use too), in either order. Before, the SSE
// transport built a rate limiter of its own: a principal had twice the budget, and SSE
// subscriptions were never refused for HTTP traffic (or the reverse).
func TestSSESharesTheRateBudget(t *testing.T) {
	t.Parallel()
	const (
		query = `{ viewer { role } }`
		sub   = `subscription { restoreSessionStarted(since: "2000-01-01T00:00:00Z") { upstreamId } }`
	)
	cases := []struct {
		name  string
		steps []string // transports in order; the budget (burst 2, no refill) admits the first two
	}{
		{"HTTP then SSE", []string{"http", "http", "sse"}},
		{"SSE then HTTP", []string{"sse", "sse", "http"}},
		{"mixed then SSE", []string{"http", "sse", "sse"}},
		{"mixed then HTTP", []string{"sse", "http", "http"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := stubHandler(t, httpapi.Options{
				Feed:   replayFeed{n: 1, end: true},
				Limits: config.Limits{RateLimit: config.RateLimit{PerSecond: 0.001, Burst: 2}},
			})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for i, step := range c.steps {
				q := query
				if step == "sse" {
					q = sub
				}
				body, _ := json.Marshal(map[string]string{"query": q})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if step == "sse" {
					req.Header.Set("Accept", "text/event-stream")
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, step, err)
				}
				body, _ = io.ReadAll(resp.Body) // the replay ends: the stream completes
				resp.Body.Close()
				want := http.StatusOK
				if i == len(c.steps)-1 {
					want = http.StatusTooManyRequests
				}
				if resp.StatusCode != want {
					t.Fatalf("step %d (%s after %v): HTTP %d, want %d (one budget of 2 for both transports): %s",
						i, step, c.steps[:i], resp.StatusCode, want, body)
				}
				if want == http.StatusOK && step == "sse" && !strings.Contains(string(body), "upstreamId") {
					t.Fatalf("step %d: SSE stream without its event: %s", i, body)
				}
			}
		})
	}
}
