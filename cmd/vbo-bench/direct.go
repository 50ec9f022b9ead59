package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The direct-* systems are what a portal script does without a gateway, written with
// upstream.Client: list organisations, per organisation list sessions (VBO has no organisation
// filter, so walk the newest-first listing until the organisation has enough), per session
// list events. direct-sequential makes one call at a time; direct-parallel runs everything
// concurrently and lets the client bound the calls in flight per server (--max-concurrency).

// each runs f(0..n-1), one after another or concurrently.
func each(ctx context.Context, parallel bool, n int, f func(ctx context.Context, i int) error) error {
	if !parallel {
		for i := range n {
			if err := f(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		g.Go(func() error { return f(gctx, i) })
	}
	return g.Wait()
}

func readEvents(ctx context.Context, c *upstream.Client, id string) error {
	for _, err := range c.RestoreSessionEventsIter(ctx, id, upstream.ListOptions{}) {
		if err != nil {
			return err
		}
	}
	return nil
}

// directRun is one direct-* scenario run: the bench env, the system (sequential or parallel)
// and its upstream clients, one per simulator (replaced by fresh).
type directRun struct {
	*env
	ctx      context.Context
	sc       string
	parallel bool
	conc     int // calls in flight per server: 1, or --max-concurrency when parallel
	clients  []*upstream.Client
}

// fresh replaces the clients with new ones (no token yet).
func (d *directRun) fresh() error {
	var err error
	d.clients, err = d.directClients(d.conc)
	return err
}

// directScenarios are the scenarios the direct-* systems run, by name. Each gets the row to
// fill (cold, no note) and returns the rows of the scenario.
var directScenarios = map[string]func(d *directRun, r row) ([]row, error){
	"dashboard":            (*directRun).dashboard,
	"repeat-dashboard":     (*directRun).dashboard,
	"audit-window":         (*directRun).auditWindow,
	"cross-server-page":    (*directRun).crossServerPage,
	"node-lookups":         (*directRun).nodeLookups,
	"overhead":             (*directRun).overhead,
	"flat-sessions-events": (*directRun).flatSessionsEvents,
}

// directScenario runs scenario sc on direct-sequential or (parallel) direct-parallel.
func (e *env) directScenario(ctx context.Context, sc string, parallel bool) ([]row, error) {
	d := &directRun{env: e, ctx: ctx, sc: sc, parallel: parallel, conc: 1}
	if parallel {
		d.conc = e.o.maxConc
	}
	if err := d.fresh(); err != nil {
		return nil, err
	}
	run, ok := directScenarios[sc]
	if !ok {
		return nil, fmt.Errorf("not implemented for direct systems")
	}
	return run(d, row{Mode: "cold", Extra: map[string]float64{}, Note: ""})
}

// dashboard (and repeat-dashboard, warm: the clients and their tokens kept): per server the
// organisations, per organisation its newest sessions from the listing, per session its events.
func (d *directRun) dashboard(r row) ([]row, error) {
	o := d.o
	want, minCalls := 0, 0
	for _, s := range d.sims {
		p := planDashboard(s.sim, o.dashSessions)
		want += len(p.shown)
		minCalls += p.minCalls
	}
	r.MinimumCalls = float64(minCalls)
	if d.sc == "repeat-dashboard" {
		r.Mode, r.Note = "warm", "no cache: every repeat costs what the first did"
		for _, s := range d.sims {
			r.MinimumCalls -= float64(planDashboard(s.sim, o.dashSessions).minCalls - planDashboard(s.sim, o.dashSessions).workingCalls)
		}
	}
	prep := d.fresh
	if d.sc == "repeat-dashboard" {
		prep = nil
	}
	s, err := iterate(d.ctx, d.env, prep, func() error {
		var shown atomic.Int64
		err := each(d.ctx, d.parallel, len(d.clients), func(ctx context.Context, si int) error {
			return d.dashboardOfServer(ctx, d.clients[si], &shown)
		})
		if err == nil && int(shown.Load()) != want {
			err = fmt.Errorf("shows %d sessions, want %d", shown.Load(), want)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	r.Extra["sessionsShown"] = float64(want)
	s.fill(&r)
	return []row{r}, nil
}

// dashboardOfServer reads one server's part of the dashboard through c, adding the sessions
// it shows to shown.
func (d *directRun) dashboardOfServer(ctx context.Context, c *upstream.Client, shown *atomic.Int64) error {
	orgs, err := c.Organizations(ctx)
	if err != nil {
		return err
	}
	return each(ctx, d.parallel, len(orgs), func(ctx context.Context, oi int) error {
		var mine []upstream.RestoreSession
		for rs, err := range c.RestoreSessionsIter(ctx, upstream.RestoreSessionListOptions{}) {
			if err != nil {
				return err
			}
			if strings.EqualFold(rs.Organization, orgs[oi].Name) {
				mine = append(mine, rs)
				if len(mine) == d.o.dashSessions {
					break
				}
			}
		}
		shown.Add(int64(len(mine)))
		return each(ctx, d.parallel, len(mine), func(ctx context.Context, k int) error { return readEvents(ctx, c, mine[k].ID) })
	})
}

// auditWindow: one organisation's sessions (up to 500) in the audit window, from the listing
// filtered by start time, with their events.
func (d *directRun) auditWindow(r row) ([]row, error) {
	ctx := d.ctx
	p := d.planAudit(500)
	r.MinimumCalls = float64(p.minCalls)
	r.Extra["sessionsShown"] = float64(len(p.sessions))
	c := d.clients[0]
	s, err := iterate(ctx, d.env, func() error { err := d.fresh(); c = d.clients[0]; return err }, func() error {
		org, _, err := c.Organization(ctx, p.org.ID)
		if err != nil {
			return err
		}
		var mine []upstream.RestoreSession
		from, to := p.from, p.to
		for rs, err := range c.RestoreSessionsIter(ctx, upstream.RestoreSessionListOptions{StartTimeFrom: &from, StartTimeTo: &to}) {
			if err != nil {
				return err
			}
			if strings.EqualFold(rs.Organization, org.Name) && len(mine) < 500 {
				mine = append(mine, rs)
			}
		}
		if len(mine) != len(p.sessions) {
			return fmt.Errorf("found %d sessions, want %d", len(mine), len(p.sessions))
		}
		return each(ctx, d.parallel, len(mine), func(ctx context.Context, k int) error { return readEvents(ctx, c, mine[k].ID) })
	})
	if err != nil {
		return nil, err
	}
	s.fill(&r)
	return []row{r}, nil
}

// crossServerPage: o.pages pages of o.pageSize sessions, newest first across every server,
// merged from each server's listing.
func (d *directRun) crossServerPage(r row) ([]row, error) {
	o := d.o
	r.MinimumCalls = float64(len(d.sims) + o.pages*len(d.sims))
	s, err := iterate(d.ctx, d.env, d.fresh, func() error {
		offset := make([]int, len(d.clients))
		for range o.pages {
			if err := d.mergePage(offset); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.fill(&r)
	return []row{r}, nil
}

// mergePage reads the next page of every server's listing from offset (one more session than
// a page) and merges them newest first into one page, advancing offset by the sessions taken.
func (d *directRun) mergePage(offset []int) error {
	o := d.o
	heads := make([][]upstream.RestoreSession, len(d.clients))
	err := each(d.ctx, d.parallel, len(d.clients), func(ctx context.Context, si int) error {
		p, _, err := d.clients[si].RestoreSessions(ctx, upstream.RestoreSessionListOptions{
			ListOptions: upstream.ListOptions{Limit: o.pageSize + 1, Offset: offset[si]}})
		if err != nil {
			return err
		}
		heads[si] = p.Results
		return nil
	})
	if err != nil {
		return err
	}
	for n := 0; n < o.pageSize; n++ { // merge newest first
		best := -1
		for si, h := range heads {
			if len(h) > 0 && (best < 0 || h[0].CreationTime.After(heads[best][0].CreationTime)) {
				best = si
			}
		}
		if best < 0 {
			return fmt.Errorf("ran out of sessions")
		}
		heads[best] = heads[best][1:]
		offset[best]++
	}
	return nil
}

// nodeLookups: every id of the lookups (each distinct one twice) read from its server.
func (d *directRun) nodeLookups(r row) ([]row, error) {
	ids, distinct := d.lookupIDs(d.o.lookups)
	r.MinimumCalls = float64(serversUsed(distinct) + len(distinct))
	r.Extra["distinctIds"] = float64(len(distinct))
	r.Note = "a script looks every id up (no de-duplication)"
	byName := map[string]int{}
	for i, s := range d.sims {
		byName[s.name] = i
	}
	parsed := make([]gid.ID, len(ids))
	for i, id := range ids {
		var err error
		if parsed[i], err = gid.Parse(id); err != nil {
			return nil, err
		}
	}
	s, err := iterate(d.ctx, d.env, d.fresh, func() error {
		return each(d.ctx, d.parallel, len(parsed), func(ctx context.Context, i int) error {
			_, _, err := d.clients[byName[parsed[i].Server]].RestoreSession(ctx, parsed[i].Upstream)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	s.fill(&r)
	return []row{r}, nil
}

// overhead: one plain listing call under load, at concurrency 1 (sequential) or at each
// level of --concurrency above 1 (parallel).
func (d *directRun) overhead(row) ([]row, error) {
	o := d.o
	levels := []int{1}
	if d.parallel {
		levels = slices.DeleteFunc(slices.Clone(o.concurrency), func(c int) bool { return c == 1 })
	}
	c := d.clients[0]
	return d.overheadRows(d.ctx, func() error {
		_, _, err := c.RestoreSessions(d.ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: o.overheadN}})
		return err
	}, levels, "plain REST call with upstream.Client (token reused)", nil)
}

// flatSessionsEvents: the newest 10 sessions of the first server with their events, the token
// reused (steady).
func (d *directRun) flatSessionsEvents(r row) ([]row, error) {
	c := d.clients[0]
	if _, err := c.Token(d.ctx); err != nil {
		return nil, err
	}
	s, err := iterate(d.ctx, d.env, nil, func() error { return directFlat(d.ctx, c, d.parallel) })
	if err != nil {
		return nil, err
	}
	r.Mode, r.Note = "steady", "token reused"
	r.MinimumCalls = float64(d.flatMinimum())
	r.Extra["criticalPathMs"] = 2 * ms(d.o.latency)
	s.fill(&r)
	return []row{r}, nil
}

func directFlat(ctx context.Context, c *upstream.Client, parallel bool) error {
	p, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 10}})
	if err != nil {
		return err
	}
	return each(ctx, parallel, len(p.Results), func(ctx context.Context, k int) error { return readEvents(ctx, c, p.Results[k].ID) })
}
