package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// PendingAttributions returns a server's sessions archived with their attribution pending
// (see Attribution.Pending), oldest first: the watcher decides them on its next polls.
func (s *Store) PendingAttributions(ctx context.Context, server string) ([]*Session, error) {
	list, err := collectSessions(s.eng.Query(ctx, `SELECT `+sessionCols+` FROM archive_session
		WHERE server = ? AND attribution_pending ORDER BY start_ns, id`, server))
	if err != nil {
		return nil, fmt.Errorf("store: pending attributions: %w", err)
	}
	return list, nil
}

// Attribute records the decided attribution of sessions archived pending (by id), under the
// lease, in one transaction, and calls hook (may be nil) for each with Archived.Attributed set,
// so what rules held back is evaluated with the archive's write, exactly once. A session not
// archived, or no longer pending (decided by an Archive in between), is left alone; a pending
// decision (Pending true) is no decision and is ignored. ErrLeaseLost when the lease is gone.
func (s *Store) Attribute(ctx context.Context, l Lease, decided map[string]Attribution, hook Hook) error {
	ids := slices.Sorted(maps.Keys(decided))
	now, err := s.eng.now(ctx)
	if err != nil {
		return err
	}
	return s.eng.inTx(ctx, func(tx Tx) error {
		// The fence, and the server row's lock, which orders this after any Archive in flight.
		var seq int64
		err := tx.QueryRow(ctx, `UPDATE watch_server SET feed_seq = feed_seq WHERE server = ? AND lease_holder = ? AND lease_epoch = ?
			RETURNING feed_seq`, l.Server, l.Holder, l.Epoch).Scan(&seq)
		if IsNoRows(err) {
			return ErrLeaseLost
		}
		if err != nil {
			return fmt.Errorf("store: attribute %s: %w", l.Server, err)
		}
		archived, err := sessionsIn(ctx, tx, l.Server, ids)
		if err != nil {
			return err
		}
		rollup := rollupDeltas{}
		for _, id := range ids {
			x, a := archived[id], decided[id]
			if x == nil || !x.Attribution.Pending || a.Pending {
				continue
			}
			was := storedRollup(x, nil)
			x.Attribution = a
			rollup.change(was, storedRollup(x, nil))
			if _, err := tx.Exec(ctx, `UPDATE archive_session SET through_gateway = ?, person = ?, display_name = ?, person_tenant = ?,
				person_reason = ?, attribution_pending = ?, updated_ns = ? WHERE server = ? AND id = ?`,
				a.ThroughGateway, a.Person, a.DisplayName, a.Tenant, a.Reason, false, NS(now), l.Server, id); err != nil {
				return fmt.Errorf("store: attribute %s session %s: %w", l.Server, id, err)
			}
			if hook != nil {
				if err := hook(ctx, tx, Archived{Session: x, Ended: false, Backfill: x.Backfill, Attributed: true}); err != nil {
					return err
				}
			}
		}
		return rollup.apply(ctx, tx)
	})
}
