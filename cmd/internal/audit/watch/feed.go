package watch

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
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
	wake    chan string

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
	f := &Feed{st: o.Store, servers: o.Servers, buffer: o.Buffer, log: o.Logger, wake: make(chan string, 64),
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
	kind      string // store.KindStarted, KindEnded, or KindEvents (events and end of one session)
	server    string
	sessionID string
	ch        chan store.FeedEntry
	err       error // set (under f.mu) before ch is closed by the feed
}

func (s *subscriber) wants(e *store.FeedEntry) bool {
	if s.kind != store.KindEvents {
		return e.Kind == s.kind
	}
	return e.Server == s.server && e.SessionID == s.sessionID && (e.Kind == store.KindEvents || e.Kind == store.KindEnded)
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
// client subscribes again, with since, under the new configuration).
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

// FollowSessions streams sessions that start (or end): with since, first the archived ones
// whose start (end) is at or after since, interleaved across servers by that time, then live
// ones from since on; without since, live ones only, leaving out what a backfill finds.
func (f *Feed) FollowSessions(ctx context.Context, kind resolvers.FeedKind, since *time.Time) (*resolvers.Stream[resolvers.FeedSession], error) {
	sk := store.KindStarted
	if kind == resolvers.FeedEnded {
		sk = store.KindEnded
	}
	sub := &subscriber{kind: sk}
	marks := f.register(sub)
	out := make(chan resolvers.FeedSession)
	stream := &resolvers.Stream[resolvers.FeedSession]{C: out}
	go func() {
		defer close(out)
		defer f.unregister(sub)
		send := func(e *store.FeedEntry) bool {
			select {
			case out <- feedSession(e):
				return true
			case <-ctx.Done():
				return false
			}
		}
		if since != nil {
			if err := f.replay(ctx, sk, *since, marks, send); err != nil {
				stream.SetErr(err)
				return
			}
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
				if since != nil && e.At.Before(*since) || since == nil && e.Backfill {
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

func feedSession(e *store.FeedEntry) resolvers.FeedSession {
	return resolvers.FeedSession{Server: e.Server, OrgID: e.Session.OrgID, Session: e.Session.Session, At: e.At}
}

// replay sends the archived entries of kind with At >= since up to the marks, merging the
// servers by At (each server's own order kept).
func (f *Feed) replay(ctx context.Context, kind string, since time.Time, marks map[string]int64, send func(*store.FeedEntry) bool) error {
	type cursor struct {
		server string
		rank   int
		buf    []store.FeedEntry
		after  int64
		done   bool
	}
	var cs []*cursor
	for i, s := range f.servers {
		cs = append(cs, &cursor{server: s, rank: i})
	}
	fill := func(c *cursor) error {
		if len(c.buf) > 0 || c.done {
			return nil
		}
		page, err := f.st.Replay(ctx, c.server, kind, since, c.after, marks[c.server], replayPage)
		if err != nil {
			return err
		}
		c.buf, c.done = page, len(page) < replayPage
		if len(page) > 0 {
			c.after = page[len(page)-1].Seq
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

// FollowEvents streams a session's events: the archived ones, then each one as the watcher
// reads it; the stream ends once the session has ended and all its events were sent.
func (f *Feed) FollowEvents(ctx context.Context, server, sessionID string) (*resolvers.Stream[resolvers.FeedEvent], error) {
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
		ok, err := sendAll(0, 1<<31-1, mark)
		if err != nil || !ok {
			stream.SetErr(err)
			return
		}
		if s, err := f.st.Session(ctx, server, sessionID); err == nil && s.EndedSeq != 0 && s.EndedSeq <= mark {
			return // ended before we subscribed: everything was replayed
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
				if e.Kind == store.KindEnded {
					return
				}
				if ok, err := sendAll(e.FirstOrd, e.LastOrd, e.Seq); err != nil || !ok {
					stream.SetErr(err)
					return
				}
			}
		}
	}()
	return stream, nil
}
