package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The archive's list readers: the GraphQL read path (resolvers' ArchiveReader, wired by app)
// answers restoreSessions, restoreSession and a session's events from these instead of VBO when
// the watch covers what is asked.

// ListKey is a position in the archive's newest-first session order: start time descending,
// then the server's place in ListQuery.Servers, then id ascending (VBO's own order at one
// start time).
type ListKey struct {
	Start      time.Time
	Server, ID string
}

// ListQuery asks for archived sessions newest first.
type ListQuery struct {
	// Servers are the servers to read, in display order (which breaks ties at one start time).
	Servers []string
	// From and To bound the start time: From <= start < To (nil: open), as VBO's
	// startTimeFrom/startTimeTo.
	From, To *time.Time
	// After continues after this position (nil: from the newest).
	After *ListKey
	// Limit is the most sessions returned (at least 1).
	Limit int
	// Orgs, when not nil, keeps only the sessions whose recorded organisation name has a key
	// (upstream.OrgNameKey) in Orgs[server]: a server without keys keeps none. The names are
	// folded in Go (the databases fold case differently), so the query names the recorded
	// spellings exactly and reads the archive_session_org index.
	Orgs map[string]map[string]bool
	// Types, States and Results, when set, select the sessions by VBO's recorded values.
	Types, States, Results *ValueSet
}

// orgs is the condition and arguments of the recorded organisation names q.Orgs selects (the
// names of each server that fold to one of its keys); none: no session can match.
func (s *Store) orgs(ctx context.Context, q ListQuery) (cond string, args []any, none bool, err error) {
	recorded, err := s.orgNames(ctx, orgServers(q))
	if err != nil {
		return "", nil, false, err
	}
	return q.orgs(recorded)
}

// orgServers are the servers of q whose recorded organisation names q.orgs needs.
func orgServers(q ListQuery) []string {
	var servers []string
	for _, sv := range q.Servers {
		if len(q.Orgs[sv]) > 0 {
			servers = append(servers, sv)
		}
	}
	return servers
}

