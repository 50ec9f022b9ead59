package loaders

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Window is the creationTime window sent upstream as startTimeFrom/startTimeTo (nil = open).
type Window struct {
	From, To *time.Time
}

// windowKey is Window in comparable form (unix nanos, 0 = open), for loader keys.
type windowKey struct{ from, to int64 }

func (w Window) key() windowKey {
	var k windowKey
	if w.From != nil {
		k.from = w.From.UnixNano()
	}
	if w.To != nil {
		k.to = w.To.UnixNano()
	}
	return k
}

func (k windowKey) window() Window {
	var w Window
	if k.from != 0 {
		t := time.Unix(0, k.from).UTC()
		w.From = &t
	}
	if k.to != 0 {
		t := time.Unix(0, k.to).UTC()
		w.To = &t
	}
	return w
}

// posKey is gid.Position in comparable form.
type posKey struct {
	nanos int64
	skip  int
	done  bool
	set   bool
}

func keyOf(p *gid.Position) posKey {
	if p == nil {
		return posKey{}
	}
	return posKey{nanos: p.Time.UnixNano(), skip: p.Skip, done: p.Done, set: true}
}

func (k posKey) position() *gid.Position {
	if !k.set {
		return nil
	}
	return &gid.Position{Time: time.Unix(0, k.nanos).UTC(), Skip: k.skip, Done: k.done}
}

// sessionStream reads one server's restore sessions newest first, page by page, from a start
// position. It resumes a listing without re-reading from offset 0: it narrows startTimeTo to
// the position's time (plus a second, whatever the server's rounding and bound inclusiveness)
// and drops what the position says was already consumed.
type sessionStream struct {
	l        *Loaders
	server   string
	window   Window
	pageSize int
	// firstPage is the limit of the first call (see walkFirstPage); later calls ask for
	// pageSize.
	firstPage int

	start     *gid.Position
	budget    int  // sessions this stream may fetch (<= 0: no bound)
	paused    bool // stopped at the budget, not at the end of the listing
	dropSkip  int  // sessions at start.Time still to drop
	offset    int  // the next call's offset: the sessions fetched so far
	buf       []upstream.RestoreSession
	exhausted bool
	pos       gid.Position // position after the last session consumed
	consumed  int
	idsAtPos  []string // ids consumed (this request) at pos.Time
}

// newStream opens a stream asking for firstPage sessions in its first call and pageSize in
// the others.
func (l *Loaders) newStream(server string, w Window, start *gid.Position, firstPage, pageSize int) *sessionStream {
	s := &sessionStream{l: l, server: server, window: w, pageSize: pageSize, firstPage: min(firstPage, pageSize), start: start, budget: l.b.cfg.ScanBudget}
	if start != nil {
		s.pos = *start
		s.dropSkip = start.Skip
		if start.Done {
			s.exhausted = true
		}
		resumeTo := start.Time.Add(time.Second)
		if w.To == nil || resumeTo.Before(*w.To) {
			s.window.To = &resumeTo
		}
	}
	return s
}

// walkFirstPage is the first call's limit of a walk in pages of Config.PageSize over w:
// Config.FirstPageSize for an open-ended listing, PageSize for one bounded by startTimeFrom.
// A stream sized to what its caller needs (a merge lane of first+1) asks for that from the
// first call on.
func (l *Loaders) walkFirstPage(w Window) int {
	if w.From == nil {
		return l.b.cfg.FirstPageSize
	}
	return l.b.cfg.PageSize
}

// head returns the next session without consuming it, fetching a page when needed; nil when
// the stream is exhausted or paused at its scan budget (see paused).
func (s *sessionStream) head(ctx context.Context) (*upstream.RestoreSession, error) {
	for {
		for len(s.buf) > 0 {
			h := &s.buf[0]
			if s.start != nil && !s.start.Done {
				if h.CreationTime.After(s.start.Time) {
					s.buf = s.buf[1:] // newer than the position: seen on an earlier page
					continue
				}
				if h.CreationTime.Equal(s.start.Time) && s.dropSkip > 0 {
					s.dropSkip--
					s.buf = s.buf[1:]
					continue
				}
			}
			// Keyset guard across the offset pages of one walk: a session inserted upstream
			// (or a cached page mixed with a fresh one) shifts later pages, which would bring
			// back what was just consumed or something newer. Both are dropped.
			if s.consumed > 0 && (h.CreationTime.After(s.pos.Time) ||
				h.CreationTime.Equal(s.pos.Time) && slices.Contains(s.idsAtPos, h.ID)) {
				s.buf = s.buf[1:]
				continue
			}
			return h, nil
		}
		if s.exhausted {
			return nil, nil
		}
		// Pause at the budget, but only after consuming something: a stream that has only
		// dropped what a resumed cursor covers must move on, or it would pause at the same place
		// on every request.
		if s.budget > 0 && s.offset >= s.budget && s.consumed > 0 {
			s.paused = true // the caller ends its page here; the cursor resumes at s.pos
			return nil, nil
		}
		if err := s.fetch(ctx); err != nil {
			return nil, err
		}
	}
}

