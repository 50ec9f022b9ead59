package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The per-day rollup (archive_rollup, migration 00022): the sessions' counts per UTC day,
// server, organisation and one family of dimensions, kept by every write of archive_session in
// the same transaction, so grouping it answers exactly what grouping the sessions answers.
// GroupSessions reads a window's whole days from it and the partial days at the window's edges
// from the sessions.

// rollupKind is one family of the rollup: the archive_session columns held in a, b and c
// ("" for none).
type rollupKind struct {
	name string
	cols [3]string
}

var rollupKinds = []rollupKind{
	{"k", [3]string{"type", "state", "result"}},
	{"i", [3]string{"initiated_by"}},
	{"m", [3]string{"client_machine"}},
	{"v", [3]string{"via_address"}},
	{"p", [3]string{"person"}},
}

var rollupSlots = [3]string{"a", "b", "c"}

// rollupKindFor picks the family that holds every column a grouping needs (cols: archive_session
// column names grouped by or filtered on, beside server, organisation and day).
func rollupKindFor(cols []string) (rollupKind, bool) {
	for _, k := range rollupKinds {
		ok := true
		for _, c := range cols {
			if !slices.Contains(k.cols[:], c) || c == "" {
				ok = false
				break
			}
		}
		if ok {
			return k, true
		}
	}
	return rollupKind{}, false
}

// slot is the rollup column holding col in this family.
func (k rollupKind) slot(col string) string { return rollupSlots[slices.Index(k.cols[:], col)] }

// rollupSession is what the rollup reads of a session, as stored.
type rollupSession struct {
	server, orgID, orgName            string
	typ, state, result                string
	initiatedBy, machine, via, person string
	start, items, bytes               int64
}

func (r *rollupSession) col(name string) string {
	switch name {
	case "type":
		return r.typ
	case "state":
		return r.state
	case "result":
		return r.result
	case "initiated_by":
		return r.initiatedBy
	case "client_machine":
		return r.machine
	case "via_address":
		return r.via
	case "person":
		return r.person
	}
	return ""
}

func (r *rollupSession) failed() int64 {
	if r.result == "Failed" { // as GroupSessions counts Failed
		return 1
	}
	return 0
}

// storedRollup is x as archive_session holds it after a write that found old (nil: inserted):
// the upsert keeps the first organisation name and start it stored.
func storedRollup(x, old *Session) *rollupSession {
	r := &rollupSession{server: x.Server, orgID: x.OrgID, orgName: x.Session.Organization, typ: string(x.Session.Type),
		state: string(x.Session.State), result: string(x.Session.Result), initiatedBy: x.Session.InitiatedBy,
		machine: x.ClientMachine, via: x.ViaAddress, person: x.Attribution.Person, start: NS(x.Session.CreationTime),
		items: x.Totals.Items, bytes: x.Totals.Bytes}
	if old != nil {
		r.orgName, r.start = old.Session.Organization, NS(old.Session.CreationTime)
	}
	return r
}

type rollupKey struct {
	kind                   string
	day                    int64
	server, orgID, orgName string
	a, b, c                string
}

func (r *rollupSession) key(k rollupKind) rollupKey {
	var v [3]string
	for i, c := range k.cols {
		if c != "" {
			v[i] = r.col(c)
		}
	}
	return rollupKey{kind: k.name, day: r.start / nsPerDay, server: r.server, orgID: r.orgID, orgName: r.orgName, a: v[0], b: v[1], c: v[2]}
}

// rollupDelta is what a transaction changes in one rollup row.
type rollupDelta struct {
	sessions, items, bytes, failed int64
	added, removed                 bool
	addMin, addMax                 int64 // starts of the sessions added
	remMin, remMax                 int64 // starts of the sessions removed
}

// rollupDeltas collects a transaction's changes to the rollup; apply writes them.
type rollupDeltas map[rollupKey]*rollupDelta

func (d rollupDeltas) at(k rollupKey) *rollupDelta {
	x := d[k]
	if x == nil {
		x = &rollupDelta{}
		d[k] = x
	}
	return x
}

// change records a session going from old to next (nil: absent before, or deleted).
func (d rollupDeltas) change(old, next *rollupSession) {
	for _, k := range rollupKinds {
		if old != nil && next != nil && old.key(k) == next.key(k) && old.start == next.start {
			if old.items == next.items && old.bytes == next.bytes && old.failed() == next.failed() {
				continue
			}
			x := d.at(old.key(k))
			x.items += next.items - old.items
			x.bytes += next.bytes - old.bytes
			x.failed += next.failed() - old.failed()
			continue
		}
		if old != nil {
			x := d.at(old.key(k))
			x.sessions--
			x.items -= old.items
			x.bytes -= old.bytes
			x.failed -= old.failed()
			if !x.removed {
				x.removed, x.remMin, x.remMax = true, old.start, old.start
			}
			x.remMin, x.remMax = min(x.remMin, old.start), max(x.remMax, old.start)
		}
		if next != nil {
			x := d.at(next.key(k))
			x.sessions++
			x.items += next.items
			x.bytes += next.bytes
			x.failed += next.failed()
			if !x.added {
				x.added, x.addMin, x.addMax = true, next.start, next.start
			}
			x.addMin, x.addMax = min(x.addMin, next.start), max(x.addMax, next.start)
		}
	}
}

