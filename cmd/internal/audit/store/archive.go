package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// IsNoRows reports whether err is a driver's "no rows" (database/sql on SQLite, pgx on
// PostgreSQL): the packages that keep their own tables in the store (watchrules, schedules)
// ask it instead of naming either driver.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) }

// EnsureServer creates a server's row on first use (its backfill starts at backfillFrom) and
// returns its state.
func (s *Store) EnsureServer(ctx context.Context, server string, backfillFrom time.Time) (ServerState, error) {
	err := s.eng.inTx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO watch_server (server, backfill_from_ns) VALUES (?, ?) ON CONFLICT (server) DO NOTHING`,
			server, NS(backfillFrom))
		return err
	})
	if err != nil {
		return ServerState{}, fmt.Errorf("store: ensure server %s: %w", server, err)
	}
	return s.State(ctx, server)
}

const stateCols = `server, high_water_ns, backfill_from_ns, backfill_done, last_poll_ns, last_error, archived, feed_seq, lease_holder, lease_until_ns`

func scanState(r Row) (ServerState, error) {
	var st ServerState
	var hw, bf, lp, lu int64
	err := r.Scan(&st.Server, &hw, &bf, &st.BackfillDone, &lp, &st.LastError, &st.Archived, &st.FeedSeq, &st.LeaseHolder, &lu)
	st.HighWater, st.BackfillFrom, st.LastPoll, st.LeaseUntil = FromNS(hw), FromNS(bf), FromNS(lp), FromNS(lu)
	return st, err
}

// State returns one server's watcher state (ErrNotFound before EnsureServer).
func (s *Store) State(ctx context.Context, server string) (ServerState, error) {
	st, err := scanState(s.eng.QueryRow(ctx, `SELECT `+stateCols+` FROM watch_server WHERE server = ?`, server))
	if IsNoRows(err) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("store: state of %s: %w", server, err)
	}
	return st, nil
}

// States returns every known server's state.
func (s *Store) States(ctx context.Context) ([]ServerState, error) {
	rows, err := s.eng.Query(ctx, `SELECT `+stateCols+` FROM watch_server ORDER BY server`)
	if err != nil {
		return nil, fmt.Errorf("store: states: %w", err)
	}
	out, err := Collect(rows, scanState)
	if err != nil {
		return nil, fmt.Errorf("store: states: %w", err)
	}
	return out, nil
}

// AcquireLease takes (or renews) the right to poll server for ttl, measured on the store's
// clock. It succeeds when the lease is free, expired, or already the holder's; taking it from
// another holder increments the epoch, which fences the previous holder's writes.
func (s *Store) AcquireLease(ctx context.Context, server, holder string, ttl time.Duration) (Lease, bool, error) {
	now, err := s.eng.now(ctx)
	if err != nil {
		return Lease{}, false, err
	}
	until := now.Add(ttl)
	var epoch int64
	err = s.eng.inTx(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `UPDATE watch_server
			SET lease_epoch = CASE WHEN lease_holder = ? THEN lease_epoch ELSE lease_epoch + 1 END,
			    lease_holder = ?, lease_until_ns = ?
			WHERE server = ? AND (lease_holder = ? OR lease_until_ns < ?)
			RETURNING lease_epoch`, holder, holder, NS(until), server, holder, NS(now)).Scan(&epoch)
	})
	if IsNoRows(err) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: acquire lease on %s: %w", server, err)
	}
	return Lease{Server: server, Holder: holder, Epoch: epoch, Until: until}, true, nil
}

// RenewLease extends a held lease; ErrLeaseLost when another holder has taken it.
func (s *Store) RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	now, err := s.eng.now(ctx)
	if err != nil {
		return l, err
	}
	until := now.Add(ttl)
	var n int64
	err = s.eng.inTx(ctx, func(tx Tx) error {
		n, err = tx.Exec(ctx, `UPDATE watch_server SET lease_until_ns = ? WHERE server = ? AND lease_holder = ? AND lease_epoch = ?`,
			NS(until), l.Server, l.Holder, l.Epoch)
		return err
	})
	if err != nil {
		return l, fmt.Errorf("store: renew lease on %s: %w", l.Server, err)
	}
	if n == 0 {
		return l, ErrLeaseLost
	}
	l.Until = until
	return l, nil
}

// ReleaseLease gives a held lease up at once (a clean shutdown: another replica takes over on
// its next attempt instead of waiting for expiry). The lease ends now on the store's clock,
// which AcquireStaleLease measures from.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	now, err := s.eng.now(ctx)
	if err != nil {
		return err
	}
	return s.eng.inTx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE watch_server SET lease_until_ns = ? WHERE server = ? AND lease_holder = ? AND lease_epoch = ?`,
			NS(now)-1, l.Server, l.Holder, l.Epoch)
		return err
	})
}

