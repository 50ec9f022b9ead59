// Package watch is the restore watch: one poller per VBO server for the whole deployment, the
// archive it keeps in the store, and the feed that subscriptions follow.
//
// # Pollers and leases
//
// Every gateway process runs a Watcher with a loop per server, but only the holder of that
// server's lease in the store polls it. Each loop tries to take or renew the lease once per
// interval; the lease lasts leaseTTL = 3 × interval on the store's clock (PostgreSQL's, shared
// by the replicas). A poll that outlives part of its lease renews it as it goes. The leases
// are spread over the live replicas (about S/N each; see lease.go). When the polling replica
// dies, its lease and its heartbeat expire at most leaseTTL after its last renewal, and the
// replica the server is then assigned to (or any, once the lease has been free an interval)
// takes it: takeover within 5 × interval (75 s with the default 15 s). A clean shutdown
// releases the leases, and other replicas take over within two intervals. Every archive
// write checks the lease's epoch (a fencing token), so a replica that stalled past its lease
// cannot write after another took over.
//
// # A poll
//
//  1. List RestoreSessions from the checkpoint: startTimeFrom = high-water mark (newest
//     creationTime archived) minus the overlap. On first start the checkpoint is the backfill
//     window's start. A window whose first page is full is split in two and each half listed
//     again, so memory stays bounded by one page (1,000 sessions) however large the backfill.
//  2. Sessions are archived oldest first, in batches; the checkpoint advances with each
//     committed batch and never passes a session that is not archived, so a crash (kill -9
//     included) neither loses nor repeats anything.
//  3. Events are read from where the archive stopped: at most maxEventsPerPoll per running
//     session per poll, and to the end (ten times that per poll) once the session stopped.
//  4. Sessions still open in the archive that the listing no longer covers are re-read one
//     by one (GET RestoreSessions/{id}) until they stop.
//
// Backfill and events reads run with bounded concurrency per server (backfillConcurrency),
// through the server's client (its breaker and concurrency limit apply: an open breaker ends
// the poll, and the next poll resumes from the checkpoint).
package watch

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Source is what the watcher reads of one VBO server; *upstream.Client implements it.
type Source interface {
	Organizations(ctx context.Context) ([]upstream.Organization, error)
	RestoreSessions(ctx context.Context, opts upstream.RestoreSessionListOptions) (*upstream.Page[upstream.RestoreSession], *upstream.Response, error)
	RestoreSession(ctx context.Context, id string) (*upstream.RestoreSession, *upstream.Response, error)
	RestoreSessionEvents(ctx context.Context, sessionID string, opts upstream.ListOptions) (*upstream.Page[upstream.RestoreSessionEvent], *upstream.Response, error)
}

var _ Source = (*upstream.Client)(nil)

// Server is one VBO server to watch.
type Server struct {
	Name   string
	Source Source
	// Account is the gateway's own VBO account on the server (servers[].username): a session
	// VBO says it initiated may be a START's whose answer was lost (Attributions.Claim).
	// "": no session is claimed.
	Account string
}

// Options configure a Watcher. Store and Servers are required.
type Options struct {
	Store   *store.Store
	Servers []Server
	// Interval between polls (default config.DefaultWatchInterval); the lease lasts 3 × Interval.
	Interval time.Duration
	// Overlap re-read before the high-water mark (default config.DefaultWatchOverlap).
	Overlap time.Duration
	// Backfill is how far back the first poll reads (0: nothing before the first start).
	Backfill time.Duration
	// BackfillConcurrency bounds the calls in flight per server (default
	// config.DefaultBackfillConcurrency).
	BackfillConcurrency int
	// MaxEventsPerPoll bounds the events read per running session per poll (default
	// config.DefaultMaxEventsPerPoll).
	MaxEventsPerPoll int
	// Retention deletes sessions that ended longer ago (0: keep). It runs as a River
	// periodic job (retention.go): jobs.New sets the watcher up.
	Retention time.Duration
	// RetentionInterval is how often the retention runs (default hourly; and at start).
	RetentionInterval time.Duration
	// Hook runs in every archive transaction (see package store).
	Hook store.Hook
	// Attributions, when set, is the restore front door's log: the watcher joins it to every
	// session it archives (attribution.go). nil: every session is outside the gateway.
	Attributions Attributions
	// AttributionWait bounds how long an unanswered START on a session's organisation holds
	// back deciding that the session was started outside the gateway (default
	// DefaultAttributionWait).
	AttributionWait time.Duration
	// Sweep is the reconciliation sweep (sweep.go).
	Sweep Sweep
	// Holder names this process in leases (default host-pid-random).
	Holder string
	Logger *slog.Logger
}

