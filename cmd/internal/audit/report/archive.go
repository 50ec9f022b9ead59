package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Archive serves the restore audit from the watcher's archive (resolvers.AuditArchive), with
// no VBO call. The database groups the sessions started in the window on the servers in scope
// by the dimensions asked for plus their organisation; each group is then checked against the
// caller's scope and the filter's organisations and merged into rows (at most MaxRows). Filters
// with substring conditions (initiatedBy, clientHost) take the exact path instead: every
// session read and matched in Go, as the restoreSessions query matches them.
type Archive struct {
	st        *store.Store
	retention time.Duration
	now       func(context.Context) (time.Time, error)
	// pageRows and pageBytes bound one page of Sessions' reads.
	pageRows, pageBytes int
}

var _ resolvers.AuditArchive = (*Archive)(nil)

// ArchiveOptions configure an Archive.
type ArchiveOptions struct {
	// Retention is the restore watch's watch.retention: the watcher deletes archived sessions
	// that ended longer ago, so a server's coverage starts no earlier than now minus Retention.
	// 0 keeps everything; negative is refused.
	Retention time.Duration
	// Now tells the time coverage is judged at (default: the store's clock, the one the
	// watcher records polls and prunes by).
	Now func(context.Context) (time.Time, error)
}

// NewArchive reads st. It refuses a nil store and a negative retention.
func NewArchive(st *store.Store, o ArchiveOptions) (*Archive, error) {
	if st == nil {
		return nil, errors.New("report: archive: no store")
	}
	if o.Retention < 0 {
		return nil, fmt.Errorf("report: archive: retention %v: must not be negative (0 keeps everything)", o.Retention)
	}
	now := o.Now
	if now == nil {
		now = st.Now
	}
	return &Archive{st: st, retention: o.Retention, now: now, pageRows: defaultPageRows, pageBytes: defaultPageBytes}, nil
}

// RestoreAudit answers the restoreAudit query.
func (a *Archive) RestoreAudit(ctx context.Context, q resolvers.AuditQuery) (*model.RestoreAudit, error) {
	cov, err := a.Coverage(ctx, q)
	if err != nil {
		return nil, err
	}
	return a.report(ctx, q, cov)
}

// report is the restoreAudit answer with the coverage already judged. Coverage is judged
// before the sessions are read, so the rows hold at least what it claims (the watcher only
// adds to the archive in between), and the CSV export, which judges it first to refuse an
// incomplete window, answers with the same coverage as the report.
func (a *Archive) report(ctx context.Context, q resolvers.AuditQuery, cov []*model.RestoreAuditCoverage) (*model.RestoreAudit, error) {
	dims := make([]Dimension, len(q.GroupBy))
	for i, d := range q.GroupBy {
		dims[i] = Dimension(d)
	}
	agg, err := NewAggregator(dims)
	if err != nil {
		return nil, &model.InputError{Msg: err.Error()}
	}
	if groupable(q.Filter) {
		err = a.groups(ctx, q, dims, agg.AddGroup)
	} else {
		err = a.Sessions(ctx, q, func(s *match.Session) error { agg.Add(s); return nil })
	}
	if err != nil {
		return nil, err
	}
	rows, err := agg.Rows()
	if err != nil {
		return nil, &model.InputError{Msg: err.Error()}
	}
	out := &model.RestoreAudit{Rows: make([]*model.RestoreAuditRow, len(rows)), Coverage: cov}
	for i := range rows {
		out.Rows[i] = RowModel(&rows[i])
	}
	return out, nil
}

// RowModel is a row as the GraphQL type.
func RowModel(r *Row) *model.RestoreAuditRow {
	m := &model.RestoreAuditRow{InitiatedBy: r.InitiatedBy, ClientMachine: r.ClientMachine, ViaAddress: r.ViaAddress,
		Type: r.Type, Result: r.Result, Day: r.Day, Sessions: int(r.Sessions), Items: r.Items, Bytes: r.Bytes,
		FailedSessions: int(r.FailedSessions), First: r.First, Last: r.Last}
	if o := r.Organization; o != nil {
		m.Organization = &model.Organization{ServerName: o.Server, Upstream: upstream.Organization{ID: o.UpstreamID, Name: o.Name},
			Detached: o.UpstreamID == ""}
	}
	return m
}