func (k rollupKey) args() []any {
	return []any{k.kind, k.day, k.server, k.orgID, k.orgName, k.a, k.b, k.c}
}

const rollupKeyWhere = `kind = ? AND day = ? AND server = ? AND org_id = ? AND org_name = ? AND a = ? AND b = ? AND c = ?`

// apply writes the deltas, after the sessions themselves are written (a group a session left
// whose earliest or latest start may have been that session's is counted again from the
// sessions, and a group left empty is deleted).
func (d rollupDeltas) apply(ctx context.Context, tx Tx) error {
	keys := slices.SortedFunc(maps.Keys(d), func(x, y rollupKey) int {
		return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.day, y.day), cmp.Compare(x.server, y.server),
			cmp.Compare(x.orgID, y.orgID), cmp.Compare(x.orgName, y.orgName), cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b), cmp.Compare(x.c, y.c))
	})
	for _, k := range keys {
		x := d[k]
		if !x.added && !x.removed && x.items == 0 && x.bytes == 0 && x.failed == 0 {
			continue
		}
		var err error
		var n int64
		if x.added {
			n, err = tx.Exec(ctx, `INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (kind, day, server, org_id, org_name, a, b, c) DO UPDATE SET
					sessions = archive_rollup.sessions + excluded.sessions, items = archive_rollup.items + excluded.items,
					bytes = archive_rollup.bytes + excluded.bytes, failed = archive_rollup.failed + excluded.failed,
					first_ns = CASE WHEN excluded.first_ns < archive_rollup.first_ns THEN excluded.first_ns ELSE archive_rollup.first_ns END,
					last_ns = CASE WHEN excluded.last_ns > archive_rollup.last_ns THEN excluded.last_ns ELSE archive_rollup.last_ns END`,
				append(k.args(), x.sessions, x.items, x.bytes, x.failed, x.addMin, x.addMax)...)
		} else {
			n, err = tx.Exec(ctx, `UPDATE archive_rollup SET sessions = sessions + ?, items = items + ?, bytes = bytes + ?, failed = failed + ?
				WHERE `+rollupKeyWhere, append([]any{x.sessions, x.items, x.bytes, x.failed}, k.args()...)...)
		}
		if err != nil {
			return fmt.Errorf("store: rollup: %w", err)
		}
		if n > 0 && !x.removed {
			continue
		}
		var sessions, first, last int64
		err = tx.QueryRow(ctx, `SELECT sessions, first_ns, last_ns FROM archive_rollup WHERE `+rollupKeyWhere, k.args()...).Scan(&sessions, &first, &last)
		switch {
		case IsNoRows(err):
			err = recountRollup(ctx, tx, k) // never expected: count the group again rather than lose it
		case err != nil:
		case sessions <= 0:
			_, err = tx.Exec(ctx, `DELETE FROM archive_rollup WHERE `+rollupKeyWhere, k.args()...)
		case x.removed && (x.remMin <= first || x.remMax >= last):
			err = recountRollup(ctx, tx, k)
		}
		if err != nil {
			return fmt.Errorf("store: rollup: %w", err)
		}
	}
	return nil
}

// recountRollup counts one rollup row again from the sessions.
func recountRollup(ctx context.Context, tx Tx, k rollupKey) error {
	var kind rollupKind
	for _, x := range rollupKinds {
		if x.name == k.kind {
			kind = x
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM archive_rollup WHERE `+rollupKeyWhere, k.args()...); err != nil {
		return err
	}
	sel, where, group := []string{}, []string{}, []string{"server", "org_id", "org_name"}
	// The day's range of the start-time index (widened by a day: a start before 1970 divides
	// towards zero), and the division as the reports compute it.
	args := []any{(k.day - 1) * nsPerDay, (k.day + 1) * nsPerDay, k.day, k.server, k.orgID, k.orgName}
	vals := [3]string{k.a, k.b, k.c}
	for i, c := range kind.cols {
		if c == "" {
			sel = append(sel, "''")
			continue
		}
		sel, where, group = append(sel, c), append(where, " AND "+c+" = ?"), append(group, c)
		args = append(args, vals[i])
	}
	_, err := tx.Exec(ctx, `INSERT INTO archive_rollup (kind, day, server, org_id, org_name, a, b, c, sessions, items, bytes, failed, first_ns, last_ns)
		SELECT '`+kind.name+`', `+fmt.Sprint(k.day)+`, server, org_id, org_name, `+strings.Join(sel, ", ")+`, `+sessionCounts+`
		FROM archive_session WHERE start_ns >= ? AND start_ns <= ? AND `+sessionDay+` = ?
			AND server = ? AND org_id = ? AND org_name = ?`+strings.Join(where, "")+`
		GROUP BY `+strings.Join(group, ", "), args...)
	return err
}