// SetPolled records the end of a poll under the lease: on success (errText "") its time, else
// only the error.
func (s *Store) SetPolled(ctx context.Context, l Lease, at time.Time, errText string) error {
	return s.eng.inTx(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE watch_server SET last_poll_ns = CASE WHEN ? = '' THEN ? ELSE last_poll_ns END, last_error = ?
			WHERE server = ? AND lease_holder = ? AND lease_epoch = ?`, errText, NS(at), errText, l.Server, l.Holder, l.Epoch)
		if err == nil && n == 0 {
			err = ErrLeaseLost
		}
		return err
	})
}

var sessionColList = []string{"server", "id", "org_id", "org_name", "name", "type", "state", "result", "initiated_by",
	"client_host", "client_machine", "via_address", "scope_name", "reason", "details", "start_ns", "end_ns", "items", "bytes",
	"by_event_type", "by_item_type", "first_item_ns", "last_item_ns", "events_read", "events_complete", "backfill",
	"started_seq", "ended_seq", "deleted_in_vbo_ns", "found_late",
	"through_gateway", "person", "display_name", "person_tenant", "person_reason", "attribution_pending"}

var sessionCols = strings.Join(sessionColList, ", ")

func scanSession(r Row, extra ...any) (*Session, error) {
	var x Session
	var start int64
	var end, first, last, deleted sql.NullInt64
	var byEvent, byItem string
	s := &x.Session
	dest := make([]any, 0, sessionColCount+len(extra)) // one allocation with the extra columns
	dest = append(dest, &x.Server, &s.ID, &x.OrgID, &s.Organization, &s.Name, &s.Type, &s.State, &s.Result, &s.InitiatedBy,
		&s.ClientHost, &x.ClientMachine, &x.ViaAddress, &s.ScopeName, &s.Reason, &s.Details, &start, &end,
		&x.Totals.Items, &x.Totals.Bytes, &byEvent, &byItem, &first, &last, &x.EventsRead, &x.EventsComplete,
		&x.Backfill, &x.StartedSeq, &x.EndedSeq, &deleted, &x.FoundLate,
		&x.Attribution.ThroughGateway, &x.Attribution.Person, &x.Attribution.DisplayName, &x.Attribution.Tenant,
		&x.Attribution.Reason, &x.Attribution.Pending)
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	s.CreationTime = time.Unix(0, start).UTC()
	s.EndTime = TimePtr(end)
	x.Totals.FirstItem, x.Totals.LastItem = TimePtr(first), TimePtr(last)
	x.DeletedInVboAt = TimePtr(deleted)
	if err := unmarshalCounts(byEvent, &x.Totals.ByEventType); err != nil {
		return nil, fmt.Errorf("by_event_type: %w", err)
	}
	if err := unmarshalCounts(byItem, &x.Totals.ByItemType); err != nil {
		return nil, fmt.Errorf("by_item_type: %w", err)
	}
	return &x, nil
}

// sessionColCount is how many columns scanSession reads before its extra ones.
var sessionColCount = len(sessionColList)

// unmarshalCounts is json.Unmarshal of a counts column into m, without decoding the empty
// object most sessions hold (what json.Unmarshal makes of it: an empty map).
func unmarshalCounts(text string, m *map[string]int64) error {
	if text == "{}" {
		*m = map[string]int64{}
		return nil
	}
	return json.Unmarshal([]byte(text), m)
}

func collectSessions(rows Rows, err error) ([]*Session, error) {
	if err != nil {
		return nil, err
	}
	return Collect(rows, func(r Row) (*Session, error) { return scanSession(r) })
}

// Session returns one archived session (ErrNotFound when not archived).
func (s *Store) Session(ctx context.Context, server, id string) (*Session, error) {
	x, err := scanSession(s.eng.QueryRow(ctx, `SELECT `+sessionCols+` FROM archive_session WHERE server = ? AND id = ?`, server, id))
	if IsNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	return x, nil
}

// Sessions returns the archived sessions among ids, by id.
func (s *Store) Sessions(ctx context.Context, server string, ids []string) (map[string]*Session, error) {
	return sessionsIn(ctx, s.eng, server, ids)
}

func sessionsIn(ctx context.Context, q Querier, server string, ids []string) (map[string]*Session, error) {
	out := make(map[string]*Session, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 400)]
		ids = ids[len(chunk):]
		args := []any{server}
		for _, id := range chunk {
			args = append(args, id)
		}
		list, err := collectSessions(q.Query(ctx, `SELECT `+sessionCols+` FROM archive_session WHERE server = ? AND id IN (`+
			placeholders(len(chunk))+`)`, args...))
		if err != nil {
			return nil, fmt.Errorf("store: sessions: %w", err)
		}
		for _, x := range list {
			out[x.Session.ID] = x
		}
	}
	return out, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// OpenSessions returns a server's sessions that may still change (running, or stopped with
// events still to read), oldest first.
func (s *Store) OpenSessions(ctx context.Context, server string) ([]*Session, error) {
	list, err := collectSessions(s.eng.Query(ctx, `SELECT `+sessionCols+` FROM archive_session WHERE server = ? AND ended_seq = 0 AND deleted_in_vbo_ns IS NULL ORDER BY start_ns, id`, server))
	if err != nil {
		return nil, fmt.Errorf("store: open sessions: %w", err)
	}
	return list, nil
}

// Archive writes one batch for the lease's server in one transaction (see the package doc).
// Changes that change nothing are skipped. hook may be nil.
func (s *Store) Archive(ctx context.Context, l Lease, changes []Change, cp Checkpoint, hook Hook) error {
	now, err := s.eng.now(ctx)
	if err != nil {
		return err
	}
	err = s.eng.inTx(ctx, func(tx Tx) error {
		ids := make([]string, len(changes))
		for i := range changes {
			ids[i] = changes[i].Session.Session.ID
		}
		existing, err := sessionsIn(ctx, tx, l.Server, ids)
		if err != nil {
			return err
		}
		plans := make([]archivePlan, 0, len(changes))
		entries, added := 0, 0
		seen := make(map[string]bool, len(ids))
		for i := range changes {
			if seen[ids[i]] {
				return fmt.Errorf("store: session %s twice in one batch", ids[i])
			}
			seen[ids[i]] = true
			p, err := plan(&changes[i], existing[ids[i]])
			if err != nil {
				return err
			}
			if p.skip {
				continue
			}
			entries += p.entries()
			if p.isNew {
				added++
			}
			plans = append(plans, p)
		}
		var seq int64
		hw := NS(cp.HighWater)
		err = tx.QueryRow(ctx, `UPDATE watch_server
			SET feed_seq = feed_seq + ?, archived = archived + ?,
			    high_water_ns = CASE WHEN ? > high_water_ns THEN ? ELSE high_water_ns END,
			    backfill_done = (backfill_done OR ?),
			    change_token = CASE WHEN ? <> '' THEN ? ELSE change_token END
			WHERE server = ? AND lease_holder = ? AND lease_epoch = ?
			RETURNING feed_seq`, entries, added, hw, hw, cp.BackfillDone, cp.ChangeToken, cp.ChangeToken, l.Server, l.Holder, l.Epoch).Scan(&seq)
		if IsNoRows(err) {
			return ErrLeaseLost
		}
		if err != nil {
			return fmt.Errorf("store: archive %s: %w", l.Server, err)
		}
		deleted, err := markDeletedInVbo(ctx, tx, l.Server, cp.DeletedInVbo, now)
		if err != nil {
			return fmt.Errorf("store: archive %s: %w", l.Server, err)
		}
		next := seq - int64(entries) + 1
		if len(deleted) > 0 {
			// Their entries come after the batch's (the lease was checked by the update above).
			if err := tx.QueryRow(ctx, `UPDATE watch_server SET feed_seq = feed_seq + ? WHERE server = ? RETURNING feed_seq`,
				len(deleted), l.Server).Scan(&seq); err != nil {
				return fmt.Errorf("store: archive %s: %w", l.Server, err)
			}
			entries += len(deleted)
			for i, id := range deleted {
				if _, err := tx.Exec(ctx, `INSERT INTO watch_feed (server, seq, kind, session_id, at_ns, backfill, first_ord, last_ord)
					VALUES (?, ?, ?, ?, ?, ?, 0, 0)`, l.Server, seq-int64(len(deleted))+1+int64(i), KindDeleted, id, NS(now), false); err != nil {
					return fmt.Errorf("store: archive %s: deletion of %s: %w", l.Server, id, err)
				}
			}
		}
		rollup := rollupDeltas{}
		for i := range plans {
			if err := writePlan(ctx, tx, &plans[i], &next, now); err != nil {
				return fmt.Errorf("store: archive %s session %s: %w", l.Server, plans[i].next.Session.ID, err)
			}
			var was *rollupSession
			old := existing[plans[i].next.Session.ID]
			if old != nil {
				was = storedRollup(old, nil)
			}
			rollup.change(was, storedRollup(plans[i].next, old))
			if hook != nil {
				p := &plans[i]
				if err := hook(ctx, tx, Archived{Session: p.next, New: p.isNew, Ended: p.ended, NewEvents: p.events,
					Backfill: p.next.Backfill, Attributed: p.attributed}); err != nil {
					return err
				}
			}
		}
		if err := rollup.apply(ctx, tx); err != nil {
			return fmt.Errorf("store: archive %s: %w", l.Server, err)
		}
		if entries > 0 {
			return s.eng.notify(ctx, tx, l.Server)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.changed(l.Server)
	return nil
}

// archivePlan is what one change writes.
type archivePlan struct {
	next   *Session
	events []upstream.RestoreSessionEvent // not yet archived, from next.EventsRead-len(events)
	isNew  bool
	ended  bool
	skip   bool
	// attributed: archived pending before, decided now (Archived.Attributed).
	attributed bool
}

func (p *archivePlan) entries() int {
	n := 0
	if p.isNew {
		n++
	}
	if len(p.events) > 0 {
		n++
	}
	if p.ended {
		n++
	}
	return n
}

// plan merges a change into the archived state: events already archived are dropped, totals
// are counted from the events actually added.
func plan(c *Change, old *Session) (archivePlan, error) {
	next := c.Session
	from := next.EventsRead - len(c.NewEvents)
	events := c.NewEvents
	if from < 0 {
		return archivePlan{}, fmt.Errorf("store: session %s: %d events cannot end at order %d", next.Session.ID, len(events), next.EventsRead)
	}
	have := 0
	if old != nil {
		have = old.EventsRead
		next.OrgID = firstNonEmpty(old.OrgID, next.OrgID)
		next.Backfill = old.Backfill
		next.FoundLate = old.FoundLate
		next.StartedSeq, next.EndedSeq = old.StartedSeq, old.EndedSeq
		next.Totals = old.Totals
	} else {
		next.Totals = Totals{}
	}
	if from > have {
		return archivePlan{}, fmt.Errorf("store: session %s: events from order %d but %d archived", next.Session.ID, from, have)
	}
	if skip := have - from; skip > 0 {
		events = events[min(skip, len(events)):]
	}
	next.EventsRead = max(have, from+len(c.NewEvents))
	next.Totals.Add(events)
	next.EventsComplete = c.Session.EventsComplete && next.Session.Finished()
	ch := upstream.ParseClientHost(next.Session.ClientHost)
	next.ClientMachine, next.ViaAddress = ch.MachineName, ch.ViaAddress
	next.Attribution = mergeAttribution(old, c.Attribution)
	p := archivePlan{next: &next, events: events, isNew: old == nil}
	p.ended = next.Final() && (old == nil || old.EndedSeq == 0)
	p.attributed = old != nil && old.Attribution.Pending && !next.Attribution.Pending
	if old != nil && len(events) == 0 && !p.ended && sameSession(&old.Session, &next.Session) && old.EventsComplete == next.EventsComplete &&
		old.Attribution == next.Attribution {
		p.skip = true
	}
	return p, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sameSession(a, b *upstream.RestoreSession) bool {
	return a.State == b.State && a.Result == b.Result && a.Details == b.Details && a.Reason == b.Reason &&
		a.Name == b.Name && a.InitiatedBy == b.InitiatedBy && a.ClientHost == b.ClientHost && a.ScopeName == b.ScopeName &&
		(a.EndTime == nil) == (b.EndTime == nil) && (a.EndTime == nil || a.EndTime.Equal(*b.EndTime))
}

func writePlan(ctx context.Context, tx Tx, p *archivePlan, next *int64, now time.Time) error {
	x := p.next
	feed := func(kind string, at time.Time, first, last int) error {
		_, err := tx.Exec(ctx, `INSERT INTO watch_feed (server, seq, kind, session_id, at_ns, backfill, first_ord, last_ord) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			x.Server, *next, kind, x.Session.ID, NS(at), x.Backfill, first, last)
		*next++
		return err
	}
	if p.isNew {
		x.StartedSeq = *next
		if err := feed(KindStarted, x.Session.CreationTime, 0, 0); err != nil {
			return err
		}
	}
	if len(p.events) > 0 {
		first := x.EventsRead - len(p.events)
		if err := insertEvents(ctx, tx, x, first, p.events, *next); err != nil {
			return err
		}
		if err := feed(KindEvents, p.events[len(p.events)-1].StartTime, first, x.EventsRead-1); err != nil {
			return err
		}
	}
	if p.ended {
		x.EndedSeq = *next
		at := now
		if x.Session.EndTime != nil {
			at = *x.Session.EndTime
		}
		if err := feed(KindEnded, at, 0, 0); err != nil {
			return err
		}
	}
	byEvent, _ := json.Marshal(orEmpty(x.Totals.ByEventType))
	byItem, _ := json.Marshal(orEmpty(x.Totals.ByItemType))
	s, a := &x.Session, &x.Attribution
	_, err := tx.Exec(ctx, `INSERT INTO archive_session (`+sessionCols+`, first_seen_ns, updated_ns)
		VALUES (`+placeholders(len(sessionColList)+2)+`)
		ON CONFLICT (server, id) DO UPDATE SET
			org_id = CASE WHEN archive_session.org_id = '' THEN excluded.org_id ELSE archive_session.org_id END,
			name = excluded.name, type = excluded.type, state = excluded.state, result = excluded.result,
			initiated_by = excluded.initiated_by, client_host = excluded.client_host, client_machine = excluded.client_machine,
			via_address = excluded.via_address, scope_name = excluded.scope_name, reason = excluded.reason,
			details = excluded.details, end_ns = excluded.end_ns, items = excluded.items, bytes = excluded.bytes,
			by_event_type = excluded.by_event_type, by_item_type = excluded.by_item_type,
			first_item_ns = excluded.first_item_ns, last_item_ns = excluded.last_item_ns,
			events_read = excluded.events_read, events_complete = excluded.events_complete,
			ended_seq = excluded.ended_seq, through_gateway = excluded.through_gateway, person = excluded.person,
			display_name = excluded.display_name, person_tenant = excluded.person_tenant, person_reason = excluded.person_reason,
			attribution_pending = excluded.attribution_pending, updated_ns = excluded.updated_ns`,
		x.Server, s.ID, x.OrgID, s.Organization, s.Name, string(s.Type), string(s.State), string(s.Result), s.InitiatedBy,
		s.ClientHost, x.ClientMachine, x.ViaAddress, s.ScopeName, s.Reason, s.Details, NS(s.CreationTime), NullNS(s.EndTime),
		x.Totals.Items, x.Totals.Bytes, string(byEvent), string(byItem), NullNS(x.Totals.FirstItem), NullNS(x.Totals.LastItem),
		x.EventsRead, x.EventsComplete, x.Backfill, x.StartedSeq, x.EndedSeq, NullNS(x.DeletedInVboAt), x.FoundLate,
		a.ThroughGateway, a.Person, a.DisplayName, a.Tenant, a.Reason, a.Pending, NS(now), NS(now))
	return err
}