// Watcher runs the pollers. It is built once and never changed; Run starts it.
type Watcher struct {
	o       Options
	ttl     time.Duration
	pollers []*poller
	byName  map[string]*poller

	amu      sync.Mutex
	assigned assignment // lease.go
}

const (
	pageSize = upstream.IterPageSize
	// batchSize is the number of sessions per archive transaction.
	batchSize = 100
	// minSplit: a listing window shorter than this is walked page by page, not split.
	minSplit = time.Minute
	// maxPages bounds one listing or events walk (a server whose pages never end).
	maxPages = 10_000
)

// New validates the options and builds the watcher.
func New(o Options) (*Watcher, error) {
	if o.Store == nil {
		return nil, errors.New("watch: no store")
	}
	if len(o.Servers) == 0 {
		return nil, errors.New("watch: no servers")
	}
	if o.Interval <= 0 {
		o.Interval = config.DefaultWatchInterval
	}
	if o.Overlap <= 0 {
		o.Overlap = config.DefaultWatchOverlap
	}
	if o.BackfillConcurrency <= 0 {
		o.BackfillConcurrency = config.DefaultBackfillConcurrency
	}
	if o.MaxEventsPerPoll <= 0 {
		o.MaxEventsPerPoll = config.DefaultMaxEventsPerPoll
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = time.Hour
	}
	if o.AttributionWait <= 0 {
		o.AttributionWait = DefaultAttributionWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Sweep = o.Sweep.withDefaults()
	if o.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	w := &Watcher{o: o, ttl: 3 * o.Interval, byName: map[string]*poller{}}
	for _, s := range o.Servers {
		if s.Name == "" || s.Source == nil {
			return nil, errors.New("watch: a server needs a name and a source")
		}
		if _, dup := w.byName[s.Name]; dup {
			return nil, fmt.Errorf("watch: duplicate server %q", s.Name)
		}
		p := &poller{w: w, name: s.Name, src: s.Source, account: strings.TrimSpace(s.Account), log: o.Logger.With("server", s.Name)}
		w.pollers = append(w.pollers, p)
		w.byName[s.Name] = p
	}
	return w, nil
}

// LeaseTTL is how long a lease, and a replica's heartbeat, lasts after its last renewal
// (3 × the interval): a replica that beat within it is live.
func (w *Watcher) LeaseTTL() time.Duration { return w.ttl }

// TakeoverBound is the longest a server goes unpolled after its polling replica dies.
func (w *Watcher) TakeoverBound() time.Duration { return w.ttl + 2*w.o.Interval }

// Holder is this process's lease identity.
func (w *Watcher) Holder() string { return w.o.Holder }

// Run polls until ctx ends, then releases the leases it holds.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	w.beat(ctx, w.serverNames())
	hdone := make(chan struct{})
	go func() { defer close(hdone); w.heartbeat(hctx) }()
	defer func() { hcancel(); <-hdone }() // leave the live set after the leases are released
	for _, p := range w.pollers {
		wg.Go(func() { p.run(ctx) })
	}
	wg.Wait()
}

