package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/ops/metrics"
)

// The archive collector tells writability and failures by cause, read at scrape time.
func TestArchiveCollector(t *testing.T) {
	t.Parallel()
	snap := metrics.ArchiveSnapshot{Driver: "sqlite", Writable: true}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Archive(func() metrics.ArchiveSnapshot { return snap }))
	scrape := func() string {
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	if body := scrape(); !strings.Contains(body, `vbo_gateway_archive_writable{driver="sqlite"} 1`) || strings.Contains(body, "archive_failures_total{") {
		t.Fatalf("writable: %s", body)
	}
	snap = metrics.ArchiveSnapshot{Driver: "sqlite", Failures: map[string]uint64{"disk_full": 3, "busy": 1}}
	body := scrape()
	for _, want := range []string{`vbo_gateway_archive_writable{driver="sqlite"} 0`,
		`vbo_gateway_archive_failures_total{cause="disk_full",driver="sqlite"} 3`,
		`vbo_gateway_archive_failures_total{cause="busy",driver="sqlite"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("unwritable: want %s in\n%s", want, body)
		}
	}
}
