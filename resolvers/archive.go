package resolvers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Reads from the restore watch's archive. With the watch on, the archive holds every session,
// its events and totals per server, within one poll interval. restoreSessions (both),
// restoreSession, node and a session's events are answered from it when it covers what is
// asked on every server involved, with the same answers, order and scope as from VBO (the
// scope checks are scope.go's, on the same upstream.RestoreSession values); the response's
// extensions.freshness says, per server, which source answered and as of when.

// ReadsFrom selects where session reads go (config reads.from).
type ReadsFrom string

// Read sources.
const (
	// ReadsAuto reads the archive when it covers the window and is at most MaxLag behind.
	ReadsAuto ReadsFrom = "auto"
	// ReadsUpstream always reads VBO.
	ReadsUpstream ReadsFrom = "upstream"
	// ReadsArchive reads the archive when it covers the window, however far behind it is.
	ReadsArchive ReadsFrom = "archive"
)

// ArchiveReads is how the resolvers read the archive; nil on the Resolver: VBO only.
type ArchiveReads struct {
	Reader ArchiveReader
	From   ReadsFrom
	// MaxLag is how long since a server's last poll the archive still answers for it (auto).
	MaxLag time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// ArchiveKey is a position in the archive's newest-first order: start time descending, then
// the server's place in the query's servers, then id.
type ArchiveKey struct {
	Start      time.Time
	Server, ID string
}

// ArchiveListQuery asks for archived sessions newest first: From <= start < To.
type ArchiveListQuery struct {
	Servers  []string // display order
	From, To *time.Time
	After    *ArchiveKey
	Limit    int
	// Orgs, when not nil, keeps only the sessions whose organisation name's key
	// (upstream.OrgNameKey) is in Orgs[server] (a server without keys keeps none): the reader
	// selects them, so a page reads no other organisation's sessions. The resolvers still
	// match every row read (the same matcher as the VBO path).
	Orgs map[string]map[string]bool
	// Types, States and Results, when set, select the sessions by their recorded VBO values
	// (archiveValues: exactly the filter's types, states and results).
	Types, States, Results *ArchiveValues
}

// ArchiveValues selects the recorded values of a column: those in In, or any value outside
// NotIn (both empty: none).
type ArchiveValues struct{ In, NotIn []string }

// archiveValues is the recorded values whose mapping (conv) is one of want: the known values
// that map to a wanted one, and any value outside known when unknown is wanted (nil: no
// condition).
func archiveValues[V ~string, E comparable](want []E, known []V, conv func(V) E, unknown E) *ArchiveValues {
	if len(want) == 0 {
		return nil
	}
	v := &ArchiveValues{}
	for _, k := range known {
		if slices.Contains(want, conv(k)) {
			v.In = append(v.In, string(k))
		}
	}
	if slices.Contains(want, unknown) {
		for _, k := range known {
			v.NotIn = append(v.NotIn, string(k))
		}
	}
	return v
}

// withFilter has q select the filter's types, states and results in the reader, and reports
// whether a condition only the matcher applies is left (initiatedBy, clientHost).
func (q *ArchiveListQuery) withFilter(f *model.RestoreSessionFilter) (goOnly bool) {
	if f == nil {
		return false
	}
	q.Types = archiveValues(f.Types, []upstream.RestoreSessionType{upstream.SessionTypeExchange, upstream.SessionTypeOneDrive,
		upstream.SessionTypeSharePoint, upstream.SessionTypeTeams}, model.SessionTypeFromVBO, model.RestoreSessionTypeUnknown)
	q.States = archiveValues(f.States, []upstream.RestoreSessionState{upstream.SessionStateWorking, upstream.SessionStateStopped},
		model.SessionStateFromVBO, model.RestoreSessionStateUnknown)
	q.Results = archiveValues(f.Results, []upstream.RestoreSessionResult{upstream.SessionResultSuccess, upstream.SessionResultWarning,
		upstream.SessionResultFailed}, model.SessionResultFromVBO, model.RestoreSessionResultUnknown)
	return f.InitiatedBy != nil && *f.InitiatedBy != "" || f.ClientHost != nil && *f.ClientHost != ""
}

// ArchivedSession is one archived session as VBO last reported it.
type ArchivedSession struct {
	Server  string
	Session upstream.RestoreSession
	// EventsComplete: stopped and every event archived.
	EventsComplete bool
}

// ArchiveCoverage is what the archive holds of one server: every session started since From
// (since From up to HighWater while the backfill runs), as of its last poll AsOf.
type ArchiveCoverage struct {
	From, HighWater, AsOf time.Time
	Done                  bool
}

// ArchiveReader reads the archive (the store implements it; app wires it).
type ArchiveReader interface {
	ArchivedSessions(ctx context.Context, q ArchiveListQuery) ([]ArchivedSession, error)
	// ArchivedSessionLists is ArchivedSessions of each query of qs, read together (one list
	// per query, in order): loaders.ArchiveList batches a response's lists.
	ArchivedSessionLists(ctx context.Context, qs []ArchiveListQuery) ([][]ArchivedSession, error)
	CountArchivedSessions(ctx context.Context, q ArchiveListQuery) (int, error)
	// ArchivedSession is nil, nil when the session is not archived.
	ArchivedSession(ctx context.Context, server, id string) (*ArchivedSession, error)
	// ArchivedEvents reads the events at positions [offset, offset+limit) (VBO's event
	// positions) of several sessions of server, by session id (one read for a response's
	// sessions: loaders.ArchiveEvents batches them).
	// omit names the fields the response does not show (they may be left zero).
	ArchivedEvents(ctx context.Context, server string, ids []string, offset, limit int, omit loaders.EventOmit) (map[string][]upstream.RestoreSessionEvent, error)
	ArchiveCoverage(ctx context.Context) (map[string]ArchiveCoverage, error)
}

// archiveCursorKind names archive session cursors (gid.Cursors.EncodeKeyset).
const archiveCursorKind = "archive-sessions"

// archiveScanLimit bounds the rows one filtered page reads from the archive; past it the page
// ends with hasNextPage and a cursor where the read stopped (like a VBO walk's scan budget).
const archiveScanLimit = 200_000

func encodeArchiveKey(k ArchiveKey) string {
	v := url.Values{"t": {strconv.FormatInt(k.Start.UnixNano(), 10)}, "s": {k.Server}, "i": {k.ID}}
	return v.Encode()
}

// archiveCursor opens after when it is an archive cursor (ok false: another kind, or none).
func (r *Resolver) archiveCursor(after *string) (*ArchiveKey, bool, error) {
	if after == nil || r.Reads == nil {
		return nil, false, nil
	}
	text, err := r.Cursors.DecodeKeyset(archiveCursorKind, *after)
	if err != nil {
		return nil, false, nil // a stream cursor, or an invalid one: the VBO path says which
	}
	v, err := url.ParseQuery(text)
	if err != nil {
		return nil, true, fmt.Errorf("%w: bad archive cursor", gid.ErrInvalid)
	}
	n, err := strconv.ParseInt(v.Get("t"), 10, 64)
	if err != nil || !gid.ValidServerName(v.Get("s")) || v.Get("i") == "" {
		return nil, true, fmt.Errorf("%w: bad archive cursor", gid.ErrInvalid)
	}
	return &ArchiveKey{Start: time.Unix(0, n).UTC(), Server: v.Get("s"), ID: v.Get("i")}, true, nil
}

// sessionsCursor splits a session list's after into the archive key it names (nil: not an
// archive cursor) and the cursor the VBO stream reads (nil after an archive cursor). A live
// read refuses an archive cursor.
func (r *Resolver) sessionsCursor(after *string, live bool) (akey *ArchiveKey, streamAfter *string, err error) {
	akey, fromArchive, err := r.archiveCursor(after)
	switch {
	case err != nil:
		return nil, nil, err
	case !fromArchive:
		return nil, after, nil
	case live:
		return nil, nil, badInputf(errArchiveCursorLive)
	}
	return akey, nil, nil
}

// archiveCovers reports whether the archive answers for every server in servers over window w,
// and each server's coverage. live (the query's flag) and reads.from: upstream say no.
func (r *Resolver) archiveCovers(ctx context.Context, servers []string, w loaders.Window, live bool) (map[string]ArchiveCoverage, bool) {
	if r.Reads == nil || live {
		return nil, false
	}
	cov, ok, err := r.Reads.Covers(ctx, servers, w)
	if err != nil {
		r.Logger.WarnContext(ctx, "archive coverage unreadable: reading VBO", "err", err, "request_id", requestid.From(ctx))
		return nil, false
	}
	return cov, ok
}

// archiveCoverage is every server's coverage through the request's memo (nil when unreadable:
// what is read then carries no as-of time).
func (r *Resolver) archiveCoverage(ctx context.Context) map[string]ArchiveCoverage {
	cov, err := r.Reads.coverage(ctx)
	if err != nil {
		return nil
	}
	return cov
}

// coverage is every server's coverage, read once per request (loaders.ArchiveCoverage).
func (a *ArchiveReads) coverage(ctx context.Context) (map[string]ArchiveCoverage, error) {
	return loaders.ArchiveCoverage(ctx, func() (map[string]ArchiveCoverage, error) { return a.Reader.ArchiveCoverage(ctx) })
}

// Covers reports whether the archive answers reads of window w on every server in servers
// (reads.from upstream: never; auto: only while each server's last poll is at most MaxLag old),
// with every server's coverage, read once per request (loaders.ArchiveCoverage). The resolvers
// and the cost estimate (which counts no upstream call for what the archive answers) share this
// rule.
func (a *ArchiveReads) Covers(ctx context.Context, servers []string, w loaders.Window) (map[string]ArchiveCoverage, bool, error) {
	if a == nil || a.From == ReadsUpstream || len(servers) == 0 {
		return nil, false, nil
	}
	cov, err := a.coverage(ctx)
	if err != nil {
		return nil, false, err
	}
	return cov, a.CoveredBy(cov, servers, w), nil
}

// CoveredBy is Covers on coverage already read.
func (a *ArchiveReads) CoveredBy(cov map[string]ArchiveCoverage, servers []string, w loaders.Window) bool {
	if a == nil || a.From == ReadsUpstream || len(servers) == 0 {
		return false
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	t := now()
	for _, s := range servers {
		c, ok := cov[s]
		if !ok || !c.covers(w) || a.From == ReadsAuto && (c.AsOf.IsZero() || t.Sub(c.AsOf) > a.MaxLag) {
			return false
		}
	}
	return true
}

// IsArchiveCursor reports whether after is a cursor of a session listing the archive answered
// (its next pages are read there too).
func IsArchiveCursor(c *gid.Cursors, after string) bool {
	_, err := c.DecodeKeyset(archiveCursorKind, after)
	return err == nil
}

// covers reports whether the archive holds every session of window w: a window from before the
// backfill's start is VBO's; an open one is the archive's once the backfill is done (the archive
// starts at the backfill window, watch.backfill); while the backfill runs, only a window ending
// by the newest session archived.
func (c ArchiveCoverage) covers(w loaders.Window) bool {
	if w.From != nil && w.From.Before(c.From) {
		return false
	}
	if c.Done {
		return true
	}
	return w.From != nil && w.To != nil && !w.To.After(c.HighWater)
}

// noteArchive records the servers answered from the archive in extensions.freshness.
func (r *Resolver) noteArchive(ctx context.Context, cov map[string]ArchiveCoverage, servers []string) {
	f := loaders.For(ctx).Freshness()
	first := false
	for _, s := range servers {
		asOf := cov[s].AsOf
		e := loaders.FreshnessEntry{Source: loaders.SourceArchive, AsOf: &asOf}
		if at, ok := r.Backend.OrganizationsAsOf(s); ok {
			e.OrganizationsAsOf = &at
		}
		first = f.Note(s, e) || first
	}
	if first {
		graphql.RegisterExtension(ctx, "freshness", f)
	}
}

// noteLive records the servers read from VBO, when archive reads are configured.
func (r *Resolver) noteLive(ctx context.Context, servers []string) {
	if r.Reads == nil {
		return
	}
	f := loaders.For(ctx).Freshness()
	first := false
	for _, s := range servers {
		first = f.Note(s, loaders.FreshnessEntry{Source: loaders.SourceLive}) || first
	}
	if first {
		graphql.RegisterExtension(ctx, "freshness", f)
	}
}

// archiveSessions pages sessions of servers from the archive, newest first, keeping the ones m
// matches (the same matcher the VBO walk uses). after continues an archive cursor.
// orgs (nil: every organisation) are the organisations m keeps, and filter's types, states and
// results the ones it keeps: the reader selects both, so the page reads size + 1 rows unless
// a condition only the matcher applies is left (then batches of 500). m still checks every row.
// together (a field of each element of a list: organizations' restoreSessions) reads the first
// rows with the response's other lists (loaders.ArchiveList), after its batch wait.
func (r *Resolver) archiveSessions(ctx context.Context, servers []string, w loaders.Window, after *ArchiveKey, size int, m *loaders.Matcher, orgs orgNames, filter *model.RestoreSessionFilter, count, together bool) (*model.RestoreSessionConnection, error) {
	q := ArchiveListQuery{Servers: servers, From: w.From, To: w.To, After: after, Orgs: orgs}
	batch := size + 1
	if q.withFilter(filter) {
		batch = max(batch, 500)
	}
	var got []ArchivedSession
	var keys []ArchiveKey
	var last *ArchiveKey
	paused, scanned := false, 0
	for first := true; len(got) <= size; first = false {
		q.Limit = batch
		var rows []ArchivedSession
		var err error
		if first && together { // the response's lists (the dashboard's organisations) read together
			rows, err = loaders.ArchiveList(ctx, q, r.Reads.Reader.ArchivedSessionLists)
		} else {
			rows, err = r.Reads.Reader.ArchivedSessions(ctx, q)
		}
		if err != nil {
			return nil, err
		}
		for i := range rows {
			row := &rows[i]
			k := ArchiveKey{Start: row.Session.CreationTime, Server: row.Server, ID: row.Session.ID}
			last = &k
			if m == nil || m.Fn == nil || m.Fn(row.Server, &row.Session) {
				got, keys = append(got, *row), append(keys, k)
				if len(got) > size {
					break
				}
			}
		}
		scanned += len(rows)
		if len(rows) < batch || len(got) > size {
			break
		}
		if scanned >= archiveScanLimit {
			paused = true
			break
		}
		q.After = last
	}
	n := min(len(got), size)
	conn := &model.RestoreSessionConnection{Edges: make([]*model.RestoreSessionEdge, 0, n),
		PageInfo: &model.PageInfo{HasNextPage: len(got) > size || paused, HasPreviousPage: after != nil}}
	for i := range n {
		conn.Edges = append(conn.Edges, model.NewKeysetSessionEdge(&model.RestoreSession{ServerName: got[i].Server,
			Upstream: got[i].Session, Archived: true}, r.Cursors, archiveCursorKind, encodeArchiveKey(keys[i])))
	}
	setEdgeCursors(conn)
	if paused && last != nil {
		end := r.Cursors.EncodeKeyset(archiveCursorKind, encodeArchiveKey(*last))
		conn.PageInfo.EndCursor = &end
	}
	if count {
		tq := ArchiveListQuery{Servers: servers, From: w.From, To: w.To, Orgs: orgs}
		tq.withFilter(filter)
		total, err := r.archiveTotal(ctx, tq, m)
		if err != nil {
			return nil, err
		}
		conn.TotalCount = total
	}
	return conn, nil
}

// archiveTotal counts the matching sessions of q's window on every page (nil past the scan
// limit).
func (r *Resolver) archiveTotal(ctx context.Context, q ArchiveListQuery, m *loaders.Matcher) (*int, error) {
	if m == nil || m.Fn == nil {
		n, err := r.Reads.Reader.CountArchivedSessions(ctx, q)
		if err != nil {
			return nil, err
		}
		return &n, nil
	}
	total, scanned := 0, 0
	for scanned < archiveScanLimit {
		q.Limit = 2000
		rows, err := r.Reads.Reader.ArchivedSessions(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			if m.Fn(rows[i].Server, &rows[i].Session) {
				total++
			}
		}
		scanned += len(rows)
		if len(rows) < q.Limit {
			return &total, nil
		}
		l := rows[len(rows)-1]
		q.After = &ArchiveKey{Start: l.Session.CreationTime, Server: l.Server, ID: l.Session.ID}
	}
	return nil, nil
}

// archivedSession reads one session from the archive when it holds it and covers its server
// (nil when VBO must answer).
func (r *Resolver) archivedSession(ctx context.Context, server, id string, live bool) *ArchivedSession {
	cov, ok := r.archiveCovers(ctx, []string{server}, loaders.Window{}, live)
	if !ok {
		return nil
	}
	s, err := r.Reads.Reader.ArchivedSession(ctx, server, id)
	if err != nil || s == nil {
		if err != nil {
			r.Logger.WarnContext(ctx, "archive read failed: reading VBO", "server", server, "err", err, "request_id", requestid.From(ctx))
		}
		return nil
	}
	r.noteArchive(ctx, cov, []string{server})
	return s
}

// errArchiveCursorLive's text, for the client.
const errArchiveCursorLive = "after is a cursor from an archive read: a live read starts again without after"

// withoutServer is m that matches nothing of server.
func withoutServer(m *loaders.Matcher, server string) *loaders.Matcher {
	return &loaders.Matcher{Fn: func(s string, x *upstream.RestoreSession) bool {
		return s != server && (m == nil || m.Fn == nil || m.Fn(s, x))
	}}
}

// cmpErr is err, or fallback when err is nil.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// archiveEventsScanLimit bounds the events one page (and its totalCount) reads from the archive.
const archiveEventsScanLimit = 1_000_000

// archiveEvents pages an archived session's events from the archive: the same offsets (VBO's
// event positions), filter and cursors as the VBO read; totalCount, when selected, counts the
// matches from the start.
func (r *Resolver) archiveEvents(ctx context.Context, obj *model.RestoreSession, from, size int, match func(*upstream.RestoreSessionEvent) bool) (*model.RestoreEventConnection, error) {
	const batch = 2000
	omit := eventOmit(ctx)
	// The matches point into the lists read (no copy until the page's nodes).
	var events []*upstream.RestoreSessionEvent
	var offsets []int
	end, next := false, from
	for len(events) <= size && next-from < archiveEventsScanLimit {
		list, err := r.archivedEvents(ctx, obj, next, batch, omit)
		if err != nil {
			return nil, err
		}
		if events == nil {
			n := min(len(list), size+1)
			events, offsets = make([]*upstream.RestoreSessionEvent, 0, n), make([]int, 0, n)
		}
		for i := range list {
			if match(&list[i]) {
				events, offsets = append(events, &list[i]), append(offsets, next+i)
				if len(events) > size {
					break
				}
			}
		}
		if len(events) > size {
			break
		}
		next += len(list)
		if len(list) < batch {
			end = true
			break
		}
	}
	n := min(len(events), size)
	conn := &model.RestoreEventConnection{Edges: make([]*model.RestoreEventEdge, 0, n),
		PageInfo: &model.PageInfo{HasNextPage: len(events) > size || !end, HasPreviousPage: from > 0}}
	nodes := make([]model.RestoreEvent, n) // one allocation for the page's nodes
	for i := range n {
		nodes[i] = model.RestoreEvent{ServerName: obj.ServerName, SessionID: obj.Upstream.ID, Upstream: *events[i]}
		conn.Edges = append(conn.Edges, model.NewRestoreEventEdge(&nodes[i], r.Cursors, offsets[i]+1))
	}
	if n > 0 {
		start, last := conn.Edges[0].Cursor(), conn.Edges[n-1].Cursor()
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &last
	}
	if len(events) <= size && !end {
		c := r.Cursors.EncodeOffset(next)
		conn.PageInfo.EndCursor = &c
	}
	if selects(ctx, "totalCount") {
		// The page read every event from from on: only those before it are left to count.
		total, stop := 0, archiveEventsScanLimit
		if end {
			total, stop = len(events), from
		}
		for off := 0; off < stop; off += batch {
			list, err := r.archivedEvents(ctx, obj, off, min(batch, stop-off), omit)
			if err != nil {
				return nil, err
			}
			for i := range list {
				if match(&list[i]) {
					total++
				}
			}
			if len(list) < min(batch, stop-off) {
				end = true // fewer events than from: total is every match
				break
			}
		}
		if end {
			conn.TotalCount = &total
		}
	}
	return conn, nil
}

// archivedEvents reads obj's events at positions [offset, offset+limit) through the request's
// batch (loaders.ArchiveEvents): the sessions of a response read their events together.
func (r *Resolver) archivedEvents(ctx context.Context, obj *model.RestoreSession, offset, limit int, omit loaders.EventOmit) ([]upstream.RestoreSessionEvent, error) {
	return loaders.For(ctx).ArchiveEvents(ctx, loaders.ArchiveEventsKey{Server: obj.ServerName, SessionID: obj.Upstream.ID,
		Offset: offset, Limit: limit, Omit: omit}, r.Reads.Reader.ArchivedEvents)
}

// eventFieldNeeds are the upstream event fields each RestoreEvent field reads (order, type and
// status are always read; session reads none).
var eventFieldNeeds = map[string]loaders.EventOmit{
	"id": loaders.OmitEventID, "upstreamId": loaders.OmitEventID, "title": loaders.OmitEventTitle,
	"message": loaders.OmitEventMessage, "itemName": loaders.OmitEventItemName, "itemType": loaders.OmitEventItemType,
	"itemSizeBytes": loaders.OmitEventItemSize, "source": loaders.OmitEventSource, "target": loaders.OmitEventTarget,
	"startTime": loaders.OmitEventTimes, "endTime": loaders.OmitEventTimes, "durationSeconds": loaders.OmitEventDuration,
	"order": 0, "type": 0, "status": 0, "session": 0, "__typename": 0,
}

// allEventFields omits nothing.
const allEventFields loaders.EventOmit = 0

// eventOmit is what the current events field's selection (edges { node { ... } }, fragments
// included) does not show, which an archive read may leave out: the fields of no RestoreEvent
// field selected. Outside an operation, or for a field it does not know, it omits nothing.
func eventOmit(ctx context.Context) loaders.EventOmit {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return allEventFields
	}
	op := graphql.GetOperationContext(ctx)
	var omit loaders.EventOmit = loaders.OmitEventID | loaders.OmitEventTimes | loaders.OmitEventDuration | loaders.OmitEventTitle |
		loaders.OmitEventMessage | loaders.OmitEventItemName | loaders.OmitEventItemType | loaders.OmitEventItemSize |
		loaders.OmitEventSource | loaders.OmitEventTarget
	for _, edges := range graphql.CollectFields(op, fc.Field.Selections, []string{"RestoreEventConnection"}) {
		if edges.Name != "edges" {
			continue
		}
		for _, node := range graphql.CollectFields(op, edges.Selections, []string{"RestoreEventEdge"}) {
			if node.Name != "node" {
				continue
			}
			for _, f := range graphql.CollectFields(op, node.Selections, []string{"RestoreEvent", "Node"}) {
				need, ok := eventFieldNeeds[f.Name]
				if !ok {
					return allEventFields
				}
				omit &^= need
			}
		}
	}
	return omit
}
