package watch

import (
	"context"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The reconciliation sweep (issue 22 item 2). The incremental poll lists from the high-water
// mark minus the overlap, so a session VBO surfaces with an older start time (clock skew, a
// slow commit, a server restored from a snapshot) is never listed by it. Once per
// Sweep.Interval the server's lease holder lists the sessions started in the sweep window
// (from now - Sweep.Window, never before the backfill window's start nor the retention's cut,
// to the high-water mark minus the overlap) and archives those the archive lacks, marked
// FoundLate. They are archived like any new session: a "started" feed entry (subscribers see
// them), the archive hook (rules fire once, and only rules that existed before the session was
// found), events followed until they stop. A sweep makes at most Sweep.MaxCalls listing calls
// (a page each); a larger window is continued by the next sweep from where this one stopped.

// Sweep configures the reconciliation sweep.
type Sweep struct {
	// Interval between sweeps of each server (default config.DefaultSweepInterval; negative:
	// no sweep).
	Interval time.Duration
	// Window is how far back a sweep looks (default config.DefaultSweepWindow).
	Window time.Duration
	// MaxCalls bounds the listing calls of one sweep (default config.DefaultSweepMaxCalls).
	MaxCalls int
}

func (s Sweep) withDefaults() Sweep {
	if s.Interval == 0 {
		s.Interval = config.DefaultSweepInterval
	}
	if s.Window <= 0 {
		s.Window = config.DefaultSweepWindow
	}
	if s.MaxCalls <= 0 {
		s.MaxCalls = config.DefaultSweepMaxCalls
	}
	return s
}

// sweepState is a poller's sweep bookkeeping (in memory: a replica taking a lease over
// sweeps at its first poll).
type sweepState struct {
	last time.Time // when the last sweep started
	// resumeTo is where a sweep cut short by MaxCalls continues: listings are newest first, so
	// what it did not reach lies before the oldest start it read (zero: the window's end).
	resumeTo time.Time
}

// maybeSweep sweeps when one is due. st is the server's state at the start of the poll.
func (p *poller) maybeSweep(ctx context.Context, ps *pollState, st store.ServerState) error {
	sw := p.w.o.Sweep
	if sw.Interval < 0 || ps.backfill || st.HighWater.IsZero() || time.Since(p.sweep.last) < sw.Interval {
		return nil
	}
	p.sweep.last = time.Now()
	to := st.HighWater.Add(-p.w.o.Overlap)
	from := ps.now.Add(-sw.Window)
	if from.Before(st.BackfillFrom) {
		from = st.BackfillFrom // before it is history the watch was told not to archive
	}
	if r := p.w.o.Retention; r > 0 && from.Before(ps.now.Add(-r)) {
		from = ps.now.Add(-r) // retention pruned it on purpose
	}
	if !p.sweep.resumeTo.IsZero() && p.sweep.resumeTo.Before(to) {
		to = p.sweep.resumeTo
	}
	p.sweep.resumeTo = time.Time{}
	if !from.Before(to) {
		return nil
	}
	calls, found := 0, 0
	defer func() {
		p.mu.Lock()
		p.stats.Sweeps++
		p.stats.SweepCalls += int64(calls)
		p.stats.FoundLate += int64(found)
		p.mu.Unlock()
		if found > 0 {
			p.log.Info("watch: the sweep archived sessions the poll had missed", "sessions", found, "calls", calls)
		}
	}()
	opts := upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: pageSize}, StartTimeFrom: &from, StartTimeTo: &to}
	for {
		if calls >= sw.MaxCalls {
			// Cut short: the next sweep lists what lies before the oldest start read (inclusive,
			// so sessions sharing that start are read again, not skipped).
			p.log.Info("watch: sweep cut short by its call budget; the next sweep continues", "before", p.sweep.resumeTo, "max_calls", sw.MaxCalls)
			return nil
		}
		calls++
		page, err := p.listSessions(ctx, opts)
		if err != nil {
			return err
		}
		n, err := p.archiveLate(ctx, ps, page.Results)
		found += n
		if err != nil {
			return err
		}
		if page.Last(pageSize) {
			return nil
		}
		if len(page.Results) > 0 { // newest first: the last is the oldest read
			p.sweep.resumeTo = page.Results[len(page.Results)-1].CreationTime
		}
		opts.Offset += len(page.Results)
	}
}

// archiveLate archives the sessions of list the archive lacks, as found late; it returns how
// many it archived.
func (p *poller) archiveLate(ctx context.Context, ps *pollState, list []upstream.RestoreSession) (int, error) {
	list = dedupe(list)
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	known, err := p.w.o.Store.Sessions(ctx, p.name, ids)
	if err != nil {
		return 0, err
	}
	var changes []*store.Change
	var errs []error
	for _, s := range list {
		if known[s.ID] != nil {
			continue
		}
		c, err := p.change(ctx, ps, s, nil)
		if c != nil {
			c.Session.FoundLate = true
			changes = append(changes, c)
		}
		errs = append(errs, err)
	}
	ps.noteErrs(errs)
	if len(changes) == 0 {
		return 0, nil
	}
	return len(changes), p.commit(ctx, ps, changes, time.Time{})
}
