package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The archive's readers for reports and exports (package report). They run on capacity kept
// apart from the other reads (SQLite: a reader pool of their own; PostgreSQL: at most half the
// pool's connections), so however many reports run, and however long, the watcher, the feed,
// the rules and the webhooks still get a connection. What a report does with the rows (scope,
// filter, aggregation, coverage) stays in package report; these say only which rows.

// ReportKey is a session's place in the report order (start, server, id): a session's for
// life, so paging by it skips and repeats nothing.
type ReportKey struct {
	Start      time.Time
	Server, ID string
}

// ReportPage asks ReportSessions for one page of a window's sessions.
type ReportPage struct {
	// From and To bound the sessions' start: [From, To).
	From, To time.Time
	// After is the last session of the previous page (nil: from the window's start).
	After *ReportKey
	// Rows bounds the page's sessions; Bytes its text (the page ends once its sessions' text
	// passes Bytes, holding at least one).
	Rows, Bytes int
}

// ReportSessions reads one page of the sessions started in [p.From, p.To) after p.After, in
// (start, server, id) order, with the fields a report reads: Server, OrgID, the upstream
// session (Organization is the recorded name), Totals' Items, Bytes, ByEventType, FirstItem
// and LastItem, and the Attribution (ClientMachine, ViaAddress, ByItemType and the feed fields are left empty). The
// rows are closed when it returns, so the caller may hold the page as long as it likes (write
// it to a slow client) without holding a store connection. An empty page is the end.
func (s *Store) ReportSessions(ctx context.Context, p ReportPage) ([]*Session, error) {
	// The window alone selects rows, so the database reads one range of the start-time index
	// (archive_session_report_person, led by start_ns and server); the caller checks servers (a
	// condition on server makes the planner walk an index on server instead).
	query := `SELECT server, id, org_id, org_name, name, type, state, result, initiated_by, client_host,
		scope_name, reason, details, start_ns, end_ns, items, bytes, by_event_type, first_item_ns, last_item_ns,
		through_gateway, person, display_name, person_tenant, person_reason, attribution_pending
		FROM archive_session WHERE start_ns >= ? AND start_ns < ?`
	args := []any{NS(p.From), NS(p.To)}
	if a := p.After; a != nil {
		query += ` AND (start_ns > ? OR server > ? OR (server = ? AND id > ?))`
		args = []any{NS(a.Start), NS(p.To), NS(a.Start), a.Server, a.Server, a.ID}
	}
	query += ` ORDER BY start_ns, server, id LIMIT ?`
	args = append(args, p.Rows)
	rows, err := s.eng.queryReport(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: report sessions: %w", err)
	}
	defer rows.Close()
	var page []*Session
	size := 0
	for size < p.Bytes && rows.Next() {
		x, err := scanReportSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: report sessions: %w", err)
		}
		page = append(page, x)
		u := &x.Session
		at := &x.Attribution
		size += 256 + len(u.ID) + len(u.Organization) + len(u.Name) + len(u.InitiatedBy) + len(u.ClientHost) +
			len(u.ScopeName) + len(u.Reason) + len(u.Details) + len(at.Person) + len(at.DisplayName) + len(at.Tenant) + len(at.Reason)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: report sessions: %w", err)
	}
	return page, nil
}

func scanReportSession(r Row) (*Session, error) {
	var x Session
	u := &x.Session
	var start int64
	var end, first, last sql.NullInt64
	var byEvent string
	if err := r.Scan(&x.Server, &u.ID, &x.OrgID, &u.Organization, &u.Name, &u.Type, &u.State, &u.Result, &u.InitiatedBy,
		&u.ClientHost, &u.ScopeName, &u.Reason, &u.Details, &start, &end, &x.Totals.Items, &x.Totals.Bytes, &byEvent,
		&first, &last, &x.Attribution.ThroughGateway, &x.Attribution.Person, &x.Attribution.DisplayName, &x.Attribution.Tenant,
		&x.Attribution.Reason, &x.Attribution.Pending); err != nil {
		return nil, err
	}
	u.CreationTime = time.Unix(0, start).UTC()
	u.EndTime, x.Totals.FirstItem, x.Totals.LastItem = TimePtr(end), TimePtr(first), TimePtr(last)
	if byEvent != "" {
		if err := json.Unmarshal([]byte(byEvent), &x.Totals.ByEventType); err != nil {
			return nil, fmt.Errorf("session %s: by_event_type: %w", u.ID, err)
		}
	}
	return &x, nil
}

// GroupColumn is a column GroupSessions groups by, beside server and organisation.
type GroupColumn int