// pop consumes the head (call head first) and returns the position after it.
func (s *sessionStream) pop() (upstream.RestoreSession, gid.Position) {
	h := s.buf[0]
	s.buf = s.buf[1:]
	if h.CreationTime.Equal(s.pos.Time) {
		s.pos.Skip++
		s.idsAtPos = append(s.idsAtPos, h.ID)
	} else {
		s.pos = gid.Position{Time: h.CreationTime, Skip: 1}
		s.idsAtPos = append(s.idsAtPos[:0], h.ID)
	}
	s.consumed++
	return h, s.pos
}

// position is where the stream stands: Done once exhausted and drained.
func (s *sessionStream) position() gid.Position {
	if s.exhausted && len(s.buf) == 0 {
		return gid.Position{Done: true}
	}
	return s.pos
}

// cursorPosition is the position to record in a cursor, given the stream's current head (nil
// when none). ok is false when the stream has nothing to record (never read, no head).
func (s *sessionStream) cursorPosition(head *upstream.RestoreSession) (gid.Position, bool) {
	switch p := s.position(); {
	case p.Done, s.start != nil, s.consumed > 0:
		return p, true
	case head != nil:
		// Read but nothing consumed: everything newer than the head has been seen (there is
		// none), so sessions created later are not picked up by the next page out of order.
		return gid.Position{Time: head.CreationTime}, true
	}
	return gid.Position{}, false
}

func (s *sessionStream) fetch(ctx context.Context) error {
	limit := s.pageSize
	if s.offset == 0 { // the first call: every later one follows a non-empty page
		limit = s.firstPage
	}
	page, err := s.l.sessionPage(ctx, s.server, pageQuery{window: s.window.key(), offset: s.offset, limit: limit})
	if err != nil {
		return err
	}
	s.buf = page.Results // only called once buf is drained; pages are shared, never appended to
	s.offset += len(page.Results)
	s.exhausted = page.Last(limit)
	return nil
}

// pageQuery is one listing call.
type pageQuery struct {
	window windowKey
	offset int
	limit  int
}

func (q pageQuery) cacheKey(server string) string {
	return server + "\x00sessions\x00" + strconv.FormatInt(q.window.from, 10) + "\x00" +
		strconv.FormatInt(q.window.to, 10) + "\x00" + strconv.Itoa(q.offset) + "\x00" + strconv.Itoa(q.limit)
}

// sessionPage fetches one listing page through the request memo and the listing TTL cache.
func (l *Loaders) sessionPage(ctx context.Context, server string, q pageQuery) (*upstream.Page[upstream.RestoreSession], error) {
	key := q.cacheKey(server)
	// Failures are not memoised: a later walk in this request may retry.
	return l.pages.do(ctx, key, true, func() (*upstream.Page[upstream.RestoreSession], error) {
		if l.b.listings != nil {
			if v, ok := l.b.listings.get(key); ok {
				return v.(*upstream.Page[upstream.RestoreSession]), nil
			}
		}
		c, err := l.client(server)
		if err != nil {
			return nil, err
		}
		w := q.window.window()
		page, _, err := c.RestoreSessions(ctx, upstream.RestoreSessionListOptions{
			ListOptions:   upstream.ListOptions{Limit: q.limit, Offset: q.offset},
			StartTimeFrom: w.From, StartTimeTo: w.To,
		})
		if err != nil {
			return nil, err
		}
		for i := range page.Results {
			l.b.rememberSession(server, &page.Results[i])
		}
		if l.b.listings != nil {
			l.b.listings.add(key, page, sessionPageBytes(page))
		}
		return page, nil
	})
}

// ErrUpstreamPaging: a server's pagination does not end (or is too large to hold).
var ErrUpstreamPaging = errors.New("upstream pagination out of bounds")
