package watch_test

import (
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// TestBackfillFigures backfills 90 days on three simulated servers (500 sessions each; 1,500 as
// in the demo with VBO_BACKFILL_SESSIONS=1500) and reports the upstream calls against the minimum, the time and the peak heap.
// Minimum per server: one token, ceil(sessions/1000) listing pages, one events page per
// session and one organisation listing.
func TestBackfillFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	perServer := 500 // VBO_BACKFILL_SESSIONS=1500 for the demo's size
	if n, err := strconv.Atoi(os.Getenv("VBO_BACKFILL_SESSIONS")); err == nil && n > 0 {
		perServer = n
	}
	st := storetest.Open(t, storetest.SQLite(t))
	var servers []watch.Server
	var sims []*simServer
	for _, name := range []string{"syd1", "mel1", "akl1"} {
		s := startSim(t, name, vbosim.Options{Sessions: perServer, Orgs: 12})
		sims = append(sims, s)
		servers = append(servers, watch.Server{Name: name, Source: s.client})
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	began := time.Now()
	runWatcher(t, watch.Options{Store: st, Servers: servers, Interval: time.Second, Backfill: 91 * 24 * time.Hour})
	waitFor(t, "backfill", 120*time.Second, backfillDone(st, "syd1", "mel1", "akl1"))
	took := time.Since(began)
	close(stopSampling)
	total, minimum := 0, 0
	for _, s := range sims {
		n := checkArchive(t, st, s.sim.Options().Name, s.sim, time.Time{})
		total += s.sim.Stats().Total
		minimum += 1 + (n+999)/1000 + n + 1
	}
	t.Logf("backfill of 90 days, 3 servers x %d sessions: %d upstream calls (minimum %d, +%.1f%%), %v, peak heap in use %.1f MiB over a %.1f MiB baseline (simulators included)",
		perServer, total, minimum, 100*float64(total-minimum)/float64(minimum), took.Round(time.Millisecond),
		float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), float64(base.HeapInuse)/(1<<20))
	if float64(total) > 1.05*float64(minimum) {
		t.Fatalf("%d calls for a minimum of %d", total, minimum)
	}
}
