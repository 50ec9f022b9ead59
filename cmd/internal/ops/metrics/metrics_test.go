package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
)

// Issue 20 M2: the operation label is bounded in length (and stays valid UTF-8, which the
// Prometheus client requires, else it panics) and in distinct values, whatever ObserveGraphQL
// is given: 1,000 distinct 10 KB names leave /metrics well under 100 KiB.
func TestObserveGraphQLBoundsTheOperationLabel(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	for i := range 1000 {
		m.ObserveGraphQL(fmt.Sprintf("%04d%s", i, strings.Repeat("n", 10_000)), "ok")
	}
	m.ObserveGraphQL(strings.Repeat("é", 40)+"\xff", "ok") // cut inside a character, invalid byte: no panic
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `operation="other"`) {
		t.Fatalf("/metrics = %d, want an \"other\" series: %.300s", rec.Code, body)
	}
	if len(body) > 100<<10 {
		t.Errorf("/metrics is %d bytes, want under 100 KiB", len(body))
	}
}

// The console's requests are timed by route pattern and status class, its in-process
// operations by name and outcome; the route label is bounded like the operation label, so no
// caller can grow it.
func TestObserveConsole(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveConsoleRequest("GET /console/sessions/{id}", http.StatusOK, 30*time.Millisecond)
	m.ObserveConsoleRequest("GET /console/sessions/{id}", http.StatusNotFound, time.Millisecond)
	m.ObserveConsoleRequest(metrics.OtherRoute, http.StatusForbidden, time.Millisecond)
	m.ObserveConsoleOperation("ConsoleOverview", "ok", 2*time.Second)
	m.ObserveConsoleOperation("ConsoleSession", "error", time.Millisecond)
	for i := range 1000 {
		m.ObserveConsoleRequest(fmt.Sprintf("GET /console/%04d%s", i, strings.Repeat("p", 10_000)), http.StatusOK, time.Millisecond)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`vbo_gateway_console_request_duration_seconds_count{route="GET /console/sessions/{id}",status_class="2xx"} 1`,
		`vbo_gateway_console_request_duration_seconds_bucket{route="GET /console/sessions/{id}",status_class="2xx",le="0.025"} 0`,
		`vbo_gateway_console_request_duration_seconds_bucket{route="GET /console/sessions/{id}",status_class="2xx",le="0.05"} 1`,
		`vbo_gateway_console_request_duration_seconds_count{route="GET /console/sessions/{id}",status_class="4xx"} 1`,
		`vbo_gateway_console_graphql_duration_seconds_count{operation="ConsoleOverview",outcome="ok"} 1`,
		`vbo_gateway_console_graphql_duration_seconds_bucket{operation="ConsoleOverview",outcome="ok",le="1"} 0`,
		`vbo_gateway_console_graphql_duration_seconds_count{operation="ConsoleSession",outcome="error"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// 64 routes at most, each cut to 64 bytes: the rest count as other (with the 403 above).
	if n := strings.Count(body, "vbo_gateway_console_request_duration_seconds_count{"); n > 64+2 {
		t.Errorf("%d console route series, want at most 66 (64 routes x classes seen, and other)", n)
	}
	if !strings.Contains(body, `vbo_gateway_console_request_duration_seconds_count{route="other",status_class="2xx"}`) {
		t.Error("routes past the bound are not counted as other")
	}
	if len(body) > 200<<10 {
		t.Errorf("/metrics is %d bytes, want under 200 KiB", len(body))
	}
}