// Stats are a poller's counters in this process.
type Stats struct {
	Polls, PollErrors int64
	// Leader: this process holds the server's lease.
	Leader bool
	// BackfillProgress is the fraction of the backfill window archived (1 when done).
	BackfillProgress float64
	// Retries are the upstream calls sent again inside a poll (retry.go).
	Retries int64
	// Sweeps, SweepCalls and FoundLate count the reconciliation sweep (sweep.go).
	Sweeps, SweepCalls, FoundLate int64
}

// poller is one server's loop.
type poller struct {
	w    *Watcher
	name string
	src  Source
	log  *slog.Logger
	// account is the gateway's own VBO account on the server (Server.Account).
	account string

	mu    sync.Mutex
	stats Stats
	gone  map[string]bool // open sessions the server answers 404 for (deleted upstream)
	sweep sweepState      // sweep.go; used by the poll only

	changes changeFollower // the v8 change feed (changefeed.go)
}

func (p *poller) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func (p *poller) setLeader(b bool) {
	p.mu.Lock()
	p.stats.Leader = b
	p.mu.Unlock()
}

func (p *poller) run(ctx context.Context) {
	st := p.w.o.Store
	var lease *store.Lease
	defer func() {
		if lease != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := st.ReleaseLease(rctx, *lease); err != nil {
				p.log.Warn("watch: could not release the lease", "err", err)
			}
			cancel()
			p.setLeader(false)
		}
	}()
	defer p.stopChanges() // before the lease is released
	for ctx.Err() == nil {
		started := time.Now()
		if err := p.ensure(ctx); err != nil {
			p.log.Warn("watch: store unavailable", "err", err)
		} else {
			l, ok, err := p.acquire(ctx, lease)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					p.log.Warn("watch: lease", "err", err)
				}
			case !ok:
				if lease != nil {
					p.log.Info("watch: lease taken over by another replica")
				}
				lease = nil
			default:
				if lease == nil || lease.Epoch != l.Epoch {
					p.log.Info("watch: polling this server (lease acquired)", "holder", l.Holder, "epoch", l.Epoch)
				}
				lease = &l
			}
		}
		p.setLeader(lease != nil)
		if lease != nil {
			if err := p.pollLeased(ctx, lease); errors.Is(err, store.ErrLeaseLost) {
				p.log.Info("watch: lease lost during a poll; another replica polls now")
				lease = nil
				p.setLeader(false)
			}
		}
		p.followChanges(ctx, lease)
		wait := p.w.o.Interval - time.Since(started)
		select {
		case <-ctx.Done():
		case <-time.After(max(wait, 0)):
		}
	}
}

// ensure creates the server's row with its backfill window on first use.
func (p *poller) ensure(ctx context.Context) error {
	now, err := p.w.o.Store.Now(ctx)
	if err != nil {
		return err
	}
	_, err = p.w.o.Store.EnsureServer(ctx, p.name, now.Add(-p.w.o.Backfill))
	return err
}

// pollLeased polls once while renewing the lease in the background; a lost lease cancels the
// poll (and fencing refuses its writes anyway).
func (p *poller) pollLeased(ctx context.Context, lease *store.Lease) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cur := *lease
	done := make(chan struct{})
	renewed, lost := cur, false
	go func() {
		defer close(done)
		t := time.NewTicker(p.w.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				l, err := p.w.o.Store.RenewLease(pctx, renewed, p.w.ttl)
				if errors.Is(err, store.ErrLeaseLost) {
					lost = true
					cancel()
					return
				}
				if err == nil {
					renewed = l
				}
			}
		}
	}()
	err := p.pollLocked(pctx, cur)
	cancel()
	<-done
	*lease = renewed
	if lost || errors.Is(err, store.ErrLeaseLost) {
		return store.ErrLeaseLost
	}
	if ctx.Err() != nil {
		return nil // shutting down: not a failed poll
	}
	p.mu.Lock()
	p.stats.Polls++
	if err != nil {
		p.stats.PollErrors++
	}
	p.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
		if ctx.Err() == nil {
			p.log.Warn("watch: poll failed; the next poll resumes from the checkpoint", "err", err)
		}
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	if err := p.w.o.Store.SetPolled(sctx, *lease, time.Now(), msg); errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	return nil
}