// The columns GroupSessions can group by.
const (
	GroupInitiatedBy GroupColumn = iota + 1
	GroupClientMachine
	GroupViaAddress
	GroupType
	GroupResult
	// GroupDay is the start time's UTC day.
	GroupDay
	// GroupPerson is the person who started the session through the gateway ("" for sessions
	// from outside it, and while the attribution is pending).
	GroupPerson
)

// ValueSet selects the values of a text column: those in In, or any value outside NotIn. An
// empty list adds nothing, so a ValueSet with both empty selects no row.
type ValueSet struct {
	In, NotIn []string
}

// GroupQuery asks GroupSessions to count a window's sessions.
type GroupQuery struct {
	// From and To bound the sessions' start: [From, To).
	From, To time.Time
	// By are the columns grouped by beside server, org_id and org_name (a repeat is ignored).
	By []GroupColumn
	// StartFrom and StartTo, when set, also bound the start, both inclusive.
	StartFrom, StartTo *time.Time
	// Types, States and Results, when set, select the sessions by VBO's recorded values.
	Types, States, Results *ValueSet
}

// SessionGroup is one group of GroupSessions: its key (the columns not grouped by are empty)
// and the sessions' counts.
type SessionGroup struct {
	Server, OrgID, OrgName                 string
	InitiatedBy, ClientMachine, ViaAddress string
	Type, Result                           string
	Person                                 string
	// Sessions, Items, Bytes and Failed (sessions whose result is Failed) are sums.
	Sessions, Items, Bytes, Failed int64
	// First and Last are the earliest and latest session start.
	First, Last time.Time
}

// nsPerDay groups start times by UTC day in SQL (integer division of Unix nanoseconds).
const nsPerDay = int64(24 * time.Hour)

// groupCol is a grouped column: its archive_session column ("" for DAY) and where its value goes.
type groupCol struct {
	col  string
	dest any
}

// GroupSessions has the database count the sessions started in [q.From, q.To) that q selects,
// grouped by server, organisation (id and recorded name) and q.By, and calls each for every
// group. The window's whole UTC days are counted from the per-day rollup (archive_rollup) when
// one of its families holds every column grouped by or filtered on; the partial days at its
// edges, and every other grouping, from the sessions (every column read is in the
// archive_session_report_person index, led by start_ns: the window is one range of it and no
// table row is read). So a group's key may come up to three times (its earliest day, the
// whole days, its last day); the counts add up. each is called while the rows are open: it
// must not wait on anything (add to memory, never write to a client).
func (s *Store) GroupSessions(ctx context.Context, q GroupQuery, each func(SessionGroup) error) error {
	var g SessionGroup
	var day int64 // grouped by, not returned: the DAY is First's
	by := []groupCol{}
	seen := map[GroupColumn]bool{}
	for _, c := range q.By {
		if seen[c] {
			continue
		}
		seen[c] = true
		switch c {
		case GroupInitiatedBy:
			by = append(by, groupCol{"initiated_by", &g.InitiatedBy})
		case GroupClientMachine:
			by = append(by, groupCol{"client_machine", &g.ClientMachine})
		case GroupViaAddress:
			by = append(by, groupCol{"via_address", &g.ViaAddress})
		case GroupType:
			by = append(by, groupCol{"type", &g.Type})
		case GroupResult:
			by = append(by, groupCol{"result", &g.Result})
		case GroupDay:
			by = append(by, groupCol{"", &day})
		case GroupPerson:
			by = append(by, groupCol{"person", &g.Person})
		default:
			return fmt.Errorf("store: group sessions: unknown column %d", c)
		}
	}
	// The window: [lo, hi) in Unix nanoseconds.
	lo, hi := NS(q.From), NS(q.To)
	if q.StartFrom != nil {
		lo = max(lo, NS(*q.StartFrom))
	}
	if q.StartTo != nil {
		hi = min(hi, NS(*q.StartTo)+1)
	}
	if lo >= hi {
		return nil
	}
	var first, last int64
	dest := []any{&g.Server, &g.OrgID, &g.OrgName}
	for _, c := range by {
		dest = append(dest, c.dest)
	}
	dest = append(dest, &g.Sessions, &g.Items, &g.Bytes, &g.Failed, &first, &last)
	read := func(query string, args []any) error {
		rows, err := s.eng.queryReport(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: group sessions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			g = SessionGroup{}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("store: group sessions: %w", err)
			}
			g.First, g.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
			if err := each(g); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: group sessions: %w", err)
		}
		return nil
	}
	var need []string
	for _, c := range by {
		if c.col != "" {
			need = append(need, c.col)
		}
	}
	for _, f := range valueFilters(q.Types, q.States, q.Results) {
		need = append(need, f.col)
	}
	kind, ok := rollupKindFor(need)
	dayLo, dayHi := (lo+nsPerDay-1)/nsPerDay, hi/nsPerDay // the whole days in [lo, hi)
	if !ok || lo < 0 || dayLo >= dayHi {
		return read(groupRowsQuery(by, q, lo, hi))
	}
	if lo < dayLo*nsPerDay {
		if err := read(groupRowsQuery(by, q, lo, dayLo*nsPerDay)); err != nil {
			return err
		}
	}
	if err := read(groupRollupQuery(kind, by, q, dayLo, dayHi)); err != nil {
		return err
	}
	if dayHi*nsPerDay < hi {
		return read(groupRowsQuery(by, q, dayHi*nsPerDay, hi))
	}
	return nil
}

