package e2e_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// scrape returns the /metrics samples as "name{labels}" -> value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// The metrics agree with the simulators' own counters, and a dead server shows as down.
func TestMetrics(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{
		sim: func(name string, o *vbosim.Options) {
			if name == "akl1" {
				o.Faults.Down = true
			}
		},
		tune: func(c *config.Config) {
			c.Resilience.BreakerFailures = 1
			c.Resilience.RetryAttempts = 1
		},
	})
	h.query(`{ organizations(first: 50) { totalCount } }`, nil)
	m := scrape(t, h.gw.Handler)
	for _, s := range []string{"syd1", "mel1", "akl1"} {
		got := m[`vbo_gateway_upstream_requests_total{server="`+s+`"}`]
		if want := float64(h.sim(s).Stats().Total); got != want || want == 0 {
			t.Errorf("%s: upstream_requests_total = %v, simulator counted %v (> 0)", s, got, want)
		}
	}
	if v := m[`vbo_gateway_upstream_health{server="syd1"}`]; v != 0 {
		t.Errorf("syd1 health = %v, want 0 (up)", v)
	}
	if v := m[`vbo_gateway_upstream_health{server="akl1"}`]; v != 2 {
		t.Errorf("akl1 health = %v, want 2 (down: its breaker opened)", v)
	}
	if v := m[`vbo_gateway_http_request_duration_seconds_count{code="200"}`]; v != 1 {
		t.Errorf("request count = %v, want 1", v)
	}
	if _, ok := m["vbo_gateway_cache_budget_bytes"]; !ok {
		t.Error("no cache metrics")
	}

	off := false
	h2 := startHarness(t, harnessOpts{tune: func(c *config.Config) { c.Metrics = &off }})
	rec := httptest.NewRecorder()
	h2.gw.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code == http.StatusOK {
		t.Error("metrics: false still serves /metrics")
	}
}