// pollState is one poll's working set.
type pollState struct {
	lease    store.Lease
	backfill bool // this poll runs the backfill
	orgs     map[string]string
	open     map[string]*store.Session // archived, not final; removed once seen in the listing
	from     time.Time                 // backfill window start (progress)
	now      time.Time
	archived int
	// failed: a session of this poll could not be read; the checkpoint stays before it and
	// the next poll resumes there (what was read is archived). errs says why.
	failed bool
	errs   []error
}

func (p *poller) poll(ctx context.Context, lease store.Lease) error {
	st, err := p.w.o.Store.State(ctx, p.name)
	if err != nil {
		return err
	}
	open, err := p.w.o.Store.OpenSessions(ctx, p.name)
	if err != nil {
		return err
	}
	ps := &pollState{lease: lease, backfill: !st.BackfillDone, open: map[string]*store.Session{}, now: time.Now(),
		from: st.BackfillFrom}
	for _, s := range open {
		ps.open[s.Session.ID] = s
	}
	from := st.BackfillFrom
	if !st.HighWater.IsZero() {
		from = st.HighWater.Add(-p.w.o.Overlap)
	}
	if ps.backfill {
		p.log.Info("watch: backfill", "from", from, "window_start", st.BackfillFrom)
	}
	if err := p.walk(ctx, from, time.Time{}, func(list []upstream.RestoreSession) error {
		return p.archiveSorted(ctx, ps, list)
	}); err != nil {
		return err
	}
	if ps.backfill && !ps.failed { // a partly failed backfill finishes on a later poll, still as backfill
		if err := p.w.o.Store.Archive(ctx, lease, nil, store.Checkpoint{BackfillDone: true}, nil); err != nil {
			return err
		}
		p.mu.Lock()
		p.stats.BackfillProgress = 1
		p.mu.Unlock()
		p.log.Info("watch: backfill done", "sessions", ps.archived)
	}
	if err := p.followOpen(ctx, ps); err != nil {
		return err
	}
	if err := p.settleAttributions(ctx, lease); err != nil {
		return err
	}
	if err := p.maybeSweep(ctx, ps, st); err != nil {
		return err
	}
	return ps.partialErr()
}

// walk lists the sessions created in [from, to) (to zero: no upper bound), calling fn with
// lists of at most about one page, oldest first. A window whose first page is full is split.
func (p *poller) walk(ctx context.Context, from, to time.Time, fn func([]upstream.RestoreSession) error) error {
	opts := upstream.RestoreSessionListOptions{ListOptions: upstream.ListOptions{Limit: pageSize}, StartTimeFrom: &from}
	if !to.IsZero() {
		opts.StartTimeTo = &to
	}
	page, err := p.listSessions(ctx, opts)
	if err != nil {
		return err
	}
	if page.Last(pageSize) {
		return fn(page.Results)
	}
	end := to
	if end.IsZero() {
		end = time.Now().Add(time.Minute)
	}
	if span := end.Sub(from); span > minSplit {
		mid := from.Add(span / 2).Truncate(time.Microsecond)
		if err := p.walk(ctx, from, mid, fn); err != nil {
			return err
		}
		return p.walk(ctx, mid, to, fn)
	}
	// More than a page within a minute: walk it page by page.
	all := page.Results
	for pages := 1; !page.Last(pageSize); pages++ {
		if pages >= maxPages {
			return fmt.Errorf("watch: listing of %s does not end after %d pages", p.name, pages)
		}
		opts.Offset += len(page.Results)
		if page, err = p.listSessions(ctx, opts); err != nil {
			return err
		}
		all = append(all, page.Results...)
	}
	return fn(all)
}

