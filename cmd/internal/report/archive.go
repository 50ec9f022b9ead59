package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/rules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/store"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Archive serves the restore audit from the watcher's archive (resolvers.AuditArchive): one
// indexed range read of the sessions started in the window on the servers in scope, each
// session checked against the caller's scope and the filter, grouped in memory (bounded by
// MaxRows groups). No VBO call.
type Archive struct {
	st  *store.Store
	now func() time.Time
}

var _ resolvers.AuditArchive = (*Archive)(nil)

// NewArchive reads st.
func NewArchive(st *store.Store) *Archive { return &Archive{st: st, now: time.Now} }

// RestoreAudit answers the restoreAudit query.
func (a *Archive) RestoreAudit(ctx context.Context, q resolvers.AuditQuery) (*model.RestoreAudit, error) {
	dims := make([]Dimension, len(q.GroupBy))
	for i, d := range q.GroupBy {
		dims[i] = Dimension(d)
	}
	agg, err := NewAggregator(dims)
	if err != nil {
		return nil, &model.InputError{Msg: err.Error()}
	}
	if err := a.Sessions(ctx, q, func(s *rules.Session) error { agg.Add(s); return nil }); err != nil {
		return nil, err
	}
	rows, err := agg.Rows()
	if err != nil {
		return nil, &model.InputError{Msg: err.Error()}
	}
	out := &model.RestoreAudit{Rows: make([]*model.RestoreAuditRow, len(rows)), Coverage: []*model.RestoreAuditCoverage{}}
	for i := range rows {
		out.Rows[i] = RowModel(&rows[i])
	}
	if out.Coverage, err = a.coverage(ctx, q); err != nil {
		return nil, err
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

// coverage says, per server in scope, what the archive holds.
func (a *Archive) coverage(ctx context.Context, q resolvers.AuditQuery) ([]*model.RestoreAuditCoverage, error) {
	states, err := a.st.States(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]store.ServerState, len(states))
	for _, st := range states {
		byName[st.Server] = st
	}
	now := a.now()
	out := make([]*model.RestoreAuditCoverage, 0, len(q.Servers))
	for _, name := range q.Servers {
		c := &model.RestoreAuditCoverage{Server: &model.VboServer{Name: name}}
		if st, ok := byName[name]; ok {
			if !st.BackfillFrom.IsZero() {
				from := st.BackfillFrom
				c.From = &from
			}
			if !st.LastPoll.IsZero() {
				to := st.LastPoll
				c.To = &to
			}
			c.Complete = st.BackfillDone && !st.BackfillFrom.After(q.From) && !st.LastPoll.IsZero() &&
				(!st.LastPoll.Before(q.To) || q.To.After(now))
		}
		out = append(out, c)
	}
	return out, nil
}

// Sessions calls each for every archived session started in [q.From, q.To) on q's servers
// that is in q's scope and matches its filter, oldest first. It streams: memory does not grow
// with the number of sessions.
func (a *Archive) Sessions(ctx context.Context, q resolvers.AuditQuery, each func(*rules.Session) error) error {
	if len(q.Servers) == 0 {
		return nil
	}
	filter, err := rules.CompileFilter(q.Filter)
	if err != nil {
		return &model.InputError{Msg: err.Error()}
	}
	args := []any{q.From.UTC().UnixNano(), q.To.UTC().UnixNano()}
	for _, s := range q.Servers {
		args = append(args, s)
	}
	rows, err := a.st.Query(ctx, `SELECT server, id, org_id, org_name, name, type, state, result, initiated_by, client_host,
		scope_name, reason, details, start_ns, end_ns, items, bytes, by_event_type, first_item_ns, last_item_ns
		FROM archive_session WHERE start_ns >= ? AND start_ns < ? AND server IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(q.Servers)), ",")+`) ORDER BY start_ns, server, id`, args...)
	if err != nil {
		return fmt.Errorf("restore audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return fmt.Errorf("restore audit: %w", err)
		}
		if !q.InScope(s.Server, s.OrgID) || !filter.Match(s) {
			continue
		}
		if err := each(s); err != nil {
			return err
		}
	}
	return rows.Err()
}

func scanSession(r store.Rows) (*rules.Session, error) {
	var s rules.Session
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
	u.EndTime, s.FirstItem, s.LastItem = nsPtr(end), nsPtr(first), nsPtr(last)
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

func nsPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}
