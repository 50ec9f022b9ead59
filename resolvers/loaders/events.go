package loaders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// EventsQuery asks for one page of a session's events. Reading streams: at most one upstream
// page is held at a time, besides the events the page keeps.
type EventsQuery struct {
	Server, SessionID string
	// Final says the session has stopped: a read of all its events may be cached for good.
	Final bool
	// After is the upstream offset the page starts at (events before it are skipped).
	After int
	// Need is how many matching events the page keeps (first+1 tells whether more follow).
	Need int
	// Limit is the events asked for in the page's one call (cost.EventsLimit).
	Limit int
	// Count asks for the matches of the whole session (totalCount): the session is read from
	// offset 0 in pages of Config.EventsPageSize, up to Config.EventsCounted events.
	Count bool
	// FilterKey names Match: equal keys must mean equal filters (it keys the request's memo).
	FilterKey string
	// Match selects the events the page keeps and counts (nil: all).
	Match func(*upstream.RestoreSessionEvent) bool
}

// EventsPage is what an EventsQuery read.
type EventsPage struct {
	// Events are the matching events from After on, at most Need; Offsets their upstream offsets.
	Events  []upstream.RestoreSessionEvent
	Offsets []int
	// Next is the upstream offset where reading stopped: the next page continues there.
	Next int
	// End says the session has no events from Next on.
	End bool
	// Total is the matches in the whole session, when every event was read (Count within
	// EventsCounted, or a page from offset 0 that reached the end).
	Total *int
}

type eventsKey struct {
	server, session string
	final           bool
	after, need     int
	limit           int
	count           bool
	filter          string
}

// RestoreSessionEvents reads one page of a session's events (see EventsQuery). Identical
// queries in one request share one read; a stopped session read whole is cached across
// requests.
func (l *Loaders) RestoreSessionEvents(ctx context.Context, q EventsQuery) (*EventsPage, error) {
	k := eventsKey{q.Server, q.SessionID, q.Final, q.After, q.Need, q.Limit, q.Count, q.FilterKey}
	return l.eventsMemo.do(ctx, k, false, func() (*EventsPage, error) { return l.readEvents(ctx, q) })
}

// eventsReader fills a page while events stream past it.
type eventsReader struct {
	q     EventsQuery
	page  EventsPage
	total int // matches seen from offset 0
}

func (r *eventsReader) see(ev *upstream.RestoreSessionEvent, offset int) {
	if r.q.Match != nil && !r.q.Match(ev) {
		return
	}
	r.total++
	if offset >= r.q.After && len(r.page.Events) < r.q.Need {
		r.page.Events = append(r.page.Events, *ev)
		r.page.Offsets = append(r.page.Offsets, offset)
	}
}

// reserve makes room for up to n more events in the page (what a page of n events read can add),
// so a page filled from one read grows its slices once.
func (r *eventsReader) reserve(n int) {
	n = min(n, r.q.Need-len(r.page.Events))
	if n > 0 {
		r.page.Events = slices.Grow(r.page.Events, n)
		r.page.Offsets = slices.Grow(r.page.Offsets, n)
	}
}

func (l *Loaders) readEvents(ctx context.Context, q EventsQuery) (*EventsPage, error) {
	r := &eventsReader{q: q}
	if all, ok := l.b.cachedEvents(q.Server, q.SessionID); ok {
		r.reserve(len(all) - q.After)
		for i := range all {
			r.see(&all[i], i)
		}
		r.page.Next, r.page.End, r.page.Total = len(all), true, &r.total
		return &r.page, nil
	}
	c, err := l.client(q.Server)
	if err != nil {
		return nil, err
	}
	if q.Count {
		err = l.countEvents(ctx, c, r)
	} else {
		err = l.pageOfEvents(ctx, c, r, q.After)
		if err == nil && q.After == 0 && r.page.End {
			r.page.Total = &r.total // the whole session was read: every match is known
		}
	}
	if err != nil {
		if errors.Is(err, ErrUpstreamPaging) {
			return nil, eventsPagingError(q.Server, "pagination does not end", err)
		}
		return nil, err
	}
	return &r.page, nil
}

// pageOfEvents reads the page's one call: Limit events from offset.
func (l *Loaders) pageOfEvents(ctx context.Context, c Upstream, r *eventsReader, offset int) error {
	p, _, err := c.RestoreSessionEvents(ctx, r.q.SessionID, upstream.ListOptions{Limit: r.q.Limit, Offset: offset})
	if err != nil {
		return err
	}
	r.reserve(len(p.Results))
	for i := range p.Results {
		r.see(&p.Results[i], offset+i)
	}
	r.page.Next = offset + len(p.Results)
	r.page.End = p.Last(r.q.Limit)
	if r.page.End && offset == 0 && r.q.Final {
		l.b.rememberEvents(r.q.Server, r.q.SessionID, p.Results)
	}
	return nil
}

// countEvents reads the session from offset 0 in pages, up to EventsCounted events, counting
// the matches and keeping the page's; one more call reads the page when it lies beyond.
func (l *Loaders) countEvents(ctx context.Context, c Upstream, r *eventsReader) error {
	pageSize, counted := l.b.cfg.EventsPageSize, l.b.cfg.EventsCounted
	offset, guard := 0, repeatGuard{}
	for offset < counted {
		limit := min(pageSize, counted-offset)
		p, _, err := c.RestoreSessionEvents(ctx, r.q.SessionID, upstream.ListOptions{Limit: limit, Offset: offset})
		if err != nil {
			return err
		}
		if err := guard.check(r.q.SessionID, offset, p.Results); err != nil {
			return err
		}
		r.reserve(len(p.Results) - max(r.q.After-offset, 0))
		for i := range p.Results {
			r.see(&p.Results[i], offset+i)
		}
		last := p.Last(limit)
		if last && offset == 0 && r.q.Final {
			l.b.rememberEvents(r.q.Server, r.q.SessionID, p.Results)
		}
		offset += len(p.Results)
		if last {
			r.page.Next, r.page.End, r.page.Total = offset, true, &r.total
			return nil
		}
	}
	// More than EventsCounted events: totalCount stays unknown.
	r.page.Next = offset
	if len(r.page.Events) < r.q.Need {
		return l.pageOfEvents(ctx, c, r, max(r.q.After, offset))
	}
	return nil
}

// repeatGuard refuses a server that answers a later events page like the previous one (it
// ignores offset, so its pagination would never end).
type repeatGuard struct{ prevFirst string }

// check looks at the page read at offset.
func (g *repeatGuard) check(sessionID string, offset int, results []upstream.RestoreSessionEvent) error {
	if len(results) == 0 {
		return nil
	}
	if offset > 0 && results[0].ID == g.prevFirst {
		return fmt.Errorf("%w: events of session %s: the server repeats a page (offset ignored?)", ErrUpstreamPaging, sessionID)
	}
	g.prevFirst = results[0].ID
	return nil
}

// eventsPagingError is how a server whose events pagination does not end fails: it answered,
// but not sensibly, so it is an upstream error of that server.
func eventsPagingError(server, message string, err error) *upstream.Error {
	return &upstream.Error{Server: server, Method: http.MethodGet, Path: "RestoreSessions/{id}/Events",
		StatusCode: http.StatusOK, Message: message, Err: err}
}
