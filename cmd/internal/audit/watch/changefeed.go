package watch

// # The v8 change feed
//
// On a server with apiVersion v8 the holder of the server's lease also long-polls the change
// feed, GET /v8/Events ((*upstream.Client).Changes), between and during polls, so a new or
// changed session is archived within about a second of VBO reporting it, whatever the poll
// interval (the poll still runs at its interval as a safety net):
//
//   - RestoreSessionUpdate: the session is re-read by id (GET RestoreSessions/{id}) with its
//     new events and archived like a polled one (same Archive, hook, feed entries: rules,
//     subscriptions and the report see it alike). When the event carries organizationId (the
//     OpenAPI does not promise it) that id is the session's organisation: an exact join,
//     where the poll joins by name and leaves a name two organisations share unjoined.
//   - RestoreSessionDelete (or a 404 on the re-read): the archived session is marked
//     deleted_in_vbo_ns (store.Session.DeletedInVboAt) and no longer followed, instead of
//     being re-read for ever; its store.KindDeleted feed entry ends the session's
//     restoreEventAdded subscriptions with NOT_FOUND on every replica (Feed.FollowEvents).
//     v6 and v7 have no delete signal: there, a GET of an open session answering 404 while
//     the poll follows it up (followOpen) marks it alike.
//
// The change token is stored per server (store.ChangeToken) and advanced in the
// archive transaction of the page it ends (store.Checkpoint.ChangeToken), so after a crash
// or a takeover the feed resumes exactly where the archive stops. Without a token, or when
// the server no longer knows it (upstream.ErrChangeTokenExpired), the feed starts over: a
// fresh token from=latest is taken FIRST, then a poll lists from the high-water mark, then
// the token is stored; a change made in between is in the listing, the feed, or both (the
// archive is idempotent), never in neither.
//
// The poll and the feed of one server never archive at once (poller.archMu): a session is
// "started" once however the two interleave.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ChangeSource is a v8 server's change feed; *upstream.Client implements it. A Source that
// also implements it, with APIVersion "v8", is followed through its feed.
type ChangeSource interface {
	APIVersion() string
	Changes(ctx context.Context, from string, limit int, timeout time.Duration) (upstream.ChangePage, error)
}

var _ ChangeSource = (*upstream.Client)(nil)

const (
	// changeWait is the long-poll's wait: the server answers at once when something changed.
	changeWait = 25 * time.Second
	// changePageSize is the events read per call, archived in one transaction.
	changePageSize = batchSize
	// changeRetryMin and changeRetryMax bound the pause after a failed read or write.
	changeRetryMin = 250 * time.Millisecond
	changeRetryMax = 30 * time.Second
)

// changeFollower is a poller's change feed goroutine (one per lease epoch).
type changeFollower struct {
	archMu sync.Mutex // held by a poll and by the feed while they archive

	mu     sync.Mutex
	epoch  int64
	cancel context.CancelFunc
	done   chan struct{}
}

// changeSource is the poller's change feed, when its server has one.
func (p *poller) changeSource() (ChangeSource, bool) {
	cs, ok := p.src.(ChangeSource)
	if !ok || cs.APIVersion() != upstream.APIv8 {
		return nil, false
	}
	return cs, true
}

// pollLocked is a poll that the change feed does not archive alongside.
func (p *poller) pollLocked(ctx context.Context, lease store.Lease) error {
	p.changes.archMu.Lock()
	defer p.changes.archMu.Unlock()
	return p.poll(ctx, lease)
}