// Coverage says, per server of q (those in the caller's scope), what the archive holds:
// sessions started from the backfill's start, or from now minus the retention when that is
// later (the watcher may have deleted any session that ended before then), up to the last
// poll; Complete when that covers q's window. The restoreAudit report and the CSV exports
// both judge coverage here.
func (a *Archive) Coverage(ctx context.Context, q resolvers.AuditQuery) ([]*model.RestoreAuditCoverage, error) {
	states, err := a.st.States(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]store.ServerState, len(states))
	for _, st := range states {
		byName[st.Server] = st
	}
	now, err := a.now(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore audit: %w", err)
	}
	var kept time.Time // sessions started before it may have been pruned (zero: none)
	if a.retention > 0 {
		kept = now.Add(-a.retention).UTC()
	}
	out := make([]*model.RestoreAuditCoverage, 0, len(q.Servers))
	for _, name := range q.Servers {
		c := &model.RestoreAuditCoverage{Server: &model.VboServer{Name: name}}
		if st, ok := byName[name]; ok {
			from := st.BackfillFrom
			if !from.IsZero() {
				if from.Before(kept) {
					from = kept
				}
				c.From = &from
			}
			if !st.LastPoll.IsZero() {
				to := st.LastPoll
				c.To = &to
			}
			c.Complete = st.BackfillDone && !from.After(q.From) && !st.LastPoll.IsZero() &&
				(!st.LastPoll.Before(q.To) || q.To.After(now))
		}
		out = append(out, c)
	}
	return out, nil
}

