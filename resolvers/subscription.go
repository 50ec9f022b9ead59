package resolvers

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// WatchState is one server's restore-watch state, as the store records it.
type WatchState struct {
	// LastPoll is the end of the last successful poll (zero before the first).
	LastPoll         time.Time
	ArchivedSessions int64
	BackfillDone     bool
	// BackfillFrom is the backfill window's start (zero before the watcher ran); BackfillProgress
	// the share of the window archived, 0 to 1 (1 when done).
	BackfillFrom     time.Time
	BackfillProgress float64
	// LastError is the last poll's error ("" when it succeeded).
	LastError string
}

// WatchStatus reads the restore watch's state; the watcher implements it.
type WatchStatus interface {
	WatchState(ctx context.Context, server string) (WatchState, error)
}

// FeedKind selects what a session subscription follows.
type FeedKind int

// Feed kinds.
const (
	FeedStarted FeedKind = iota
	FeedEnded
)

// FeedSession is a session from the archive's feed.
type FeedSession struct {
	Server string
	// OrgID is the organisation id the watcher recorded ("" when the server had no
	// organisation of the session's name).
	OrgID   string
	Session upstream.RestoreSession
	// At is when it started (or ended).
	At time.Time
	// Position is where the stream stands once this session is sent (Minted unset).
	Position FeedPosition
}

// FeedEvent is an event of a session from the archive's feed.
type FeedEvent struct {
	Server, SessionID string
	Event             upstream.RestoreSessionEvent
}

// Stream is a subscription's source: C closes at the end; Err then says why when it ended
// early (a slow subscriber, a store failure), nil when it ended normally.
type Stream[T any] struct {
	C <-chan T

	mu  sync.Mutex
	err error
}

// SetErr records why the stream ends (the producer calls it before closing C).
func (s *Stream[T]) SetErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Err is why the stream ended early (read after C is closed).
func (s *Stream[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// all yields C's items, then Err when the stream ended early.
func (s *Stream[T]) all() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v := range s.C {
			if !yield(v, nil) {
				return
			}
		}
		if err := s.Err(); err != nil {
			var zero T
			yield(zero, err)
		}
	}
}

