package loaders

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// MergedSession is one session of a cross-server page with its server and its edge cursor.
type MergedSession struct {
	Server  string
	Session upstream.RestoreSession
	Cursor  gid.StreamCursor
}

// MergedPage is a newest-first page over several servers.
type MergedPage struct {
	Sessions []MergedSession
	HasNext  bool
	// End is the cursor after the page (also when it is empty).
	End gid.StreamCursor
	// Total is the number of matching sessions across the servers when every listing was seen
	// whole from the top; nil otherwise.
	Total *int
	// Errors holds the servers that failed; their sessions are missing from the page.
	Errors map[string]error
}

// MergedRestoreSessions merges the newest-first session streams of servers (in display order,
// which breaks ties) into one page of up to first sessions, continuing from cursor.
//
// The merge runs in four steps: open one lane per server, prime every lane (in parallel) to its
// first matching session, merge the lanes' heads newest first until the page is full, and
// finish the page (errors, cursor, hasNext, total).
func (l *Loaders) MergedRestoreSessions(ctx context.Context, servers []string, w Window, cursor gid.StreamCursor, first int, m *Matcher) *MergedPage {
	firstPage, pageSize := l.lanePageSizes(w, first, m)
	mg := l.openMerge(servers, w, cursor, firstPage, pageSize, m)
	mg.prime(ctx)
	page := &MergedPage{Errors: map[string]error{}}
	mg.fill(ctx, page, first)
	mg.finish(page)
	return page
}

// lanePageSizes are the listing page sizes each lane asks for, in its first call and after:
// just over a page when every session counts (first+1 throughout: the lane is sized to the
// page, and the cost estimate counts one call for it), a walk's pages when the gateway filters
// (most of what is read is dropped; see walkFirstPage).
func (l *Loaders) lanePageSizes(w Window, first int, m *Matcher) (firstPage, pageSize int) {
	if m != nil && m.Fn != nil {
		return l.walkFirstPage(w), l.b.cfg.PageSize
	}
	size := min(max(first+1, 1), upstream.MaxPageSize)
	return size, size
}

// merge is one cross-server page being assembled.
type merge struct {
	lanes []*lane
	match *Matcher
	// pos is every server's position so far. It starts as the incoming cursor as a whole: a
	// server not walked this time (its organisations could not be read) or failing mid-page
	// keeps its place instead of restarting from the top.
	pos gid.StreamCursor
	// fromTop: no lane resumes from a cursor (and none failed), so a total can be counted.
	fromTop bool
}

// lane is one server's stream in a merge, with its next matching session.
type lane struct {
	server string
	s      *sessionStream
	head   *upstream.RestoreSession
	err    error
}

// openMerge opens one lane per server, each continuing from its position in cursor.
func (l *Loaders) openMerge(servers []string, w Window, cursor gid.StreamCursor, firstPage, pageSize int, m *Matcher) *merge {
	mg := &merge{lanes: make([]*lane, 0, len(servers)), match: m, pos: maps.Clone(cursor), fromTop: len(cursor) == 0}
	if mg.pos == nil {
		mg.pos = gid.StreamCursor{}
	}
	for _, name := range servers {
		var start *gid.Position
		if p, ok := cursor[name]; ok {
			start = &p
		}
		mg.lanes = append(mg.lanes, &lane{server: name, s: l.newStream(name, w, start, firstPage, pageSize)})
	}
	return mg
}

// advance finds the lane's next matching head, consuming the sessions that do not match. A
// lane that fails, ends or pauses at its scan budget is left without a head.
func (ln *lane) advance(ctx context.Context, m *Matcher) {
	for {
		h, err := ln.s.head(ctx)
		if err != nil || h == nil {
			ln.head, ln.err = nil, err
			return
		}
		if m.match(ln.server, h) {
			ln.head = h
			return
		}
		ln.s.pop()
	}
}

// prime advances every lane to its first matching session, in parallel (a panic in one lane
// becomes that lane's error). Every lane that has read something is in the cursor from the
// first edge on: a lane left out would be read from the top by a later page, picking up
// sessions created since.
func (mg *merge) prime(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ln := range mg.lanes {
		goRecover(&wg, func() { ln.advance(ctx, mg.match) }, func(err error) { ln.head, ln.err = nil, err })
	}
	wg.Wait()
	for _, ln := range mg.lanes {
		if p, ok := ln.s.cursorPosition(ln.head); ok && ln.err == nil {
			mg.pos[ln.server] = p
		}
	}
}

// fill moves the newest head of all lanes onto the page until it holds first sessions, the
// lanes run dry, or a paused lane may hold newer sessions than the next head.
func (mg *merge) fill(ctx context.Context, page *MergedPage, first int) {
	for len(page.Sessions) < first {
		best := mg.newest()
		if best == nil {
			return
		}
		// A lane paused at its scan budget still has sessions at or before its position, which
		// may be newer than best: the page must end before them to stay newest-first.
		if floor, ok := mg.pausedFloor(); ok && !best.head.CreationTime.After(floor) {
			return
		}
		sess, after := best.s.pop()
		mg.pos[best.server] = after
		page.Sessions = append(page.Sessions, MergedSession{Server: best.server, Session: sess, Cursor: maps.Clone(mg.pos)})
		best.advance(ctx, mg.match)
	}
}

// newest is the lane whose head is newest (the first in display order on a tie); nil when no
// lane has a head.
func (mg *merge) newest() *lane {
	var best *lane
	for _, ln := range mg.lanes {
		if ln.head != nil && (best == nil || ln.head.CreationTime.After(best.head.CreationTime)) {
			best = ln
		}
	}
	return best
}

// pausedFloor is the newest position among lanes paused at their scan budget: their unread
// sessions are at or before it.
func (mg *merge) pausedFloor() (time.Time, bool) {
	var floor time.Time
	found := false
	for _, ln := range mg.lanes {
		if ln.err == nil && ln.s.paused && (!found || ln.s.pos.Time.After(floor)) {
			floor, found = ln.s.pos.Time, true
		}
	}
	return floor, found
}

// finish records how far each lane read (even past the last session on the page: the
// non-matching ones), the failed servers, whether more may follow, and the total when known.
func (mg *merge) finish(page *MergedPage) {
	for _, ln := range mg.lanes {
		if ln.err != nil {
			// The failed server keeps its incoming place, and more may follow from it: a
			// client paging on sees its sessions once it answers again (each page reports it).
			page.Errors[ln.server] = ln.err
			page.HasNext = true
			mg.fromTop = false
			continue
		}
		if ln.head != nil || ln.s.paused {
			page.HasNext = true
		}
		if p, ok := ln.s.cursorPosition(ln.head); ok {
			mg.pos[ln.server] = p
		}
	}
	page.End = mg.pos
	if len(page.Sessions) > 0 {
		page.Sessions[len(page.Sessions)-1].Cursor = maps.Clone(mg.pos)
	}
	if !page.HasNext && mg.fromTop {
		// Every listing was read whole from the top and every match is on this page.
		n := len(page.Sessions)
		page.Total = &n
	}
	if len(page.Errors) == 0 {
		page.Errors = nil
	}
}
