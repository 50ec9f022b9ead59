package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// fairnessRun floods the gateway with one principal's concurrent queries and measures another
// principal's median latency meanwhile (and alone, before).
type fairnessRun struct {
	alone, underLoad  time.Duration
	refused, served   int64
	peakGoroutines    int
	victimErrs        int
	victimSamplesLoad int
}

const floodKey = "flood-key"

func measureFairness(t *testing.T, perPrincipal int) fairnessRun {
	t.Helper()
	r := newRig(t, rigOpts{tune: func(c *config.Config) {
		c.Resilience.RequestTimeout = 10 * time.Second
		c.Limits.Concurrency.PerPrincipal = perPrincipal
		c.Auth.APIKeys = append(c.Auth.APIKeys, config.APIKey{Name: "flood", SHA256: demo.KeySHA256(floodKey), Role: "PROVIDER_ADMIN"})
	}})
	const (
		heavy   = `{"query":"{ restoreSessions(first: 90) { edges { node { upstreamId organization { name } events(first: 20) { totalCount edges { node { type } } } } } } }"}`
		light   = `{"query":"{ restoreSessions(first: 3, filter: {servers: [\"syd1\"]}) { edges { node { upstreamId } } } }"}`
		workers = 100
	)
	post := func(key, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		r.gw.Handler.ServeHTTP(w, req)
		if w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"errors"`) {
			return -1
		}
		return w.Code
	}
	victim := func(n int) (time.Duration, int, int) {
		var lat []time.Duration
		errs := 0
		for range n {
			start := time.Now()
			if post(demo.AdminKey, light) != http.StatusOK {
				errs++
			}
			lat = append(lat, time.Since(start))
			time.Sleep(10 * time.Millisecond)
		}
		slices.Sort(lat)
		return lat[len(lat)/2], errs, len(lat)
	}
	post(floodKey, heavy) // warm up: tokens, connections
	var out fairnessRun
	out.alone, _, _ = victim(30)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var refused, served atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch post(floodKey, heavy) {
				case http.StatusTooManyRequests:
					refused.Add(1)
					time.Sleep(20 * time.Millisecond) // a client honouring 429 a little
				default:
					served.Add(1)
				}
			}
		})
	}
	var peak atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if n := int64(runtime.NumGoroutine()); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	})
	time.Sleep(500 * time.Millisecond) // let the flood build up
	out.underLoad, out.victimErrs, out.victimSamplesLoad = victim(25)
	close(stop)
	wg.Wait()
	out.refused, out.served, out.peakGoroutines = refused.Load(), served.Load(), int(peak.Load())
	t.Logf("perPrincipal %d: victim median alone %v, under a %d-worker flood %v (%d errors); flood served %d, refused %d; peak goroutines %d",
		perPrincipal, out.alone, workers, out.underLoad, out.victimErrs, out.served, out.refused, out.peakGoroutines)
	return out
}

// Issue 11 item 5: one principal running 100 concurrent heavy queries does not starve another
// principal. Bounded by the per-principal concurrency limit (default 8), the other principal's
// median latency stays within a wide bound of its latency alone (2-core machine, other builds
// running), and the goroutine count stays bounded.
func TestFairnessBetweenPrincipals(t *testing.T) {
	// Serial: measures latencies and the process's goroutine peak.
	if testing.Short() {
		t.Skip("load test skipped with -short")
	}
	run := measureFairness(t, config.DefaultPerPrincipal)
	// Measured on a busy 2-core machine: alone ~1 ms; under the flood ~0.2 s with the limit,
	// ~5.5 s (and ~15,000 goroutines) without it.
	bound := max(100*run.alone, time.Second)
	if run.underLoad > bound {
		t.Errorf("victim median under load %v > %v (alone %v)", run.underLoad, bound, run.alone)
	}
	if run.victimErrs > run.victimSamplesLoad/4 {
		t.Errorf("victim: %d of %d requests failed under load", run.victimErrs, run.victimSamplesLoad)
	}
	if run.refused == 0 {
		t.Error("the flood was never refused: the per-principal limit did not bite")
	}
	if run.peakGoroutines > 5000 {
		t.Errorf("peak goroutines %d: memory is not bounded by the limit", run.peakGoroutines)
	}
}