// insertEvents writes events in multi-row statements (one round trip per 100 events).
func insertEvents(ctx context.Context, tx Tx, x *Session, first int, events []upstream.RestoreSessionEvent, seq int64) error {
	const cols = 17
	row := "(" + placeholders(cols) + ")"
	for start := 0; start < len(events); start += 100 {
		chunk := events[start:min(len(events), start+100)]
		args := make([]any, 0, cols*len(chunk))
		rows := make([]string, len(chunk))
		for i := range chunk {
			e := &chunk[i]
			var size sql.NullInt64
			if e.ItemSizeBytes != nil {
				size = sql.NullInt64{Int64: *e.ItemSizeBytes, Valid: true}
			}
			rows[i] = row
			args = append(args, x.Server, x.Session.ID, first+start+i, e.ID, string(e.Type), string(e.Status), NS(e.StartTime),
				NullNS(e.EndTime), e.Duration, e.Title, e.Message, e.ItemName, e.ItemType, size, e.Source, e.Target, seq)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO archive_event (server, session_id, ord, id, type, status, start_ns, end_ns, duration,
			title, message, item_name, item_type, item_size, source, target, seq) VALUES `+strings.Join(rows, ", ")+`
			ON CONFLICT (server, session_id, ord) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// Prune deletes sessions that ended before before, with their events and feed entries
// (archive retention). It returns the number of sessions deleted.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.eng.inTx(ctx, func(tx Tx) error {
		cut := NS(before)
		old := `SELECT server, id FROM archive_session WHERE ended_seq > 0 AND end_ns < ?`
		if _, err := tx.Exec(ctx, `DELETE FROM archive_event WHERE (server, session_id) IN (`+old+`)`, cut); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM watch_feed WHERE (server, session_id) IN (`+old+`)`, cut); err != nil {
			return err
		}
		rollup := rollupDeltas{}
		rows, err := tx.Query(ctx, `SELECT server, org_id, org_name, type, state, result, initiated_by, client_machine, via_address,
			person, start_ns, items, bytes FROM archive_session WHERE ended_seq > 0 AND end_ns < ?`, cut)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r rollupSession
			if err := rows.Scan(&r.server, &r.orgID, &r.orgName, &r.typ, &r.state, &r.result, &r.initiatedBy, &r.machine, &r.via,
				&r.person, &r.start, &r.items, &r.bytes); err != nil {
				rows.Close()
				return err
			}
			rollup.change(&r, nil)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n, err = tx.Exec(ctx, `DELETE FROM archive_session WHERE ended_seq > 0 AND end_ns < ?`, cut); err != nil {
			return err
		}
		if err := rollup.apply(ctx, tx); err != nil {
			return err
		}
		if n > 0 {
			_, err = tx.Exec(ctx, `UPDATE watch_server SET archived = (SELECT COUNT(*) FROM archive_session a WHERE a.server = watch_server.server)`)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	return n, nil
}
