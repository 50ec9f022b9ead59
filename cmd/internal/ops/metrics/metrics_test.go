package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
