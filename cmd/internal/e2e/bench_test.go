package e2e_test

// Go benchmarks of the gateway's own cost (run with -bench; `go test` alone skips them):
//
//	go test ./cmd/internal/e2e/ -run XXX -bench . -benchtime 3x
//
// The simulators run in-process with L = 0, so ns/op is the gateway's CPU time plus the
// simulators' work for the upstream calls it makes; allocs/op likewise include the simulators'
// allocations for cold runs (warm runs make almost no upstream calls). cpu-ns/op is the process's
// user + system CPU time per op (getrusage), the figure that holds on a busy machine where
// ns/op does not. cmd/vbo-bench measures latency with upstream latency, against the other
// systems, each in its own process.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/app"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// benchNow anchors the simulators' data.
var benchNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const benchOrgs = 20 // per server; 3 servers

// benchDashboardQuery: every organisation with its 10 newest sessions and their events.
const benchDashboardQuery = `{"query":"{ organizations(first: 500) { edges { node { id name server { name } restoreSessions(first: 10) { pageInfo { hasNextPage } edges { node { id startTime state type result initiatedBy clientHost { machineName viaAddress } events(first: 100) { totalCount edges { node { type status itemName itemSizeBytes } } } } } } } } } }"}`

const benchOverheadQuery = `{"query":"{ restoreSessions(first: 50, filter: {servers: [\"syd1\"]}) { pageInfo { hasNextPage endCursor } edges { node { id upstreamId startTime endTime type state result initiatedBy details } } } }"}`

func benchFleet(b *testing.B, servers []string) *demo.Fleet {
	b.Helper()
	f, err := demo.Start(demo.Options{Servers: servers, Orgs: benchOrgs, Sessions: 1500, Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	// The dashboard reads every session of 60 organisations with their events: far over the
	// default cost limits.
	f.Config.Limits.MaxUpstreamCalls, f.Config.Limits.MaxResponseObjects = 1_000_000, 100_000_000
	return f
}

func benchGateway(b *testing.B, cfg *config.Config) http.Handler {
	b.Helper()
	adminOnly(cfg)
	gw, err := runGateway(b, b.Context(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	gw.Handler = asAdmin(gw.Handler)
	return gw.Handler
}

// cpuTime is this process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op b.N times (b.Loop) and reports the CPU time per op.
func loop(b *testing.B, op func()) {
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		op()
		cpu += cpuTime(b) - c0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// benchDo runs one query and fails on anything but a clean 200 answer.
func benchDo(b *testing.B, h http.Handler, body string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
		b.Fatalf("HTTP %d: %.500s", rec.Code, rec.Body.String())
	}
}

func benchCalls(f *demo.Fleet) int {
	n := 0
	for _, s := range f.Sims {
		n += s.Stats().Total
	}
	return n
}

func benchResetCalls(f *demo.Fleet) {
	for _, s := range f.Sims {
		s.ResetStats()
	}
}

// BenchmarkDashboardQuery: 3 servers x 20 organisations, 10 newest sessions each with events.
// cold builds a fresh gateway per op (outside the timer): token, organisations, one listing walk
// per server and one events call per session. warm repeats on one gateway: stopped sessions and
// their events come from the immutable cache, listings from the 5 s TTL cache.
func BenchmarkDashboardQuery(b *testing.B) {
	f := benchFleet(b, nil)
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		benchResetCalls(f)
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			h := benchGateway(b, f.Config)
			b.StartTimer()
			c0 := cpuTime(b)
			benchDo(b, h, benchDashboardQuery)
			cpu += cpuTime(b) - c0
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(benchCalls(f))/float64(b.N), "upstream-calls/op")
	})
	b.Run("warm", func(b *testing.B) {
		b.ReportAllocs()
		h := benchGateway(b, f.Config)
		benchDo(b, h, benchDashboardQuery)
		benchResetCalls(f)
		loop(b, func() { benchDo(b, h, benchDashboardQuery) })
		b.ReportMetric(float64(benchCalls(f))/float64(b.N), "upstream-calls/op")
	})
}

// BenchmarkOverheadQuery: L = 0, one server, restoreSessions(first: 50) on a warm gateway:
// the gateway's own cost per request (parse, validate, execute, serialise), with the listing
// page served from the TTL cache (upstream-calls/op shows how often it is refreshed).
func BenchmarkOverheadQuery(b *testing.B) {
	f := benchFleet(b, []string{"syd1"})
	h := benchGateway(b, f.Config)
	benchDo(b, h, benchOverheadQuery)
	benchResetCalls(f)
	b.ReportAllocs()
	loop(b, func() { benchDo(b, h, benchOverheadQuery) })
	b.ReportMetric(float64(benchCalls(f))/float64(b.N), "upstream-calls/op")
}

// BenchmarkOverheadQueryUncached: the overhead query as cmd/vbo-bench runs it, with the listing
// TTL cache off, so every op reads the page from the (in-process) simulator: cpu-ns/op and
// allocs/op include the upstream call, its JSON decoding and the simulator's side of it.
func BenchmarkOverheadQueryUncached(b *testing.B) {
	f := benchFleet(b, []string{"syd1"})
	f.Config.Cache.ListingTTL = -time.Second
	h := benchGateway(b, f.Config)
	benchDo(b, h, benchOverheadQuery)
	benchResetCalls(f)
	b.ReportAllocs()
	loop(b, func() { benchDo(b, h, benchOverheadQuery) })
	b.ReportMetric(float64(benchCalls(f))/float64(b.N), "upstream-calls/op")
}

// BenchmarkPageShape splits the overhead query's cost between what every request pays, what
// each row pays and what each selected field of a row pays (listing from the TTL cache):
// rows=50/fields=9 is BenchmarkOverheadQuery; the differences to rows=25 and to fields=1 give the
// per-row and per-field figures quoted in docs/benchmarks.md.
func BenchmarkPageShape(b *testing.B) {
	f := benchFleet(b, []string{"syd1"})
	h := benchGateway(b, f.Config)
	const allFields = "id upstreamId startTime endTime type state result initiatedBy details"
	for _, sh := range []struct {
		rows   int
		fields string
	}{{50, allFields}, {25, allFields}, {50, "id"}, {25, "id"}} {
		q := fmt.Sprintf(`{"query":"{ restoreSessions(first: %d, filter: {servers: [\"syd1\"]}) { pageInfo { hasNextPage endCursor } edges { node { %s } } } }"}`,
			sh.rows, sh.fields)
		b.Run(fmt.Sprintf("rows=%d/fields=%d", sh.rows, len(strings.Fields(sh.fields))), func(b *testing.B) {
			benchDo(b, h, q)
			b.ReportAllocs()
			loop(b, func() { benchDo(b, h, q) })
		})
	}
}
