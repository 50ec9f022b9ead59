package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
)

// Feed fans the store's feed out to subscribers in this process. It tails each server's feed
// once (whoever wrote it: this process's poller or, through PostgreSQL NOTIFY, another
// replica's), whatever the number of subscribers.
//
// Seam: a subscriber registers under the feed's lock and gets, per server, the position up to
// which entries were already dispatched (its mark). It replays from the archive what lies at
// or before its marks and receives live only what comes after them: no gap, no duplicate.
// Entries reach a subscriber in feed order per server. A subscriber whose buffer fills is
// dropped and its stream ends with ErrSlowSubscriber; memory stays bounded.
type Feed struct {
	st      *store.Store
	servers []string
	buffer  int
	log     *slog.Logger
	// retention is the archive's (0: it keeps everything): a resume position older than it
	// may lie before pruned sessions.
	retention time.Duration
	wake      chan string

	mu   sync.Mutex
	last map[string]int64
	subs map[*subscriber]struct{}
}

// ErrSlowSubscriber ends the stream of a subscriber that did not keep up.
var ErrSlowSubscriber = resolvers.ErrSlowSubscriber

// FeedOptions configure a Feed.
type FeedOptions struct {
	Store   *store.Store
	Servers []string // display order (replay interleaves servers by time, ties in this order)
	// Buffer is the entries a subscriber may have undelivered before it is dropped (default 256).
	Buffer int
	Logger *slog.Logger
	// Retention is the archive's retention (watch.retention; 0: keep everything). A resume
	// position handed out longer ago is refused (resolvers.ErrPositionExpired).
	Retention time.Duration
}

// NewFeed reads each server's feed position; Run then follows the feed.
func NewFeed(ctx context.Context, o FeedOptions) (*Feed, error) {
	if o.Store == nil {
		return nil, errors.New("watch: feed without a store")
	}
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	last, err := o.Store.FeedSeqs(ctx)
	if err != nil {
		return nil, err
	}
	f := &Feed{st: o.Store, servers: o.Servers, buffer: o.Buffer, log: o.Logger, retention: o.Retention, wake: make(chan string, 64),
		last: last, subs: map[*subscriber]struct{}{}}
	return f, nil
}

// Run follows the feed until ctx ends: on every change notification, and every two seconds in
// case one was missed.
func (f *Feed) Run(ctx context.Context) {
	cancel := f.st.OnChange(func(server string) {
		select {
		case f.wake <- server:
		default: // a wake-up is pending; the periodic check catches anything else
		}
	})
	defer cancel()
	go f.st.Listen(ctx)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.closeAll()
			return
		case server := <-f.wake:
			if server == "" {
				f.catchUp(ctx)
			} else {
				f.tail(ctx, server)
			}
		case <-tick.C:
			f.catchUp(ctx)
		}
	}
}

// catchUp tails every server whose feed moved.
func (f *Feed) catchUp(ctx context.Context) {
	seqs, err := f.st.FeedSeqs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("watch: feed positions", "err", err)
		}
		return
	}
	for server, seq := range seqs {
		f.mu.Lock()
		behind := seq > f.last[server]
		f.mu.Unlock()
		if behind {
			f.tail(ctx, server)
		}
	}
}

// tail dispatches a server's new entries (only the Run goroutine calls it).
func (f *Feed) tail(ctx context.Context, server string) {
	for {
		f.mu.Lock()
		after := f.last[server]
		f.mu.Unlock()
		entries, err := f.st.FeedAfter(ctx, server, after, 500)
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("watch: read the feed", "server", server, "err", err)
			}
			return
		}
		f.mu.Lock()
		for i := range entries {
			f.dispatch(&entries[i])
			f.last[server] = entries[i].Seq
		}
		f.mu.Unlock()
		if len(entries) < 500 {
			return
		}
	}
}

// dispatch hands e to every interested subscriber; one that is full is dropped (f.mu held).
func (f *Feed) dispatch(e *store.FeedEntry) {
	for s := range f.subs {
		if !s.wants(e) {
			continue
		}
		select {
		case s.ch <- *e:
		default:
			s.err = ErrSlowSubscriber
			delete(f.subs, s)
			close(s.ch)
		}
	}
}

func (f *Feed) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		delete(f.subs, s)
		close(s.ch)
	}
}

// subscriber is one registered interest.
type subscriber struct {
	kind      string // store.KindStarted, KindEnded, or KindEvents (events, end and deletion of one session)
	server    string
	sessionID string
	ch        chan store.FeedEntry
	err       error // set (under f.mu) before ch is closed by the feed
}

func (s *subscriber) wants(e *store.FeedEntry) bool {
	if s.kind != store.KindEvents {
		return e.Kind == s.kind
	}
	return e.Server == s.server && e.SessionID == s.sessionID &&
		(e.Kind == store.KindEvents || e.Kind == store.KindEnded || e.Kind == store.KindDeleted)
}