// archiveSorted archives a listing window oldest first, in batches.
func (p *poller) archiveSorted(ctx context.Context, ps *pollState, list []upstream.RestoreSession) error {
	list = dedupe(list)
	slices.SortFunc(list, func(a, b upstream.RestoreSession) int {
		return cmp.Or(a.CreationTime.Compare(b.CreationTime), strings.Compare(a.ID, b.ID))
	})
	for len(list) > 0 {
		batch := list[:min(len(list), batchSize)]
		list = list[len(batch):]
		if err := p.archiveBatch(ctx, ps, batch); err != nil {
			return err
		}
	}
	return nil
}

func dedupe(list []upstream.RestoreSession) []upstream.RestoreSession {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, s := range list {
		if !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, s)
		}
	}
	return out
}

// archiveBatch reads what is new about each session (events) and archives the batch in one
// transaction; the checkpoint advances to the newest session of the batch.
func (p *poller) archiveBatch(ctx context.Context, ps *pollState, batch []upstream.RestoreSession) error {
	ids := make([]string, len(batch))
	for i := range batch {
		ids[i] = batch[i].ID
	}
	known, err := p.w.o.Store.Sessions(ctx, p.name, ids)
	if err != nil {
		return err
	}
	changes := make([]*store.Change, len(batch))
	errs := make([]error, len(batch))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.w.o.BackfillConcurrency)
	for i := range batch {
		s := batch[i]
		old := known[s.ID]
		delete(ps.open, s.ID)
		if old != nil && old.Final() {
			continue
		}
		g.Go(func() error {
			c, err := p.change(gctx, ps, s, old)
			changes[i], errs[i] = c, err
			return nil // one session's failure does not hold back the others
		})
	}
	_ = g.Wait()
	return p.commit(ctx, ps, changes, p.settle(ctx, ps, batch, changes, errs))
}

func (p *poller) commit(ctx context.Context, ps *pollState, changes []*store.Change, highWater time.Time) error {
	return p.commitCheckpoint(ctx, ps, changes, store.Checkpoint{HighWater: highWater})
}

// commitCheckpoint is commit with a whole checkpoint (followOpen's deletions).
func (p *poller) commitCheckpoint(ctx context.Context, ps *pollState, changes []*store.Change, cp store.Checkpoint) error {
	highWater := cp.HighWater
	var list []store.Change
	for _, c := range changes {
		if c != nil {
			list = append(list, *c)
		}
	}
	if err := p.archive(ctx, ps.lease, list, cp); err != nil {
		return err
	}
	ps.archived += len(list)
	if ps.backfill && !highWater.IsZero() {
		if span := ps.now.Sub(ps.from); span > 0 {
			p.mu.Lock()
			p.stats.BackfillProgress = min(1, float64(highWater.Sub(ps.from))/float64(span))
			p.mu.Unlock()
		}
	}
	return nil
}

// change builds a session's change: its new state plus the events read since the archive
// stopped (bounded per poll).
func (p *poller) change(ctx context.Context, ps *pollState, s upstream.RestoreSession, old *store.Session) (*store.Change, error) {
	from := 0
	next := store.Session{Server: p.name, Session: s, Backfill: ps.backfill}
	if old != nil {
		from = old.EventsRead
		next.OrgID = old.OrgID
	} else {
		id, err := p.orgID(ctx, ps, s.Organization)
		if err != nil {
			return nil, err
		}
		next.OrgID = id
	}
	limit := p.w.o.MaxEventsPerPoll
	if s.Finished() {
		limit *= 10
	}
	events, complete, err := p.events(ctx, s.ID, from, limit)
	if err != nil {
		// The session is archived as it is now (a new one is told at once); its events are
		// read again from the same offset by the next poll (it stays open).
		next.EventsRead, next.EventsComplete = from, false
		return &store.Change{Session: next}, fmt.Errorf("watch: events of %s: %w", s.ID, err)
	}
	next.EventsRead = from + len(events)
	next.EventsComplete = complete && s.Finished()
	return &store.Change{Session: next, NewEvents: events}, nil
}

