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

func (e *env) directScenario(ctx context.Context, sc string, parallel bool) ([]row, error) {
	o := e.o
	conc := 1
	if parallel {
		conc = o.maxConc
	}
	var clients []*upstream.Client
	fresh := func() error {
		var err error
		clients, err = e.directClients(conc)
		return err
	}
	if err := fresh(); err != nil {
		return nil, err
	}
	r := row{Mode: "cold", Extra: map[string]float64{}, Note: ""}
	switch sc {
	case "dashboard", "repeat-dashboard":
		want, minCalls := 0, 0
		for _, s := range e.sims {
			p := planDashboard(s.sim, o.dashSessions)
			want += len(p.shown)
			minCalls += p.minCalls
		}
		r.MinimumCalls = float64(minCalls)
		if sc == "repeat-dashboard" {
			r.Mode, r.Note = "warm", "no cache: every repeat costs what the first did"
			for _, s := range e.sims {
				r.MinimumCalls -= float64(planDashboard(s.sim, o.dashSessions).minCalls - planDashboard(s.sim, o.dashSessions).workingCalls)
			}
		}
		prep := fresh
		if sc == "repeat-dashboard" {
			prep = nil
		}
		s, err := iterate(ctx, e, prep, func() error {
			var shown atomic.Int64
			err := each(ctx, parallel, len(clients), func(ctx context.Context, si int) error {
				c := clients[si]
				orgs, err := c.Organizations(ctx)
				if err != nil {
					return err
				}
				return each(ctx, parallel, len(orgs), func(ctx context.Context, oi int) error {
					var mine []upstream.RestoreSession
					for rs, err := range c.RestoreSessionsIter(ctx, upstream.RestoreSessionListOptions{}) {
						if err != nil {
							return err
						}
						if strings.EqualFold(rs.Organization, orgs[oi].Name) {
							mine = append(mine, rs)
							if len(mine) == o.dashSessions {
								break
							}
						}
					}
					shown.Add(int64(len(mine)))
					return each(ctx, parallel, len(mine), func(ctx context.Context, k int) error { return readEvents(ctx, c, mine[k].ID) })
				})
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

	case "audit-window":
		p := e.planAudit(500)
		r.MinimumCalls = float64(p.minCalls)
		r.Extra["sessionsShown"] = float64(len(p.sessions))
		c := clients[0]
		s, err := iterate(ctx, e, func() error { err := fresh(); c = clients[0]; return err }, func() error {
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
			return each(ctx, parallel, len(mine), func(ctx context.Context, k int) error { return readEvents(ctx, c, mine[k].ID) })
		})
		if err != nil {
			return nil, err
		}
		s.fill(&r)
		return []row{r}, nil

	case "cross-server-page":
		r.MinimumCalls = float64(len(e.sims) + o.pages*len(e.sims))
		s, err := iterate(ctx, e, fresh, func() error {
			offset := make([]int, len(clients))
			for range o.pages {
				heads := make([][]upstream.RestoreSession, len(clients))
				err := each(ctx, parallel, len(clients), func(ctx context.Context, si int) error {
					p, _, err := clients[si].RestoreSessions(ctx, upstream.RestoreSessionListOptions{
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
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.fill(&r)
		return []row{r}, nil

	case "node-lookups":
		ids, distinct := e.lookupIDs(o.lookups)
		r.MinimumCalls = float64(serversUsed(distinct) + len(distinct))
		r.Extra["distinctIds"] = float64(len(distinct))
		r.Note = "a script looks every id up (no de-duplication)"
		byName := map[string]int{}
		for i, s := range e.sims {
			byName[s.name] = i
		}
		parsed := make([]gid.ID, len(ids))
		for i, id := range ids {
			var err error
			if parsed[i], err = gid.Parse(id); err != nil {
				return nil, err
			}
		}
		s, err := iterate(ctx, e, fresh, func() error {
			return each(ctx, parallel, len(parsed), func(ctx context.Context, i int) error {
				_, _, err := clients[byName[parsed[i].Server]].RestoreSession(ctx, parsed[i].Upstream)
				return err
			})
		})
		if err != nil {
			return nil, err
		}
		s.fill(&r)
		return []row{r}, nil

	case "overhead":
		levels := []int{1}
		if parallel {
			levels = slices.DeleteFunc(slices.Clone(o.concurrency), func(c int) bool { return c == 1 })
		}
		c := clients[0]
		return e.overheadRows(ctx, func() error {
			_, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: o.overheadN}})
			return err
		}, levels, "plain REST call with upstream.Client (token reused)", nil)

	case "flat-sessions-events":
		c := clients[0]
		if _, err := c.Token(ctx); err != nil {
			return nil, err
		}
		s, err := iterate(ctx, e, nil, func() error { return directFlat(ctx, c, parallel) })
		if err != nil {
			return nil, err
		}
		r.Mode, r.Note = "steady", "token reused"
		r.MinimumCalls = float64(e.flatMinimum())
		r.Extra["criticalPathMs"] = 2 * ms(o.latency)
		s.fill(&r)
		return []row{r}, nil
	}
	return nil, fmt.Errorf("not implemented for direct systems")
}

func directFlat(ctx context.Context, c *upstream.Client, parallel bool) error {
	p, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: 10}})
	if err != nil {
		return err
	}
	return each(ctx, parallel, len(p.Results), func(ctx context.Context, k int) error { return readEvents(ctx, c, p.Results[k].ID) })
}
