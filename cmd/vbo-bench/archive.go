package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// The gateway-archive system: the same vbo-gateway binary with the restore watch on and
// reads.from: archive (SQLite). Its gateway starts once per pair, backfills the simulators'
// whole 90 days at L = 0 (unmeasured), then the scenario runs at the usual latency against
// that warm archive with the listing and immutable caches off: every session, event and
// organisation it shows comes from the archive and the organisation lists the gateway keeps
// (refreshed in the background every reads.maxLag / 2), not from what an earlier request
// cached. It runs the dashboard and the overhead query.

// archiveScenarios are the scenarios gateway-archive runs.
var archiveScenarios = map[string]func(g *gatewayRun, r row) ([]row, error){
	"dashboard": (*gatewayRun).archiveDashboard,
	"overhead":  (*gatewayRun).archiveOverhead,
}

// archiveWatchConfig is the gateway configuration's watch, store and reads for gateway-archive:
// one poll (the backfill of everything the simulators hold, anchored at fixedNow) and then
// hourly, no sweep, the archive in dir.
func archiveWatchConfig(dir string) string {
	backfill := time.Since(fixedNow) + 95*24*time.Hour
	return fmt.Sprintf("watch: {enabled: true, interval: 1h, backfill: %s, backfillConcurrency: 8, sweep: {interval: -1s}}\n"+
		"store: {driver: sqlite, path: %q}\nreads: {from: archive}\n", backfill.Round(time.Hour), filepath.Join(dir, "archive.db"))
}

// archiveScenario runs sc on gateway-archive: a gateway that has backfilled the archive.
func (e *env) archiveScenario(ctx context.Context, sc string) ([]row, error) {
	run, ok := archiveScenarios[sc]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", sc)
	}
	if err := e.setLatency(ctx, 0, 0); err != nil {
		return nil, err
	}
	settings := gatewaySettings{archive: true, noListingCache: true, noImmutableCache: true}
	if err := e.freshGateway(ctx, settings); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := e.waitBackfilled(ctx, 15*time.Minute); err != nil {
		return nil, err
	}
	logf(e.o, "  archive backfilled in %s", time.Since(t0).Round(time.Second))
	if err := e.setLatency(ctx, e.o.latency, e.o.jitter); err != nil {
		return nil, err
	}
	g := &gatewayRun{env: e, ctx: ctx, sc: sc}
	r := row{Mode: "archive", MinimumCalls: 0, Extra: map[string]float64{"backfillSeconds": time.Since(t0).Round(time.Second).Seconds()}}
	return run(g, r)
}

// waitBackfilled waits until the gateway's watch has backfilled every server.
func (e *env) waitBackfilled(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var st struct {
			Servers []struct{ Watcher *struct{ BackfillDone bool } }
		}
		err := e.gql(ctx, e.gwURL, `{ servers { watcher { backfillDone } } }`, nil, &st)
		done := err == nil && len(st.Servers) == len(e.sims)
		for _, s := range st.Servers {
			done = done && s.Watcher != nil && s.Watcher.BackfillDone
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the archive's backfill did not finish in %s (%v)", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// archiveDashboard: the dashboard read from the archive (minimum calls 0), the gateway warm
// (started and backfilled once), its caches off.
func (g *gatewayRun) archiveDashboard(r row) ([]row, error) {
	want := 0
	for _, s := range g.sims {
		want += len(planDashboard(s.sim, g.o.dashSessions).shown)
	}
	s, err := iterate(g.ctx, g.env, nil, func() error {
		var d dashboardResult
		if err := g.gql(g.ctx, g.gwURL, qDashboard, map[string]any{"perOrg": g.o.dashSessions}, &d); err != nil {
			return err
		}
		if d.sessions() != want {
			return fmt.Errorf("dashboard shows %d sessions, the simulators' data say %d", d.sessions(), want)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Extra["sessionsShown"] = float64(want)
	s.fill(&r)
	return []row{r}, nil
}

// archiveOverhead: the overhead query read from the archive, at each --concurrency level.
func (g *gatewayRun) archiveOverhead(row) ([]row, error) {
	ctx, o := g.ctx, g.o
	vars := map[string]any{"first": o.overheadN, "servers": []string{g.firstServer(ctx)}}
	rows, err := g.overheadRows(ctx, func() error { return g.gql(ctx, g.gwURL, qOverhead, vars, nil) }, o.concurrency,
		"gateway-archive: reads.from archive, caches off", nil)
	for i := range rows {
		rows[i].Mode, rows[i].MinimumCalls = "archive", 0
	}
	return rows, err
}