// orgNames reads the organisation names recorded on servers' sessions, by server (one read
// of the archive_session_org index, of one text whatever the servers).
func (s *Store) orgNames(ctx context.Context, servers []string) (map[string][]string, error) {
	if len(servers) == 0 {
		return nil, nil
	}
	in, args, err := s.anyOf("server", servers)
	if err != nil {
		return nil, err
	}
	type pair struct{ server, name string }
	rows, err := s.eng.queryCached(ctx, `SELECT DISTINCT server, org_name FROM archive_session WHERE `+in, args...)
	if err != nil {
		return nil, err
	}
	pairs, err := Collect(rows, func(r Row) (pair, error) {
		var p pair
		return p, r.Scan(&p.server, &p.name)
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, p := range pairs {
		out[p.server] = append(out[p.server], p.name)
	}
	return out, nil
}

// orgNamesOf is, per server of q, the names recorded on it (recorded: orgNames of at least
// orgServers(q)) that fold to one of q.Orgs' keys: the servers without any left out.
func (q ListQuery) orgNamesOf(recorded map[string][]string) map[string][]string {
	names := map[string][]string{}
	for _, sv := range orgServers(q) {
		if _, ok := names[sv]; ok {
			continue // listed twice
		}
		names[sv] = []string{}
		for _, n := range recorded[sv] {
			if q.Orgs[sv][upstream.OrgNameKey(n)] {
				names[sv] = append(names[sv], n)
			}
		}
	}
	return names
}

// orgs is Store.orgs on the names recorded per server (orgNames of at least orgServers(q)).
func (q ListQuery) orgs(recorded map[string][]string) (cond string, args []any, none bool, err error) {
	if q.Orgs == nil {
		return "", nil, false, nil
	}
	names := q.orgNamesOf(recorded)
	var parts []string
	for _, sv := range orgServers(q) {
		if len(names[sv]) == 0 {
			continue
		}
		parts = append(parts, "(server = ? AND org_name IN ("+placeholders(len(names[sv]))+"))")
		args = append(args, sv)
		for _, n := range names[sv] {
			args = append(args, n)
		}
	}
	if len(parts) == 0 {
		return "", nil, true, nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args, false, nil
}

// rank is the SQL expression of a row's server's place in q.Servers, and its arguments.
func (q ListQuery) rank() (string, []any) {
	var b strings.Builder
	args := make([]any, 0, len(q.Servers))
	b.WriteString("CASE server")
	for i, s := range q.Servers {
		fmt.Fprintf(&b, " WHEN ? THEN %d", i)
		args = append(args, s)
	}
	b.WriteString(" END")
	return b.String(), args
}

// where is the query's filter and its arguments, the rank expression's first; orgs and
// orgArgs are the organisation condition (Store.orgs). newest: the rows are read newest first
// up to a limit (ListSessions), not all counted.
func (q ListQuery) where(orgs string, orgArgs []any, newest bool) (rank string, where string, args []any, err error) {
	rank, args = q.rank()
	// Without an organisation condition, one server's newest sessions are read along the
	// start time (archive_session_report, led by start_ns, backwards, up to Limit) instead of
	// every session of the server then sorted: "server || ''" keeps the planner from picking
	// the primary key's (server, id) for the servers' condition (both engines concatenate with
	// ||). With one, the organisations' ranges of archive_session_org are the smaller read.
	server := "server"
	if newest && orgs == "" {
		server = "server || ''"
	}
	conds := []string{server + " IN (" + placeholders(len(q.Servers)) + ")"}
	for _, s := range q.Servers {
		args = append(args, s)
	}
	if orgs != "" {
		conds = append(conds, orgs)
		args = append(args, orgArgs...)
	}
	if q.From != nil {
		conds = append(conds, "start_ns >= ?")
		args = append(args, NS(*q.From))
	}
	if q.To != nil {
		conds = append(conds, "start_ns < ?")
		args = append(args, NS(*q.To))
	}
	for _, c := range valueFilters(q.Types, q.States, q.Results) {
		conds = append(conds, c.set.cond(c.col, &args))
	}
	if q.After != nil {
		r := -1
		for i, s := range q.Servers {
			if s == q.After.Server {
				r = i
			}
		}
		if r < 0 {
			return "", "", nil, fmt.Errorf("store: list position names server %q, not listed", q.After.Server)
		}
		// start_ns <= ? first: a range of the start time index (the OR alone is none).
		conds = append(conds, "start_ns <= ? AND (start_ns < ? OR (start_ns = ? AND ("+rank+" > ? OR ("+rank+" = ? AND id > ?))))")
		at := NS(q.After.Start)
		args = append(args, at, at, at)
		for _, s := range q.Servers { // the rank expression's arguments, again
			args = append(args, s)
		}
		args = append(args, r)
		for _, s := range q.Servers {
			args = append(args, s)
		}
		args = append(args, r, q.After.ID)
	}
	return rank, strings.Join(conds, " AND "), args, nil
}

// ListSessions reads archived sessions of q.Servers newest first (see ListKey), at most q.Limit.
func (s *Store) ListSessions(ctx context.Context, q ListQuery) ([]*Session, error) {
	if len(q.Servers) == 0 {
		return nil, nil
	}
	orgs, orgArgs, none, err := s.orgs(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	if none {
		return nil, nil
	}
	query, args, err := q.listSQL(sessionCols, orgs, orgArgs)
	if err != nil {
		return nil, err
	}
	list, err := collectSessions(s.eng.Query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	return list, nil
}

// listSQL is ListSessions' query of cols for q, with the organisation condition orgs
// (Store.orgs), and its arguments.
func (q ListQuery) listSQL(cols, orgs string, orgArgs []any) (string, []any, error) {
	rank, where, args, err := q.where(orgs, orgArgs, true)
	if err != nil {
		return "", nil, err
	}
	rankArgs := args[:len(q.Servers)]
	args = append(args[len(q.Servers):len(args):len(args)], rankArgs...)
	order := "start_ns DESC, " + rank + ", id"
	if len(q.Servers) == 1 { // the rank is the same for every row: the start time index gives the order
		order = "start_ns DESC, id"
		args = args[:len(args)-1]
	}
	args = append(args, max(q.Limit, 1))
	return `SELECT ` + cols + ` FROM archive_session WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ?`, args, nil
}

// listProbesBatch bounds the probes (a list's server and organisation name: one indexed,
// limited read each) one ListSessionsBatch query reads; a list's probes are never split.
const listProbesBatch = 1000

// listProbe is one indexed, limited read of ListSessionsBatch's statement: one server's
// sessions of one recorded organisation name, newest first, within bounds. JSON keys are the
// statement's probe columns.
type listProbe struct {
	// Q is the list (its index in the batch), Rank the server's place in its servers.
	Q      int    `json:"q"`
	Server string `json:"s"`
	Rank   int    `json:"r"`
	Name   string `json:"n"`
	// Lo <= start_ns <= Hi (From, To - 1, and the list position's start when continuing).
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
	// At a row starting at AtNS is kept by Tie: 0 none, 1 all (a server ranked after the
	// position's), 2 those with an id after AtID (the position's own server). No position:
	// AtNS is the maximum, Tie 1.
	AtNS int64  `json:"a"`
	Tie  int    `json:"t"`
	AtID string `json:"i"`
	// Types, States and Results are the value filters (absent: none).
	Types   *probeValues `json:"ty,omitempty"`
	States  *probeValues `json:"st,omitempty"`
	Results *probeValues `json:"re,omitempty"`
}

// probeValues is a ValueSet in a probe: the value is in In, or (NotIn not empty) outside NotIn.
type probeValues struct {
	In    []string `json:"in"`
	NotIn []string `json:"out"`
}

func newProbeValues(v *ValueSet) *probeValues {
	if v == nil {
		return nil
	}
	return &probeValues{In: append([]string{}, v.In...), NotIn: append([]string{}, v.NotIn...)}
}

// listProbeCond is the probe's condition on archive_session x, over the probe's columns p.*
// (the same on both engines but for the value filters, valueCond).
func listProbeCond(valueCond func(col, set string) string) string {
	return `x.server = p.s AND x.org_name = p.n AND x.start_ns >= p.lo AND x.start_ns <= p.hi
		AND (x.start_ns < p.a OR p.t = 1 OR (p.t = 2 AND x.id > p.i))
		AND ` + valueCond("type", "ty") + ` AND ` + valueCond("state", "st") + ` AND ` + valueCond("result", "re")
}

// listProbesSQL is ListSessionsBatch's statement by driver: one text whatever the lists. Its
// parameters are the probes (a JSON array of listProbe) and the limit of each probe's read;
// its rows are each probe's sessions and the probe's list and rank, in each list's order (the
// rows' start time descending, then their server's rank, then id). SQLite reads each probe's
// rowids in a correlated subquery (SQLite's LIMIT cannot read p, hence one limit per query),
// PostgreSQL in a LATERAL one. Both read the archive_session_org index's range of the probe.
// SQLite materializes the probes first: its subquery reads p's columns for every row it looks
// at, and from json_each each would be a json_extract again.
var listProbesSQL = map[string]string{
	DriverSQLite: `WITH p AS MATERIALIZED (SELECT json_extract(value, '$.q') AS q, json_extract(value, '$.s') AS s, json_extract(value, '$.r') AS r,
		json_extract(value, '$.n') AS n, json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi,
		json_extract(value, '$.a') AS a, json_extract(value, '$.t') AS t, json_extract(value, '$.i') AS i,
		json_extract(value, '$.ty') AS ty, json_extract(value, '$.st') AS st, json_extract(value, '$.re') AS re FROM json_each(?))
	SELECT a.` + strings.Join(sessionColList, ", a.") + `, p.q, p.r FROM p JOIN archive_session AS a ON a.rowid IN (
		SELECT x.rowid FROM archive_session AS x WHERE ` + listProbeCond(func(col, set string) string {
		return `(p.` + set + ` IS NULL OR x.` + col + ` IN (SELECT value FROM json_each(p.` + set + `, '$.in'))
			OR (json_array_length(p.` + set + `, '$.out') > 0 AND x.` + col + ` NOT IN (SELECT value FROM json_each(p.` + set + `, '$.out'))))`
	}) + ` ORDER BY x.start_ns DESC, x.id LIMIT ?)
	ORDER BY p.q, a.start_ns DESC, p.r, a.id`,
	DriverPostgres: `SELECT a.` + strings.Join(sessionColList, ", a.") + `, p.q, p.r
	FROM jsonb_to_recordset(?::jsonb) AS p(q int, s text, r int, n text, lo bigint, hi bigint, a bigint, t int, i text, ty jsonb, st jsonb, re jsonb)
	CROSS JOIN LATERAL (SELECT x.* FROM archive_session AS x WHERE ` + listProbeCond(func(col, set string) string {
		return `(p.` + set + ` IS NULL OR x.` + col + ` IN (SELECT jsonb_array_elements_text(p.` + set + `->'in'))
			OR (jsonb_array_length(p.` + set + `->'out') > 0 AND x.` + col + ` NOT IN (SELECT jsonb_array_elements_text(p.` + set + `->'out'))))`
	}) + ` ORDER BY x.start_ns DESC, x.id LIMIT ?) AS a
	ORDER BY p.q, a.start_ns DESC, p.r, a.id`,
}

// probes are q's reads (list i) of the names recorded on its servers that q.Orgs selects (q.Orgs
// not nil): none when no session can match.
func (q ListQuery) probes(i int, recorded map[string][]string) ([]listProbe, error) {
	names, some := q.orgNamesOf(recorded), false
	for _, ns := range names {
		some = some || len(ns) > 0
	}
	if !some {
		return nil, nil
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if q.From != nil {
		lo = NS(*q.From)
	}
	if q.To != nil {
		to := NS(*q.To)
		if to == math.MinInt64 {
			return nil, nil // start_ns < the minimum: none
		}
		hi = to - 1
	}
	after := -1
	if q.After != nil {
		for r, sv := range q.Servers {
			if sv == q.After.Server {
				after = r
			}
		}
		if after < 0 {
			return nil, fmt.Errorf("store: list position names server %q, not listed", q.After.Server)
		}
	}
	var out []listProbe
	seen := map[string]bool{}
	for r, sv := range q.Servers {
		if seen[sv] { // listed twice: its rows rank at its first place
			continue
		}
		seen[sv] = true
		p := listProbe{Q: i, Server: sv, Rank: r, Lo: lo, Hi: hi, AtNS: math.MaxInt64, Tie: 1,
			Types: newProbeValues(q.Types), States: newProbeValues(q.States), Results: newProbeValues(q.Results)}
		if q.After != nil {
			p.AtNS, p.Hi = NS(q.After.Start), min(hi, NS(q.After.Start))
			switch {
			case r < after:
				p.Tie = 0
			case r == after:
				p.Tie, p.AtID = 2, q.After.ID
			}
		}
		for _, n := range names[sv] {
			p.Name = n
			out = append(out, p)
		}
	}
	return out, nil
}

// probesValidUTF8 reports whether every text of ps is valid UTF-8 (JSON carries no other: a
// list position's id comes from a client's cursor).
func probesValidUTF8(ps []listProbe) bool {
	valid := func(v *probeValues) bool {
		if v == nil {
			return true
		}
		for _, x := range append(append([]string{}, v.In...), v.NotIn...) {
			if !utf8.ValidString(x) {
				return false
			}
		}
		return true
	}
	for _, p := range ps {
		if !utf8.ValidString(p.Server) || !utf8.ValidString(p.Name) || !utf8.ValidString(p.AtID) ||
			!valid(p.Types) || !valid(p.States) || !valid(p.Results) {
			return false
		}
	}
	return true
}

// ListSessionsBatch is ListSessions of every query of qs, read together: the organisation names
// recorded on their servers once, then, for the lists that select organisations, one query
// of one fixed text (listProbesSQL, prepared once) per limit and up to listProbesBatch probes,
// each probe one server's organisation name (its own indexed, limited read), instead of two
// queries per list. A list of every organisation (Orgs nil), or with a text JSON cannot carry
// (not valid UTF-8), is read alone (ListSessions).
// out[i] is qs[i]'s list.
func (s *Store) ListSessionsBatch(ctx context.Context, qs []ListQuery) ([][]*Session, error) {
	out := make([][]*Session, len(qs))
	need := map[string]bool{}
	var servers []string
	for _, q := range qs {
		for _, sv := range orgServers(q) {
			if !need[sv] {
				need[sv] = true
				servers = append(servers, sv)
			}
		}
	}
	recorded, err := s.orgNames(ctx, servers)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	byLimit := map[int][][]listProbe{} // per limit, batches of probes
	var limits []int
	for i, q := range qs {
		switch {
		case len(q.Servers) == 0:
			continue
		case q.Orgs == nil:
			if out[i], err = s.ListSessions(ctx, q); err != nil {
				return nil, err
			}
			continue
		}
		ps, err := q.probes(i, recorded)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			continue
		}
		if !probesValidUTF8(ps) { // JSON cannot carry them: the list alone, as ListSessions reads it
			if out[i], err = s.ListSessions(ctx, q); err != nil {
				return nil, err
			}
			continue
		}
		limit := max(q.Limit, 1)
		batches, ok := byLimit[limit]
		if !ok {
			limits = append(limits, limit)
		}
		if n := len(batches); n == 0 || len(batches[n-1]) > 0 && len(batches[n-1])+len(ps) > listProbesBatch {
			batches = append(batches, nil)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], ps...)
		byLimit[limit] = batches
	}
	for _, limit := range limits {
		for _, ps := range byLimit[limit] {
			if err := s.readProbes(ctx, ps, limit, out); err != nil {
				return nil, fmt.Errorf("store: list sessions: %w", err)
			}
		}
	}
	return out, nil
}

// readProbes reads ps (each at most limit rows) into their lists of out, each up to limit.
func (s *Store) readProbes(ctx context.Context, ps []listProbe, limit int, out [][]*Session) error {
	b, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	rows, err := s.eng.queryCached(ctx, listProbesSQL[s.driver], string(b), limit)
	if err != nil {
		return err
	}
	_, err = Collect(rows, func(r Row) (struct{}, error) {
		var q, rank int
		x, err := scanSession(r, &q, &rank)
		if err == nil && (q < 0 || q >= len(out)) {
			err = fmt.Errorf("row of list %d", q)
		}
		if err != nil {
			return struct{}{}, err
		}
		if len(out[q]) < limit { // the list's probes read up to limit each: its first limit rows
			out[q] = append(out[q], x)
		}
		return struct{}{}, nil
	})
	return err
}

// CountSessions counts the archived sessions of q.Servers in q's window (q.After and q.Limit
// are ignored).
func (s *Store) CountSessions(ctx context.Context, q ListQuery) (int, error) {
	if len(q.Servers) == 0 {
		return 0, nil
	}
	q.After = nil
	orgs, orgArgs, none, err := s.orgs(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("store: count sessions: %w", err)
	}
	if none {
		return 0, nil
	}
	_, where, args, err := q.where(orgs, orgArgs, false)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.eng.QueryRow(ctx, `SELECT COUNT(*) FROM archive_session WHERE `+where, args[len(q.Servers):]...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count sessions: %w", err)
	}
	return n, nil
}

// SessionEventsFrom reads a session's archived events from order offset on, in order (at most
// limit): the same positions VBO's event listing has.
func (s *Store) SessionEventsFrom(ctx context.Context, server, sessionID string, offset, limit int) ([]upstream.RestoreSessionEvent, error) {
	return s.Events(ctx, server, sessionID, offset, math.MaxInt32, math.MaxInt64, limit)
}

// EventColumns names the archive_event columns a read may leave out; the fields they fill stay
// zero. The zero value leaves none out. Order, type and status are always read.
type EventColumns uint16

// Columns of archive_event a read may leave out.
const (
	EventID       EventColumns = 1 << iota // id
	EventTimes                             // start_ns, end_ns
	EventDuration                          // duration
	EventTitle                             // title
	EventMessage                           // message
	EventItemName                          // item_name
	EventItemType                          // item_type
	EventItemSize                          // item_size
	EventSource                            // source
	EventTarget                            // target
)

// eventColumnBits are eventColumns' columns in order, each with the bit that leaves it out.
var eventColumnBits = []struct {
	name string
	bit  EventColumns
}{{"ord", 0}, {"id", EventID}, {"type", 0}, {"status", 0}, {"start_ns", EventTimes}, {"end_ns", EventTimes},
	{"duration", EventDuration}, {"title", EventTitle}, {"message", EventMessage}, {"item_name", EventItemName},
	{"item_type", EventItemType}, {"item_size", EventItemSize}, {"source", EventSource}, {"target", EventTarget}}

// EventsOfSessions reads the archived events at positions [offset, offset+limit) of each of a
// server's sessions ids, in one query per 500 sessions (the read path batches every session
// of a response whose events it shows), by session id, each in order, without the columns
// omit names. A session's positions are contiguous from 0 (the watch appends them in VBO's
// order), so the range is what SessionEventsFrom(offset, limit) reads of each. The ids are one
// parameter (anyOf), so the query's text depends on omit only and its statement is kept.
func (s *Store) EventsOfSessions(ctx context.Context, server string, ids []string, offset, limit int, omit EventColumns) (map[string][]upstream.RestoreSessionEvent, error) {
	out := make(map[string][]upstream.RestoreSessionEvent, len(ids))
	if limit <= 0 {
		return out, nil
	}
	cols, keep := []string{"session_id"}, make([]bool, len(eventColumnBits))
	for i, c := range eventColumnBits {
		if keep[i] = c.bit&omit == 0; keep[i] {
			cols = append(cols, c.name)
		}
	}
	var sc eventScanner
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		in, inArgs, err := s.anyOf("session_id", chunk)
		if err != nil {
			return nil, fmt.Errorf("store: events of sessions: %w", err)
		}
		args := make([]any, 0, len(inArgs)+3)
		args = append(append(append(args, server), inArgs...), offset, int64(offset)+int64(limit))
		rows, err := s.eng.queryCached(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM archive_event WHERE server = ? AND `+in+
			` AND ord >= ? AND ord < ? ORDER BY session_id, ord`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: events of sessions: %w", err)
		}
		if err := sc.scan(rows, keep, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// anyOf is the condition "col is one of vs" and its arguments: one parameter holding them all
// (SQLite: a JSON array read by json_each; PostgreSQL: a text[]), so the query's text is the
// same whatever their number. A value that is not valid UTF-8 (JSON cannot carry it) makes it
// one placeholder each.
func (s *Store) anyOf(col string, vs []string) (string, []any, error) {
	if s.driver == DriverPostgres {
		return col + " = ANY(?::text[])", []any{vs}, nil
	}
	for _, v := range vs {
		if !utf8.ValidString(v) {
			args := make([]any, len(vs))
			for i, v := range vs {
				args[i] = v
			}
			return col + " IN (" + placeholders(len(vs)) + ")", args, nil
		}
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return "", nil, err
	}
	if vs == nil {
		b = []byte("[]")
	}
	return col + " IN (SELECT value FROM json_each(?))", []any{string(b)}, nil
}

// eventScanner reads EventsOfSessions' rows; what it allocates is kept across its queries.
type eventScanner struct {
	times arena[time.Time]
	sizes arena[int64]
}

// scan reads rows of session_id and the eventColumns keep says into out and closes them. The
// rows' events are stored in blocks of eventBlock (each session's slice is its own part of
// one, full), and their end times and sizes in the arenas' blocks: a few allocations per
// query, not per row, and no copy of what was read when a slice grows.
func (sc *eventScanner) scan(rows Rows, keep []bool, out map[string][]upstream.RestoreSessionEvent) error {
	defer rows.Close()
	var (
		sid       string
		e         upstream.RestoreSessionEvent
		start     int64
		end, size sql.NullInt64
	)
	all := [...]any{&e.Order, &e.ID, &e.Type, &e.Status, &start, &end, &e.Duration, &e.Title, &e.Message,
		&e.ItemName, &e.ItemType, &size, &e.Source, &e.Target}
	dest := make([]any, 0, len(keep)+1)
	dest = append(dest, &sid)
	for i, d := range all {
		if keep[i] {
			dest = append(dest, d)
		}
	}
	var (
		blk   []upstream.RestoreSessionEvent // the current block of events
		cur   string                         // the current session (rows come by session)
		first = -1                           // its first event in blk (-1: none yet)
	)
	done := func() { // cur's events are all read: its slice of the block, full
		if first < 0 {
			return
		}
		list := blk[first:len(blk):len(blk)]
		if prev, ok := out[cur]; ok { // the same id in an earlier chunk
			list = append(prev, list...)
		}
		out[cur] = list
	}
	for rows.Next() {
		e = upstream.RestoreSessionEvent{}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("store: events of sessions: %w", err)
		}
		if keep[4] {
			e.StartTime = time.Unix(0, start).UTC()
			if end.Valid {
				e.EndTime = sc.times.ptr(time.Unix(0, end.Int64).UTC())
			}
		}
		if size.Valid {
			e.ItemSizeBytes = sc.sizes.ptr(size.Int64)
		}
		if first < 0 || sid != cur {
			done()
			cur, first = sid, len(blk)
		}
		if len(blk) == cap(blk) { // a new block; the session's events so far move with it
			run := blk[first:]
			next := make([]upstream.RestoreSessionEvent, len(run), max(eventBlock, 2*len(run)))
			copy(next, run)
			blk, first = next, 0
		}
		blk = append(blk, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: events of sessions: %w", err)
	}
	done()
	return nil
}

// eventBlock is how many events a block of eventScanner holds (a session's events are one
// part of one block).
const eventBlock = 512

// arena hands out pointers to values stored in blocks of arenaBlock: one allocation per block
// instead of one per value. A block lives as long as any pointer into it.
type arena[T any] struct{ block []T }

const arenaBlock = 256

func (a *arena[T]) ptr(v T) *T {
	if len(a.block) == cap(a.block) {
		a.block = make([]T, 0, arenaBlock)
	}
	a.block = append(a.block, v)
	return &a.block[len(a.block)-1]
}