// register adds a subscriber and returns its marks.
func (f *Feed) register(s *subscriber) map[string]int64 {
	s.ch = make(chan store.FeedEntry, f.buffer)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s] = struct{}{}
	marks := make(map[string]int64, len(f.last))
	for k, v := range f.last {
		marks[k] = v
	}
	return marks
}

func (f *Feed) unregister(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.ch)
	}
}

// endErr is the reason the feed ended s (nil when it was unregistered or the feed stopped).
func (f *Feed) endErr(s *subscriber) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return s.err
}

// CloseAll ends every subscription in this process with err (a configuration reload: each
// client subscribes again, with after, under the new configuration).
func (f *Feed) CloseAll(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.err = err
		delete(f.subs, s)
		close(s.ch)
	}
}

// Subscribers is the number of live subscriptions in this process.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

var _ resolvers.SessionFeed = (*Feed)(nil)

const replayPage = 500

// FollowSessions streams sessions that start (or end), each with the position the stream
// stands at once it is sent (resolvers.FeedPosition: per server, the last feed sequence passed).
//   - After a position: every entry of kind after it, per server in the archive's (commit)
//     order, first from the archive then live; the position's since (or, for a stream that
//     started live, leaving out what a backfill found) filters as it did for the stream that
//     handed it out. Positions are the store's, so any replica resumes them.
//   - Since: first the archived ones whose start (end) is at or after since, interleaved
//     across servers by that time, then live ones from since on.
//   - Neither: live ones only, leaving out what a backfill finds.
func (f *Feed) FollowSessions(ctx context.Context, kind resolvers.FeedKind, from resolvers.FeedFrom) (*resolvers.Stream[resolvers.FeedSession], error) {
	sk := store.KindStarted
	if kind == resolvers.FeedEnded {
		sk = store.KindEnded
	}
	since := from.Since
	pos := map[string]int64{}
	if from.After != nil {
		if err := f.checkPosition(ctx, from.After); err != nil {
			return nil, err
		}
		since = from.After.Since
		for server, seq := range from.After.Seqs {
			pos[server] = seq
		}
	}
	sub := &subscriber{kind: sk}
	marks := f.register(sub)
	if from.After == nil && since == nil {
		// Live only: what the store holds now is history, including what another replica
		// archived that this replica's feed has not dispatched yet.
		heads, err := f.st.FeedSeqs(ctx)
		if err != nil {
			f.unregister(sub)
			return nil, fmt.Errorf("watch: feed positions: %w", err)
		}
		for server, seq := range heads {
			pos[server] = max(pos[server], seq)
		}
	}
	out := make(chan resolvers.FeedSession)
	stream := &resolvers.Stream[resolvers.FeedSession]{C: out}
	keep := func(e *store.FeedEntry) bool {
		if since != nil {
			return !e.At.Before(*since)
		}
		return !e.Backfill
	}
	go func() {
		defer close(out)
		defer f.unregister(sub)
		// pass moves the stream past e; send also hands it over, with the position.
		pass := func(e *store.FeedEntry) { pos[e.Server] = max(pos[e.Server], e.Seq) }
		send := func(e *store.FeedEntry) bool {
			pass(e)
			fs := feedSession(e)
			fs.Position = resolvers.FeedPosition{Seqs: maps.Clone(pos), Since: since}
			select {
			case out <- fs:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if from.After != nil || since != nil {
			lo := pos // a resume replays after its position, a since from the start
			if from.After == nil {
				lo = map[string]int64{}
			}
			if err := f.replay(ctx, sk, since, lo, marks, keep, send); err != nil {
				stream.SetErr(err)
				return
			}
		}
		// Everything up to the marks was replayed or left out.
		for server, seq := range marks {
			pos[server] = max(pos[server], seq)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-sub.ch:
				if !ok {
					stream.SetErr(f.endErr(sub))
					return
				}
				// A position from a replica whose feed ran ahead of this one's: the entries
				// it covers arrive live here, and were sent already.
				if e.Seq <= pos[e.Server] {
					continue
				}
				if !keep(&e) {
					pass(&e)
					continue
				}
				if !send(&e) {
					return
				}
			}
		}
	}()
	return stream, nil
}

// checkPosition refuses a position the archive cannot resume from: one older than the
// retention (what followed it may be pruned), or one beyond the archive's feed.
func (f *Feed) checkPosition(ctx context.Context, p *resolvers.FeedPosition) error {
	if f.retention > 0 && p.Minted.Before(time.Now().Add(-f.retention)) {
		return resolvers.ErrPositionExpired
	}
	seqs, err := f.st.FeedSeqs(ctx)
	if err != nil {
		return err
	}
	for server, seq := range p.Seqs {
		if have, known := seqs[server]; known && seq > have {
			return resolvers.ErrPositionAhead
		}
	}
	return nil
}

func feedSession(e *store.FeedEntry) resolvers.FeedSession {
	return resolvers.FeedSession{Server: e.Server, OrgID: e.Session.OrgID, Session: e.Session.Session, At: e.At}
}

// replay sends the archived entries of kind keep accepts with lo < seq <= marks per server,
// merging the servers by At (each server's own order kept).
func (f *Feed) replay(ctx context.Context, kind string, since *time.Time, lo, marks map[string]int64, keep, send func(*store.FeedEntry) bool) error {
	floor := time.Unix(0, 0) // the store's time bound uses its index; keep decides the rest
	if since != nil {
		floor = *since
	}
	type cursor struct {
		server string
		rank   int
		buf    []store.FeedEntry
		after  int64
		done   bool
	}
	var cs []*cursor
	for i, s := range f.servers {
		cs = append(cs, &cursor{server: s, rank: i, after: lo[s]})
	}
	fill := func(c *cursor) error {
		for len(c.buf) == 0 && !c.done {
			page, err := f.st.Replay(ctx, c.server, kind, floor, c.after, marks[c.server], replayPage)
			if err != nil {
				return err
			}
			c.done = len(page) < replayPage
			if len(page) > 0 {
				c.after = page[len(page)-1].Seq
			}
			for _, e := range page {
				if keep(&e) {
					c.buf = append(c.buf, e)
				}
			}
		}
		return nil
	}
	for {
		var next *cursor
		for _, c := range cs {
			if err := fill(c); err != nil {
				return err
			}
			if len(c.buf) == 0 {
				continue
			}
			if next == nil || cmp.Or(c.buf[0].At.Compare(next.buf[0].At), cmp.Compare(c.rank, next.rank)) < 0 {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		e := next.buf[0]
		next.buf = next.buf[1:]
		if !send(&e) {
			return nil
		}
	}
}

// Archived reports whether the archive holds the session.
func (f *Feed) Archived(ctx context.Context, server, sessionID string) (bool, error) {
	_, err := f.st.Session(ctx, server, sessionID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// FollowEvents streams a session's events from order fromOrder on: the archived ones, then each
// one as the watcher reads it; the stream ends once the session has ended and all its events
// were sent, or with resolvers.ErrSessionDeleted after the events archived before VBO deleted
// it (its KindDeleted feed entry: the same position on every replica).
func (f *Feed) FollowEvents(ctx context.Context, server, sessionID string, fromOrder int) (*resolvers.Stream[resolvers.FeedEvent], error) {
	sub := &subscriber{kind: store.KindEvents, server: server, sessionID: sessionID}
	marks := f.register(sub)
	out := make(chan resolvers.FeedEvent)
	stream := &resolvers.Stream[resolvers.FeedEvent]{C: out}
	go func() {
		defer close(out)
		defer f.unregister(sub)
		sendAll := func(from, to int, upto int64) (bool, error) {
			for {
				evs, err := f.st.Events(ctx, server, sessionID, from, to, upto, replayPage)
				if err != nil {
					return false, err
				}
				for _, e := range evs {
					select {
					case out <- resolvers.FeedEvent{Server: server, SessionID: sessionID, Event: e}:
					case <-ctx.Done():
						return false, nil
					}
					from = e.Order + 1
				}
				if len(evs) < replayPage {
					return true, nil
				}
			}
		}
		mark := marks[server]
		ok, err := sendAll(fromOrder, 1<<31-1, mark)
		if err != nil || !ok {
			stream.SetErr(err)
			return
		}
		s, err := f.st.Session(ctx, server, sessionID)
		if err == nil && s.EndedSeq != 0 && s.EndedSeq <= mark {
			return // ended before we subscribed: everything was replayed
		}
		if err == nil && s.DeletedInVboAt != nil {
			deleted, err := f.st.DeletedSeq(ctx, server, sessionID)
			if err != nil {
				stream.SetErr(err)
				return
			}
			if deleted != 0 && deleted <= mark {
				stream.SetErr(resolvers.ErrSessionDeleted) // deleted before we subscribed
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case e, open := <-sub.ch:
				if !open {
					stream.SetErr(f.endErr(sub))
					return
				}
				switch e.Kind {
				case store.KindEnded:
					return
				case store.KindDeleted:
					stream.SetErr(resolvers.ErrSessionDeleted)
					return
				}
				if ok, err := sendAll(max(e.FirstOrd, fromOrder), e.LastOrd, e.Seq); err != nil || !ok {
					stream.SetErr(err)
					return
				}
			}
		}
	}()
	return stream, nil
}