// Sessions calls each for every archived session started in [q.From, q.To) on q's servers
// that is in q's scope and matches its filter, oldest first. It reads the archive in pages (at
// most pageRows sessions and about pageBytes of text each, so memory does not grow with the
// number of sessions) and calls each only after the page's rows are closed: each may take as
// long as it likes (write to a slow client) without holding a store connection.
func (a *Archive) Sessions(ctx context.Context, q resolvers.AuditQuery, each func(*match.Session) error) error {
	if len(q.Servers) == 0 {
		return nil
	}
	filter, err := match.CompileFilter(q.Filter)
	if err != nil {
		return &model.InputError{Msg: err.Error()}
	}
	servers := serverSet(q.Servers)
	var after *match.Session // the last session read: the next page starts after it
	for {
		page, err := a.sessionPage(ctx, q.From, q.To, after)
		if err != nil {
			return fmt.Errorf("restore audit: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1]
		for _, s := range page {
			if !servers[s.Server] || !q.InScope(s.Server, s.OrgID) || !filter.Match(s) {
				continue
			}
			if err := each(s); err != nil {
				return err
			}
		}
	}
}

// Page bounds of Sessions' reads.
const (
	defaultPageRows  = 500
	defaultPageBytes = 4 << 20
)

// sessionPage reads the sessions started in [from, to) after the session after (nil: from the
// start) in (start, server, id) order: at most pageRows of them, fewer once their text passes
// pageBytes (at least one). The rows are closed when it returns.
func (a *Archive) sessionPage(ctx context.Context, from, to time.Time, after *match.Session) ([]*match.Session, error) {
	// The window alone selects rows, so the database reads one range of the start-time index
	// (archive_session_report, led by start_ns and server); the servers are checked in Go
	// (see groups). The key (start_ns, server, id) is a session's for life, so paging by it
	// skips and repeats nothing.
	query := `SELECT server, id, org_id, org_name, name, type, state, result, initiated_by, client_host,
		scope_name, reason, details, start_ns, end_ns, items, bytes, by_event_type, first_item_ns, last_item_ns
		FROM archive_session WHERE start_ns >= ? AND start_ns < ?`
	args := []any{store.NS(from), store.NS(to)}
	if after != nil {
		query += ` AND (start_ns > ? OR server > ? OR (server = ? AND id > ?))`
		args = []any{store.NS(after.Upstream.CreationTime), store.NS(to), store.NS(after.Upstream.CreationTime),
			after.Server, after.Server, after.Upstream.ID}
	}
	query += ` ORDER BY start_ns, server, id LIMIT ?`
	args = append(args, a.pageRows)
	rows, err := a.st.QueryReport(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []*match.Session
	size := 0
	for size < a.pageBytes && rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, s)
		u := &s.Upstream
		size += 256 + len(u.ID) + len(s.OrgName) + len(u.Name) + len(u.InitiatedBy) + len(u.ClientHost) +
			len(u.ScopeName) + len(u.Reason) + len(u.Details)
	}
	return page, rows.Err()
}

func scanSession(r store.Rows) (*match.Session, error) {
	var s match.Session
	u := &s.Upstream
	var typ, state, result, byEvent string
	var start int64
	var end, first, last sql.NullInt64
	if err := r.Scan(&s.Server, &u.ID, &s.OrgID, &s.OrgName, &u.Name, &typ, &state, &result, &u.InitiatedBy, &u.ClientHost,
		&u.ScopeName, &u.Reason, &u.Details, &start, &end, &s.Items, &s.Bytes, &byEvent, &first, &last); err != nil {
		return nil, err
	}
	u.Organization = s.OrgName
	u.Type, u.State, u.Result = upstream.RestoreSessionType(typ), upstream.RestoreSessionState(state), upstream.RestoreSessionResult(result)
	u.CreationTime = time.Unix(0, start).UTC()
	u.EndTime, s.FirstItem, s.LastItem = store.TimePtr(end), store.TimePtr(first), store.TimePtr(last)
	var counts map[string]int64
	if byEvent != "" {
		if err := json.Unmarshal([]byte(byEvent), &counts); err != nil {
			return nil, fmt.Errorf("session %s: by_event_type: %w", u.ID, err)
		}
	}
	s.ItemsByEventType = make(map[model.RestoreEventType]int64, len(counts))
	for k, n := range counts {
		s.ItemsByEventType[model.EventTypeFromVBO(upstream.RestoreEventType(k))] += n
	}
	return &s, nil
}

// groupable reports whether the database can apply the filter itself: everything but the
// substring conditions, whose case folding must be Go's (strings.ToLower) to match the
// restoreSessions query exactly.
func groupable(f *model.RestoreSessionFilter) bool {
	return f == nil || (f.InitiatedBy == nil || *f.InitiatedBy == "") && (f.ClientHost == nil || *f.ClientHost == "")
}

// known VBO values of each enum (anything else maps to UNKNOWN).
var (
	knownTypes   = []upstream.RestoreSessionType{upstream.SessionTypeExchange, upstream.SessionTypeOneDrive, upstream.SessionTypeSharePoint, upstream.SessionTypeTeams}
	knownStates  = []upstream.RestoreSessionState{upstream.SessionStateWorking, upstream.SessionStateStopped}
	knownResults = []upstream.RestoreSessionResult{upstream.SessionResultSuccess, upstream.SessionResultWarning, upstream.SessionResultFailed}
)

// enumCond is the SQL condition "column's value maps to one of want": the VBO values that map
// to a wanted enum, or any value outside known when UNKNOWN is wanted.
func enumCond[V ~string, E comparable](col string, want []E, known []V, conv func(V) E, unknown E, args *[]any) string {
	var in []string
	other := false
	for _, w := range want {
		if w == unknown {
			other = true
		}
	}
	for _, v := range known {
		for _, w := range want {
			if conv(v) == w {
				in = append(in, "?")
				*args = append(*args, string(v))
				break
			}
		}
	}
	var parts []string
	if len(in) > 0 {
		parts = append(parts, col+" IN ("+strings.Join(in, ",")+")")
	}
	if other {
		ph := make([]string, len(known))
		for i, v := range known {
			ph[i] = "?"
			*args = append(*args, string(v))
		}
		parts = append(parts, col+" NOT IN ("+strings.Join(ph, ",")+")")
	}
	if len(parts) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// nsPerDay groups start times by UTC day in SQL (integer division of Unix nanoseconds).
const nsPerDay = int64(24 * time.Hour)

// groups has the database count the window's sessions by the dimensions asked for (and their
// organisation, for the scope check) and hands each group in scope to add.
func (a *Archive) groups(ctx context.Context, q resolvers.AuditQuery, dims []Dimension, add func(Group)) error {
	if len(q.Servers) == 0 {
		return nil
	}
	f := q.Filter
	if f == nil {
		f = &model.RestoreSessionFilter{}
	}
	if _, err := match.CompileFilter(f); err != nil { // the same validation as the exact path
		return &model.InputError{Msg: err.Error()}
	}
	var orgs map[[2]string]bool
	if f.OrganizationIds != nil {
		orgs = map[[2]string]bool{}
		for _, raw := range f.OrganizationIds {
			id, err := gid.ParseKind(raw, gid.KindOrganization)
			if err != nil {
				return &model.InputError{Msg: "filter.organizationIds holds an invalid organisation ID"}
			}
			orgs[[2]string{id.Server, strings.ToLower(id.Upstream)}] = true
		}
	}
	has := map[Dimension]bool{}
	for _, d := range dims {
		has[d] = true
	}
	cols := []string{"server", "org_id", "org_name"}
	for _, c := range []struct {
		d   Dimension
		col string
	}{{ByInitiatedBy, "initiated_by"}, {ByClientMachine, "client_machine"}, {ByViaAddress, "via_address"},
		{ByType, "type"}, {ByResult, "result"}, {ByDay, "start_ns / " + fmt.Sprint(nsPerDay)}} {
		if has[c.d] {
			cols = append(cols, c.col)
		}
	}
	// Every column read is in the archive_session_report index, led by start_ns: the window is
	// one range of it and no table row is read. The servers are not a condition here (the
	// planner would rather walk an index on server, reading every session of the server and
	// its table row); server is a grouping column, so each group is checked below instead.
	args := []any{store.NS(q.From), store.NS(q.To)}
	where := []string{"start_ns >= ?", "start_ns < ?"}
	servers := serverSet(q.Servers)
	if f.StartTimeFrom != nil {
		where, args = append(where, "start_ns >= ?"), append(args, store.NS(*f.StartTimeFrom))
	}
	if f.StartTimeTo != nil {
		where, args = append(where, "start_ns <= ?"), append(args, store.NS(*f.StartTimeTo))
	}
	if len(f.Types) > 0 {
		where = append(where, enumCond("type", f.Types, knownTypes, model.SessionTypeFromVBO, model.RestoreSessionTypeUnknown, &args))
	}
	if len(f.States) > 0 {
		where = append(where, enumCond("state", f.States, knownStates, model.SessionStateFromVBO, model.RestoreSessionStateUnknown, &args))
	}
	if len(f.Results) > 0 {
		where = append(where, enumCond("result", f.Results, knownResults, model.SessionResultFromVBO, model.RestoreSessionResultUnknown, &args))
	}
	query := `SELECT ` + strings.Join(cols, ", ") + `, COUNT(*), CAST(SUM(items) AS BIGINT), CAST(SUM(bytes) AS BIGINT),
		CAST(SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END) AS BIGINT), MIN(start_ns), MAX(start_ns)
		FROM archive_session WHERE ` + strings.Join(where, " AND ") + ` GROUP BY ` + strings.Join(cols, ", ")
	rows, err := a.st.QueryReport(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("restore audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g Group
		var typ, result string
		var day, first, last int64
		dest := []any{&g.Server, &g.OrgID, &g.OrgName}
		if has[ByInitiatedBy] {
			dest = append(dest, &g.InitiatedBy)
		}
		if has[ByClientMachine] {
			dest = append(dest, &g.ClientMachine)
		}
		if has[ByViaAddress] {
			dest = append(dest, &g.ViaAddress)
		}
		if has[ByType] {
			dest = append(dest, &typ)
		}
		if has[ByResult] {
			dest = append(dest, &result)
		}
		if has[ByDay] {
			dest = append(dest, &day)
		}
		dest = append(dest, &g.Sessions, &g.Items, &g.Bytes, &g.Failed, &first, &last)
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("restore audit: %w", err)
		}
		if !servers[g.Server] || !q.InScope(g.Server, g.OrgID) || orgs != nil && (g.OrgID == "" || !orgs[[2]string{g.Server, strings.ToLower(g.OrgID)}]) {
			continue
		}
		g.Type, g.Result = upstream.RestoreSessionType(typ), upstream.RestoreSessionResult(result)
		g.First, g.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		add(g)
	}
	return rows.Err()
}

func serverSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
