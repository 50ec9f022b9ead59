package loaders

import (
	"context"
	"fmt"
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

// lane is one server's stream in a merge, with its next matching session.
type lane struct {
	server string
	s      *sessionStream
	head   *upstream.RestoreSession
	err    error
}

// pausedFloor is the newest position among lanes paused at their scan budget: their unread
// sessions are at or before it.
func pausedFloor(lanes []*lane) (time.Time, bool) {
	var floor time.Time
	found := false
	for _, ln := range lanes {
		if ln.err == nil && ln.s.paused && (!found || ln.s.pos.Time.After(floor)) {
			floor, found = ln.s.pos.Time, true
		}
	}
	return floor, found
}

// MergedRestoreSessions merges the newest-first session streams of servers (in display order,
// which breaks ties) into one page of up to first sessions, continuing from cursor.
func (l *Loaders) MergedRestoreSessions(ctx context.Context, servers []string, w Window, cursor gid.StreamCursor, first int, m *Matcher) *MergedPage {
	pageSize := first + 1
	if m != nil && m.Fn != nil {
		pageSize = l.b.cfg.PageSize // filtering in the gateway: read in large pages
	}
	pageSize = min(max(pageSize, 1), upstream.MaxPageSize)

	lanes := make([]*lane, 0, len(servers))
	// Start from the incoming cursor as a whole: a server not walked this time (its organisations
	// could not be read) or failing mid-page keeps its place instead of restarting from the top.
	pos := maps.Clone(cursor)
	if pos == nil {
		pos = gid.StreamCursor{}
	}
	fromTop := len(cursor) == 0
	for _, name := range servers {
		var start *gid.Position
		if p, ok := cursor[name]; ok {
			start = &p
		}
		lanes = append(lanes, &lane{server: name, s: l.newStream(name, w, start, pageSize)})
	}
	// advance finds a lane's next matching head, consuming the sessions that do not match.
	advance := func(ln *lane) {
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
	var wg sync.WaitGroup
	for _, ln := range lanes {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					ln.head, ln.err = nil, fmt.Errorf("%w: %v", ErrPanic, p)
				}
			}()
			advance(ln)
		})
	}
	wg.Wait()

	// Every lane that has read something is in the cursor from the first edge on: a lane left
	// out would be read from the top by a later page, picking up sessions created since.
	for _, ln := range lanes {
		if p, ok := ln.s.cursorPosition(ln.head); ok && ln.err == nil {
			pos[ln.server] = p
		}
	}
	page := &MergedPage{Errors: map[string]error{}}
	for len(page.Sessions) < first {
		var best *lane
		for _, ln := range lanes {
			if ln.head != nil && (best == nil || ln.head.CreationTime.After(best.head.CreationTime)) {
				best = ln
			}
		}
		if best == nil {
			break
		}
		// A lane paused at its scan budget still has sessions at or before its position, which
		// may be newer than best: the page must end before them to stay newest-first.
		if floor, ok := pausedFloor(lanes); ok && !best.head.CreationTime.After(floor) {
			break
		}
		sess, after := best.s.pop()
		pos[best.server] = after
		page.Sessions = append(page.Sessions, MergedSession{Server: best.server, Session: sess, Cursor: maps.Clone(pos)})
		advance(best)
	}
	// Lanes record how far they read, even past the last emitted session (non-matching ones).
	total := 0
	for _, ln := range lanes {
		if ln.err != nil {
			// The failed server keeps its incoming place, and more may follow from it: a
			// client paging on sees its sessions once it answers again (each page reports it).
			page.Errors[ln.server] = ln.err
			page.HasNext = true
			fromTop = false
			continue
		}
		if ln.head != nil || ln.s.paused {
			page.HasNext = true
		}
		if p, ok := ln.s.cursorPosition(ln.head); ok {
			pos[ln.server] = p
		}
		total += ln.s.consumed
	}
	page.End = pos
	if len(page.Sessions) > 0 {
		page.Sessions[len(page.Sessions)-1].Cursor = maps.Clone(pos)
	}
	if !page.HasNext && fromTop && m == nil {
		page.Total = &total
	}
	if len(page.Errors) == 0 {
		page.Errors = nil
	}
	return page
}