// orgID resolves an organisation name to its id on this server (one listing per poll, when
// a new session needs it), as sessions are joined to organisations (upstream.OrgJoin). "" when
// no organisation, or several, have that name: the session then belongs to none.
func (p *poller) orgID(ctx context.Context, ps *pollState, name string) (string, error) {
	p.mu.Lock()
	orgs := ps.orgs
	p.mu.Unlock()
	if orgs == nil {
		list, err := p.getOrgs(ctx)
		if err != nil {
			return "", err
		}
		join := upstream.NewOrgJoin(list)
		orgs = make(map[string]string, len(list))
		for _, o := range list {
			if found, _ := join.Lookup(o.Name); found != nil {
				orgs[upstream.OrgNameKey(o.Name)] = found.ID // names several organisations carry stay out
			}
		}
		p.mu.Lock()
		ps.orgs = orgs
		p.mu.Unlock()
	}
	return orgs[upstream.OrgNameKey(name)], nil
}

// events reads up to limit events from offset from; complete reports the end was reached.
func (p *poller) events(ctx context.Context, id string, from, limit int) ([]upstream.RestoreSessionEvent, bool, error) {
	var out []upstream.RestoreSessionEvent
	for pages := 0; len(out) < limit; pages++ {
		if pages >= maxPages {
			return nil, false, fmt.Errorf("watch: events of %s on %s do not end", id, p.name)
		}
		ask := min(pageSize, limit-len(out))
		page, err := p.getEvents(ctx, id, upstream.ListOptions{Offset: from + len(out), Limit: ask})
		if err != nil {
			return nil, false, err
		}
		out = append(out, page.Results...)
		if page.Last(ask) {
			return out, true, nil
		}
	}
	return out, false, nil
}

// followOpen re-reads the archived sessions that may still change and that the listing did
// not cover (they started before the window, or the listing no longer has them), one by one.
// One the server answers 404 for is deleted (a GET by id is the proof; missing from a listing
// alone is not): the batch's checkpoint marks it (store.Checkpoint.DeletedInVbo), which ends
// its events' subscribers.
func (p *poller) followOpen(ctx context.Context, ps *pollState) error {
	var todo []*store.Session
	for _, s := range ps.open {
		if !p.isGone(s.Session.ID) {
			todo = append(todo, s)
		}
	}
	slices.SortFunc(todo, func(a, b *store.Session) int { return a.Session.CreationTime.Compare(b.Session.CreationTime) })
	for len(todo) > 0 {
		batch := todo[:min(len(todo), batchSize)]
		todo = todo[len(batch):]
		changes := make([]*store.Change, len(batch))
		errs := make([]error, len(batch))
		gone := make([]bool, len(batch))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(p.w.o.BackfillConcurrency)
		for i, old := range batch {
			g.Go(func() error {
				cur := old.Session
				if !cur.Finished() {
					s, err := p.getSession(gctx, old.Session.ID)
					if errors.Is(err, upstream.ErrNotFound) {
						p.markGone(old.Session.ID)
						gone[i] = true
						return nil
					}
					if err != nil {
						errs[i] = err
						return nil // the others are still read
					}
					cur = *s
				}
				changes[i], errs[i] = p.change(gctx, ps, cur, old)
				return nil
			})
		}
		_ = g.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		ps.noteErrs(errs)
		var deleted []string
		for i, old := range batch {
			if gone[i] {
				deleted = append(deleted, old.Session.ID)
			}
		}
		if err := p.commitCheckpoint(ctx, ps, changes, store.Checkpoint{DeletedInVbo: deleted}); err != nil {
			return err
		}
	}
	return nil
}

func (p *poller) isGone(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[id]
}

func (p *poller) markGone(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone == nil {
		p.gone = map[string]bool{}
	}
	if !p.gone[id] {
		p.log.Warn("watch: an open session is gone from the server; no longer followed", "session", id)
	}
	p.gone[id] = true
}

// Leading reports whether this process polls server now (holds its lease).
func (w *Watcher) Leading(server string) bool {
	p, ok := w.byName[server]
	return ok && p.Stats().Leader
}