// forward serves a subscription from seq: each item conv keeps is sent on the returned
// channel, which closes when seq ends, ctx ends or seq yields an error (endStream records it).
func forward[T, U any](ctx context.Context, r *Resolver, seq iter.Seq2[T, error], conv func(*T) (U, bool)) <-chan U {
	out := make(chan U, 1)
	go func() {
		defer close(out)
		for v, err := range seq {
			if err != nil {
				r.endStream(ctx, err)
				return
			}
			u, ok := conv(&v)
			if !ok {
				continue
			}
			select {
			case out <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// SessionFeed follows the archive; the watch implements it. Every item is delivered once, in
// order per server; replays come from the archive and join the live feed with no gap and no
// duplicate. The resolvers filter by scope.
type SessionFeed interface {
	// FollowSessions starts from from: after a position (nothing it covers, everything after
	// it, with the since it remembers), at a time, or live. A position the archive cannot
	// resume from is ErrPositionExpired or ErrPositionAhead.
	FollowSessions(ctx context.Context, kind FeedKind, from FeedFrom) (*Stream[FeedSession], error)
	// FollowEvents streams the session's events from order fromOrder on.
	FollowEvents(ctx context.Context, server, sessionID string, fromOrder int) (*Stream[FeedEvent], error)
	// Archived reports whether the archive holds the session (the watch archives the sessions
	// of its backfill window and every one after).
	Archived(ctx context.Context, server, sessionID string) (bool, error)
}

// ErrSlowSubscriber ends the subscription of a client that did not keep up with the feed.
var ErrSlowSubscriber = errors.New("subscription closed: the client did not keep up with the feed; subscribe again with after set to the last position received (extensions.position, or the SSE event id) to resume")

// CodeSlowSubscriber is the extensions.code of a subscription closed for being slow.
const CodeSlowSubscriber = "SLOW_SUBSCRIBER"

// ErrResubscribe ends the subscriptions when the configuration is reloaded: credentials and
// scopes may have changed, so each client subscribes again (with after: nothing is lost).
var ErrResubscribe = errors.New("subscription closed: the gateway's configuration was reloaded; subscribe again (with after set to the last position received) to continue")

// CodeResubscribe is the extensions.code of ErrResubscribe.
const CodeResubscribe = "RESUBSCRIBE"

// ErrSessionDeleted ends restoreEventAdded when VBO deleted the session it follows (the watch
// learnt it: a v8 RestoreSessionDelete, or a GET of the open session answering 404): no event
// and no end will come. Sent as NOT_FOUND.
var ErrSessionDeleted = errors.New("subscription ended: the restore session was deleted in VBO; no further events will come")

type streamEndKey struct{}

// streamEnd holds why a subscription ended early, for the transport to send as its last
// message (websocket and SSE alike).
type streamEnd struct {
	mu  sync.Mutex
	err *gqlerror.Error
}

// WithStreamEnd prepares ctx to carry a subscription's end error (see StreamEnd).
func WithStreamEnd(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamEndKey{}, &streamEnd{})
}

// StreamEnd is the error that ended the subscription running under ctx early, nil when it
// ended normally.
func StreamEnd(ctx context.Context) *gqlerror.Error {
	h, _ := ctx.Value(streamEndKey{}).(*streamEnd)
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// endStream records err as the reason the subscription ends.
func (r *Resolver) endStream(ctx context.Context, err error) {
	h, _ := ctx.Value(streamEndKey{}).(*streamEnd)
	if h == nil || err == nil {
		return
	}
	e := &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": CodeSlowSubscriber}}
	if errors.Is(err, ErrResubscribe) {
		e.Extensions["code"] = CodeResubscribe
	} else if errors.Is(err, ErrSessionDeleted) {
		e.Extensions["code"] = CodeNotFound
	} else if ue := (*upstream.Error)(nil); errors.As(err, &ue) {
		// An ended session's events read from its VBO server (endedSessionEvents).
		code, msg, server := classify(err)
		e = &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
		if server != "" {
			e.Extensions["server"] = server
		}
	} else if !errors.Is(err, ErrSlowSubscriber) {
		r.Logger.ErrorContext(ctx, "subscription ended by an error", "err", err, "request_id", requestid.From(ctx))
		e = &gqlerror.Error{Message: "subscription ended: the archive could not be read (request id " + requestid.From(ctx) + ")",
			Extensions: map[string]any{"code": CodeInternal}}
	}
	h.mu.Lock()
	h.err = e
	h.mu.Unlock()
}

// feedMatch is the subscription filter over archived sessions: the query filter's fields,
// with organizationIds compared to the organisation the watch recorded.
func feedMatch(filter *model.RestoreSessionFilter) (func(*FeedSession) bool, error) {
	w, err := sessionWindow(filter)
	if err != nil {
		return nil, err
	}
	orgs, err := parseOrgFilter(filter)
	if err != nil {
		return nil, err
	}
	attrs := sessionAttrs(filter)
	var servers []string
	if filter != nil {
		servers = filter.Servers
	}
	return func(fs *FeedSession) bool {
		t := fs.Session.CreationTime
		switch {
		case w.From != nil && t.Before(*w.From), w.To != nil && !t.Before(*w.To):
			return false
		case servers != nil && !slices.Contains(servers, fs.Server):
			return false
		case orgs != nil && !orgs.allows(fs.Server, fs.OrgID):
			return false
		case attrs != nil && !attrs(&fs.Session):
			return false
		}
		return true
	}, nil
}

// followSessions serves restoreSessionStarted and restoreSessionEnded: the feed's sessions,
// each checked against the caller's scope (archivedSessionVisible) and the filter, each with its
// sealed resume position. after (or SSE's Last-Event-ID, which wins) resumes; since starts at a
// time; the two together are refused.
func (r *Resolver) followSessions(ctx context.Context, kind FeedKind, filter *model.RestoreSessionFilter, since *time.Time, after *string) (<-chan *model.RestoreSession, error) {
	// The edge authenticated the caller with the configuration in force when this subscription
	// started, whatever the transport (httpapi: each request, each websocket operation, each
	// console request): a key a reload removed never gets here.
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if r.Feed == nil {
		return nil, ErrNotConfigured
	}
	match, err := feedMatch(filter)
	if err != nil {
		return nil, err
	}
	from := FeedFrom{Since: utcPtr(since)}
	if resume := resumeFrom(ctx, after); resume != nil {
		if after != nil && since != nil && resume == after {
			return nil, badInputf("after and since exclude each other: after resumes a stream (its position remembers the since it started with), since starts one")
		}
		if from.After, err = decodeFeedPosition(r.Cursors, kind, *resume); err != nil {
			return nil, err
		}
		from.Since = nil
	}
	stream, err := r.Feed.FollowSessions(ctx, kind, from)
	if err != nil {
		return nil, err
	}
	return sendPositioned(ctx, forward(ctx, r, stream.all(), func(fs *FeedSession) (positioned[*model.RestoreSession], bool) {
		if !r.archivedSessionVisible(p, fs.Server, fs.OrgID) || !match(fs) {
			return positioned[*model.RestoreSession]{}, false
		}
		pos := fs.Position
		pos.Minted = time.Now().UTC()
		return positioned[*model.RestoreSession]{&model.RestoreSession{ServerName: fs.Server, Upstream: fs.Session},
			encodeFeedPosition(r.Cursors, kind, &pos)}, true
	})), nil
}

// followEvents serves restoreEventAdded: the session's scope is checked once, as for
// restoreSession(id), before anything is streamed. A session that has ended and that the archive
// does not hold (it ended before the watch's backfill window) will never be archived: its
// events come from its VBO server, and the subscription completes after the last. after (or
// SSE's Last-Event-ID) resumes after the event it names, of the same session only.
func (r *Resolver) followEvents(ctx context.Context, sessionID string, after *string) (<-chan *model.RestoreEvent, error) {
	if _, err := principal(ctx); err != nil { // authenticated as in followSessions
		return nil, err
	}
	if r.Feed == nil {
		return nil, ErrNotConfigured
	}
	parsed, err := gid.ParseKind(sessionID, gid.KindRestoreSession)
	if err != nil {
		return nil, err
	}
	fromOrder := 0
	if resume := resumeFrom(ctx, after); resume != nil {
		ep, err := decodeEventPosition(r.Cursors, *resume)
		if err != nil {
			return nil, err
		}
		if ep.server != parsed.Server || ep.sessionID != parsed.Upstream {
			return nil, badInputf("the resume position (after or Last-Event-ID) belongs to another session's events")
		}
		fromOrder = ep.order + 1
	}
	rs, err := r.loadVisibleSession(ctx, parsed.Server, parsed.Upstream)
	if err != nil {
		return nil, err
	}
	conv := func(fe *FeedEvent) (positioned[*model.RestoreEvent], bool) {
		if fe.Event.Order < fromOrder {
			return positioned[*model.RestoreEvent]{}, false
		}
		pos := encodeEventPosition(r.Cursors, eventPosition{server: fe.Server, sessionID: fe.SessionID, order: fe.Event.Order})
		return positioned[*model.RestoreEvent]{&model.RestoreEvent{ServerName: fe.Server, SessionID: fe.SessionID, Upstream: fe.Event}, pos}, true
	}
	if rs.Upstream.Finished() {
		archived, err := r.Feed.Archived(ctx, parsed.Server, parsed.Upstream)
		if err != nil {
			return nil, err
		}
		if !archived {
			return sendPositioned(ctx, r.endedSessionEvents(ctx, parsed.Server, parsed.Upstream, conv)), nil
		}
	}
	stream, err := r.Feed.FollowEvents(ctx, parsed.Server, parsed.Upstream, fromOrder)
	if err != nil {
		return nil, err
	}
	return sendPositioned(ctx, forward(ctx, r, stream.all(), conv)), nil
}

// endedSessionEvents streams the events of an ended session from its VBO server and completes.
func (r *Resolver) endedSessionEvents(ctx context.Context, server, sessionID string, conv func(*FeedEvent) (positioned[*model.RestoreEvent], bool)) <-chan positioned[*model.RestoreEvent] {
	return forward(ctx, r, r.Backend.EndedSessionEvents(ctx, server, sessionID), func(e *upstream.RestoreSessionEvent) (positioned[*model.RestoreEvent], bool) {
		return conv(&FeedEvent{Server: server, SessionID: sessionID, Event: *e})
	})
}