// groupSource is a table GroupSessions counts from, as the expressions that read it: the
// sessions, or one family of the per-day rollup. Both go through groupSource.query, so the
// two readings of a grouping cannot drift apart (their answers add up to one: see
// TestRollupFollowsEveryWrite and package report's TestGroupedPathEqualsExactPath).
type groupSource struct {
	from   string              // the table
	day    string              // a row's UTC day
	col    func(string) string // the expression holding an archive_session column
	counts string              // a group's counts, in SessionGroup's order
}

// sessionDay is a session's UTC day, as the reports and the rollup compute it.
var sessionDay = "start_ns / " + fmt.Sprint(nsPerDay)

// sessionCounts are a group of sessions' counts in SessionGroup's order (Sessions, Items,
// Bytes, Failed, First, Last), as GroupSessions reads them and the rollup stores them.
const sessionCounts = `COUNT(*), CAST(SUM(items) AS BIGINT), CAST(SUM(bytes) AS BIGINT),
		CAST(SUM(CASE WHEN result = 'Failed' THEN 1 ELSE 0 END) AS BIGINT), MIN(start_ns), MAX(start_ns)`

var sessionSource = groupSource{from: "archive_session", day: sessionDay, col: func(c string) string { return c }, counts: sessionCounts}

// source is the rollup's family k as a groupSource: its rows are sessionCounts summed.
func (k rollupKind) source() groupSource {
	return groupSource{from: "archive_rollup", day: "day", col: k.slot, counts: `CAST(SUM(sessions) AS BIGINT), CAST(SUM(items) AS BIGINT),
		CAST(SUM(bytes) AS BIGINT), CAST(SUM(failed) AS BIGINT), MIN(first_ns), MAX(last_ns)`}
}

// query groups src's rows that where (with its args) bounds and q's value filters select, by
// server, organisation and by.
func (src groupSource) query(by []groupCol, q GroupQuery, where []string, args []any) (string, []any) {
	cols := []string{"server", "org_id", "org_name"}
	for _, c := range by {
		if c.col == "" {
			cols = append(cols, src.day)
		} else {
			cols = append(cols, src.col(c.col))
		}
	}
	for _, f := range valueFilters(q.Types, q.States, q.Results) {
		where = append(where, f.set.cond(src.col(f.col), &args))
	}
	return `SELECT ` + strings.Join(cols, ", ") + `, ` + src.counts + `
		FROM ` + src.from + ` WHERE ` + strings.Join(where, " AND ") + ` GROUP BY ` + strings.Join(cols, ", "), args
}

// groupRowsQuery groups the sessions started in [lo, hi) that q selects.
func groupRowsQuery(by []groupCol, q GroupQuery, lo, hi int64) (string, []any) {
	return sessionSource.query(by, q, []string{"start_ns >= ?", "start_ns < ?"}, []any{lo, hi})
}

// groupRollupQuery groups the rollup's rows of kind for the days [dayLo, dayHi) that q selects.
func groupRollupQuery(kind rollupKind, by []groupCol, q GroupQuery, dayLo, dayHi int64) (string, []any) {
	return kind.source().query(by, q, []string{"kind = ?", "day >= ?", "day < ?"}, []any{kind.name, dayLo, dayHi})
}

// valueFilter is a ValueSet on the archive_session column col.
type valueFilter struct {
	col string
	set *ValueSet
}

// valueFilters are the set ones of a query's Types, States and Results, on their columns.
func valueFilters(types, states, results *ValueSet) []valueFilter {
	var out []valueFilter
	for _, f := range []valueFilter{{"type", types}, {"state", states}, {"result", results}} {
		if f.set != nil {
			out = append(out, f)
		}
	}
	return out
}

// cond is the SQL condition "col's value is in v".
func (v *ValueSet) cond(col string, args *[]any) string {
	var parts []string
	if len(v.In) > 0 {
		parts = append(parts, col+" IN ("+placeholders(len(v.In))+")")
		for _, x := range v.In {
			*args = append(*args, x)
		}
	}
	if len(v.NotIn) > 0 {
		parts = append(parts, col+" NOT IN ("+placeholders(len(v.NotIn))+")")
		for _, x := range v.NotIn {
			*args = append(*args, x)
		}
	}
	if len(parts) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}
