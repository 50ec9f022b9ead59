package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	agg, err := NewAggregator(dims, q.TenantOf)
	if errors.Is(err, ErrNoTenants) { // wiring, not the caller's mistake
		return nil, err
	}
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
	m := &model.RestoreAuditRow{Tenant: r.Tenant, Person: r.Person, InitiatedBy: r.InitiatedBy, ClientMachine: r.ClientMachine, ViaAddress: r.ViaAddress,
		Type: r.Type, Result: r.Result, Day: r.Day, Sessions: int(r.Sessions), Items: r.Items, Bytes: r.Bytes,
		FailedSessions: int(r.FailedSessions), First: r.First, Last: r.Last}
	if o := r.Organization; o != nil {
		m.Organization = &model.Organization{ServerName: o.Server, Upstream: upstream.Organization{ID: o.UpstreamID, Name: o.Name},
			Detached: o.UpstreamID == ""}
	}
	return m
}

// Coverage says, per server of q (those in the caller's scope), what the archive holds:
// sessions started from CoveredFrom (the backfill's start, or now minus the retention when that is
// later: the watcher may have deleted any session that ended before then), up to the last
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
	out := make([]*model.RestoreAuditCoverage, 0, len(q.Servers))
	for _, name := range q.Servers {
		c := &model.RestoreAuditCoverage{Server: &model.VboServer{Name: name}}
		if st, ok := byName[name]; ok {
			from := CoveredFrom(st, now, a.retention)
			if !from.IsZero() {
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

// CoveredFrom is where the archive's coverage of a server in state st starts, judged at now:
// its backfill window's start, or now minus retention when that is later (the watcher deletes
// the sessions that ended before then, so any started before then may be gone; 0 retention
// keeps everything). Zero when neither bounds it. The one rule for the coverage's start:
// restoreAudit's coverage, the CSV exports (Coverage) and the archive's reads (package app's
// ArchiveCoverage, which decides whether a read is answered from the archive) all use it.
func CoveredFrom(st store.ServerState, now time.Time, retention time.Duration) time.Time {
	from := st.BackfillFrom.UTC()
	if retention > 0 {
		if kept := now.Add(-retention).UTC(); kept.After(from) {
			from = kept
		}
	}
	if from.IsZero() {
		return time.Time{}
	}
	return from
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
		return asInput(err)
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

// sessionPage reads the page of sessions started in [from, to) after the session after (nil:
// from the start), in (start, server, id) order: at most pageRows of them, fewer once their
// text passes pageBytes (at least one). The store closes the rows before it returns.
func (a *Archive) sessionPage(ctx context.Context, from, to time.Time, after *match.Session) ([]*match.Session, error) {
	p := store.ReportPage{From: from, To: to, Rows: a.pageRows, Bytes: a.pageBytes}
	if after != nil {
		p.After = &store.ReportKey{Start: after.Upstream.CreationTime, Server: after.Server, ID: after.Upstream.ID}
	}
	list, err := a.st.ReportSessions(ctx, p)
	if err != nil {
		return nil, err
	}
	page := make([]*match.Session, len(list))
	for i, x := range list {
		page[i] = ArchivedSession(x)
	}
	return page, nil
}

// ArchivedSession is an archived session as the report and the watch rules match and count it.
func ArchivedSession(x *store.Session) *match.Session {
	s := &match.Session{Server: x.Server, OrgID: x.OrgID, OrgName: x.Session.Organization, Upstream: x.Session,
		Items: x.Totals.Items, Bytes: x.Totals.Bytes, FirstItem: x.Totals.FirstItem, LastItem: x.Totals.LastItem}
	a := &x.Attribution
	s.Attribution = match.Attribution{ThroughGateway: a.ThroughGateway, Person: a.Person, DisplayName: a.DisplayName,
		Tenant: a.Tenant, Reason: a.Reason, Pending: a.Pending}
	s.ItemsByEventType = make(map[model.RestoreEventType]int64, len(x.Totals.ByEventType))
	for k, n := range x.Totals.ByEventType {
		s.ItemsByEventType[model.EventTypeFromVBO(upstream.RestoreEventType(k))] += n
	}
	return s
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

// valueSet selects the VBO values that map to one of want: the known values that map to a
// wanted enum, or any value outside known when UNKNOWN is wanted.
func valueSet[V ~string, E comparable](want []E, known []V, conv func(V) E, unknown E) *store.ValueSet {
	set := &store.ValueSet{}
	for _, w := range want {
		if w == unknown {
			set.NotIn = make([]string, len(known))
			for i, v := range known {
				set.NotIn[i] = string(v)
			}
			break
		}
	}
	for _, v := range known {
		for _, w := range want {
			if conv(v) == w {
				set.In = append(set.In, string(v))
				break
			}
		}
	}
	return set
}

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
		return asInput(err)
	}
	var orgs map[[2]string]bool
	if f.OrganizationIds != nil {
		orgs = map[[2]string]bool{}
		for _, raw := range f.OrganizationIds {
			id, err := gid.ParseKind(raw, gid.KindOrganization)
			if err != nil {
				return &model.InputError{Field: "filter.organizationIds", Msg: "holds an invalid organisation ID", Err: err}
			}
			orgs[[2]string{id.Server, strings.ToLower(id.Upstream)}] = true
		}
	}
	gq := store.GroupQuery{From: q.From, To: q.To, StartFrom: f.StartTimeFrom, StartTo: f.StartTimeTo}
	for _, c := range groupColumns { // in a fixed order, whatever dims' order
		if slices.Contains(dims, c.d) {
			gq.By = append(gq.By, c.col)
		}
	}
	if len(f.Types) > 0 {
		gq.Types = valueSet(f.Types, knownTypes, model.SessionTypeFromVBO, model.RestoreSessionTypeUnknown)
	}
	if len(f.States) > 0 {
		gq.States = valueSet(f.States, knownStates, model.SessionStateFromVBO, model.RestoreSessionStateUnknown)
	}
	if len(f.Results) > 0 {
		gq.Results = valueSet(f.Results, knownResults, model.SessionResultFromVBO, model.RestoreSessionResultUnknown)
	}
	// The servers are not a condition of the store's read (see store.GroupSessions): server
	// is a grouping column, so each group is checked here instead.
	servers := serverSet(q.Servers)
	err := a.st.GroupSessions(ctx, gq, func(sg store.SessionGroup) error {
		if !servers[sg.Server] || !q.InScope(sg.Server, sg.OrgID) || orgs != nil && (sg.OrgID == "" || !orgs[[2]string{sg.Server, strings.ToLower(sg.OrgID)}]) {
			return nil
		}
		add(Group{Server: sg.Server, OrgID: sg.OrgID, OrgName: sg.OrgName, InitiatedBy: sg.InitiatedBy,
			ClientMachine: sg.ClientMachine, ViaAddress: sg.ViaAddress, Type: upstream.RestoreSessionType(sg.Type),
			Result: upstream.RestoreSessionResult(sg.Result), Person: sg.Person, Sessions: sg.Sessions, Items: sg.Items, Bytes: sg.Bytes,
			Failed: sg.Failed, First: sg.First, Last: sg.Last})
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore audit: %w", err)
	}
	return nil
}

// groupColumns are the store's columns of the dimensions (ORGANIZATION is always grouped by:
// TENANT is derived from it, group by group, by the aggregator).
var groupColumns = []struct {
	d   Dimension
	col store.GroupColumn
}{{ByInitiatedBy, store.GroupInitiatedBy}, {ByClientMachine, store.GroupClientMachine}, {ByViaAddress, store.GroupViaAddress},
	{ByType, store.GroupType}, {ByResult, store.GroupResult}, {ByDay, store.GroupDay}, {ByPerson, store.GroupPerson}}

// asInput is a filter's error as the client's mistake: itself when it is a *model.InputError.
func asInput(err error) error {
	if ie := (*model.InputError)(nil); errors.As(err, &ie) {
		return err
	}
	return &model.InputError{Msg: err.Error()}
}

func serverSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