// followChanges makes the change feed run under lease (nil: stop it). Called by the poller's
// loop after each lease attempt; a feed that ended on its own (no feed on the server, the
// lease lost) is not restarted for the same epoch.
func (p *poller) followChanges(ctx context.Context, lease *store.Lease) {
	cs, ok := p.changeSource()
	if !ok {
		return
	}
	f := &p.changes
	f.mu.Lock()
	same := lease != nil && f.cancel != nil && f.epoch == lease.Epoch
	f.mu.Unlock()
	if same {
		return
	}
	p.stopChanges()
	if lease == nil {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	f.mu.Lock()
	f.epoch, f.cancel, f.done = lease.Epoch, cancel, done
	f.mu.Unlock()
	l := *lease
	go func() {
		defer close(done)
		p.runChanges(cctx, l, cs)
	}()
}

// stopChanges ends the change feed and waits for it.
func (p *poller) stopChanges() {
	f := &p.changes
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.cancel, f.done = nil, nil
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// runChanges follows the feed until ctx ends, the lease is lost or the server turns out to
// have no feed.
func (p *poller) runChanges(ctx context.Context, lease store.Lease, cs ChangeSource) {
	st := p.w.o.Store
	pause := changeRetryMin
	failed := func(what string, err error) bool {
		switch {
		case ctx.Err() != nil:
			return false
		case errors.Is(err, store.ErrLeaseLost):
			p.log.Info("watch: change feed stopped: lease lost")
			return false
		case errors.Is(err, upstream.ErrNoChangeFeed):
			p.log.Warn("watch: the server has no change feed; polling only", "err", err)
			return false
		}
		p.log.Warn("watch: change feed: "+what+" failed; retrying", "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, max(changeRetryMin, min(changeRetryMax, p.w.o.Interval)))
		return true
	}
	tok, err := st.ChangeToken(ctx, p.name)
	for err != nil {
		if !failed("reading the change token", err) {
			return
		}
		tok, err = st.ChangeToken(ctx, p.name)
	}
	for ctx.Err() == nil {
		if tok == "" {
			if tok, err = p.resyncChanges(ctx, lease, cs); err != nil {
				tok = ""
				if !failed("catching up from a listing", err) {
					return
				}
				continue
			}
		}
		page, err := cs.Changes(ctx, tok, changePageSize, changeWait)
		if errors.Is(err, upstream.ErrChangeTokenExpired) {
			p.log.Warn("watch: change token expired or unknown; catching up from a listing", "err", err)
			tok = ""
			continue
		}
		if err == nil {
			err = p.applyChanges(ctx, lease, cs, page)
		}
		if err != nil {
			if !failed("reading changes", err) {
				return
			}
			continue // the same token again: archiving is idempotent
		}
		tok, pause = page.NextChangeToken, changeRetryMin
	}
}

// resyncChanges takes a fresh token (from=latest), then catches up from a listing (a poll),
// then stores the token: every change after the token is read from the feed next, every
// change before it is in the listing.
func (p *poller) resyncChanges(ctx context.Context, lease store.Lease, cs ChangeSource) (string, error) {
	page, err := cs.Changes(ctx, upstream.ChangesLatest, 1, 0)
	if err != nil {
		return "", err
	}
	p.changes.archMu.Lock()
	defer p.changes.archMu.Unlock()
	if err := p.poll(ctx, lease); err != nil {
		return "", err
	}
	if err := p.w.o.Store.Archive(ctx, lease, nil, store.Checkpoint{ChangeToken: page.NextChangeToken}, nil); err != nil {
		return "", err
	}
	p.log.Info("watch: following the v8 change feed")
	return page.NextChangeToken, nil
}

// applyChanges archives one page of the change feed in one transaction, with the token
// after it.
func (p *poller) applyChanges(ctx context.Context, lease store.Lease, cs ChangeSource, page upstream.ChangePage) error {
	// The last event per session decides; an update's organizationId is kept.
	last := map[string]upstream.ChangeEvent{}
	orgOf := map[string]string{}
	var ids []string
	for _, ev := range page.Results {
		if _, seen := last[ev.ID]; !seen {
			ids = append(ids, ev.ID)
		}
		last[ev.ID] = ev
		if ev.OrganizationID != "" {
			orgOf[ev.ID] = ev.OrganizationID
		}
	}
	p.changes.archMu.Lock()
	defer p.changes.archMu.Unlock()
	known, err := p.w.o.Store.Sessions(ctx, p.name, ids)
	if err != nil {
		return err
	}
	ps := &pollState{lease: lease, open: map[string]*store.Session{}, now: time.Now()}
	changes := make([]*store.Change, len(ids))
	deleted := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.w.o.BackfillConcurrency)
	for i, id := range ids {
		old := known[id]
		if last[id].Type == upstream.ChangeRestoreSessionDelete {
			deleted[i] = true
			continue
		}
		if old != nil && old.Final() {
			continue // a final session never changes
		}
		g.Go(func() error {
			s, err := p.getSession(gctx, id)
			if errors.Is(err, upstream.ErrNotFound) {
				deleted[i] = true // deleted since the event
				return nil
			}
			if err != nil {
				return err
			}
			c, err := p.changeWithOrg(gctx, ps, *s, old, orgOf[id])
			changes[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var list []store.Change
	var gone []string
	for i, id := range ids {
		switch {
		case deleted[i]:
			gone = append(gone, id)
		case changes[i] != nil:
			list = append(list, *changes[i])
		}
	}
	slices.SortStableFunc(list, func(a, b store.Change) int {
		return a.Session.Session.CreationTime.Compare(b.Session.Session.CreationTime)
	})
	return p.archive(ctx, lease, list, store.Checkpoint{ChangeToken: page.NextChangeToken, DeletedInVbo: gone})
}

// changeWithOrg is poller.change with the organisation given by the change event, when it
// has one, instead of the name join.
func (p *poller) changeWithOrg(ctx context.Context, ps *pollState, s upstream.RestoreSession, old *store.Session, orgID string) (*store.Change, error) {
	if orgID != "" && old == nil {
		// This session's name resolves to the event's id, without listing organisations.
		// A poll state of its own (copying *ps would read ps.orgs, which sibling goroutines
		// write under p.mu).
		ps = &pollState{lease: ps.lease, backfill: ps.backfill, now: ps.now, from: ps.from,
			open: map[string]*store.Session{}, orgs: map[string]string{upstream.OrgNameKey(s.Organization): orgID}}
	}
	c, err := p.change(ctx, ps, s, old)
	if err != nil || c == nil {
		return c, err
	}
	if orgID != "" {
		c.Session.OrgID = orgID // fills an organisation the name join left unresolved
	}
	return c, nil
}
