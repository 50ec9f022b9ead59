package watchrules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// deliveryJobKind is the River job kind that delivers a webhook (deliverArgs). Its args carry
// the delivery's id as "deliveryId"; pruneDeliveries keeps a delivery while such a job can
// still run.
const deliveryJobKind = "vbo_gateway_webhook"

// defaultPruneBatch is how many deliveries pruneDeliveries deletes per transaction.
const defaultPruneBatch = 1000

// deliveryPrune says which webhook deliveries pruneDeliveries deletes.
type deliveryPrune struct {
	// before: deliveries whose last activity (updated) is older are deleted.
	before time.Time
	// batch bounds the deliveries looked at and deleted per transaction, so a large backlog
	// never holds a long lock (default defaultPruneBatch).
	batch int
}

// finishedStatuses are the delivery statuses that never change again by themselves (only a
// redelivery, which makes the delivery PENDING and recent, does).
const finishedStatuses = `'SUCCEEDED', 'FAILED', 'CANCELLED'`

// liveJobStates are River job states in which a job can still run.
const liveJobStates = `'available', 'pending', 'running', 'retryable', 'scheduled'`

// pruneDeliveries deletes finished webhook deliveries (SUCCEEDED, FAILED, CANCELLED) whose
// last activity is older than p.before, with their attempts: the delivery history retention.
// It never deletes
//   - a PENDING delivery (waiting for an attempt, or being attempted);
//   - a delivery whose River job (deliveryJobKind) can still run;
//   - a delivery of a session still open in the archive (store.OpenSessionKeys): its (rule,
//     session, trigger) row is what stops the same rule firing twice for that session (ITEM
//     rules fire while it runs).
//
// It works in transactions of at most p.batch deliveries, walking the candidates in (updated,
// id) order so the ones kept are not looked at again, until none is left, and returns how many
// it deleted (also when it stops early on an error or ctx). River's tables must exist (New
// migrates them).
func pruneDeliveries(ctx context.Context, st *store.Store, p deliveryPrune) (int64, error) {
	batch := p.batch
	if batch <= 0 {
		batch = defaultPruneBatch
	}
	jobDelivery := `json_extract(args, '$.deliveryId')` // SQLite: River keeps args as JSONB
	if st.Driver() == store.DriverPostgres {
		jobDelivery = `args->>'deliveryId'`
	}
	candidates := `SELECT d.id, d.server, d.session_id, d.updated_ns FROM webhook_delivery d
		WHERE d.status <> 'PENDING' AND d.updated_ns < ? AND d.status IN (` + finishedStatuses + `)
		AND (d.updated_ns > ? OR (d.updated_ns = ? AND d.id > ?))
		AND d.id NOT IN (SELECT ` + jobDelivery + ` FROM river_job
			WHERE kind = ? AND state IN (` + liveJobStates + `) AND ` + jobDelivery + ` IS NOT NULL)
		ORDER BY d.updated_ns, d.id LIMIT ?`
	cut := store.NS(p.before)
	type candidate struct {
		id      string
		key     store.SessionKey
		updated int64
	}
	// The walk's position: every candidate up to it has been looked at.
	afterNS, afterID := int64(-1)<<62, ""
	var total int64
	for {
		var seen, n int
		err := st.InTx(ctx, func(tx store.Tx) error {
			rows, err := tx.Query(ctx, candidates, cut, afterNS, afterNS, afterID, deliveryJobKind, batch)
			if err != nil {
				return err
			}
			list, err := store.Collect(rows, func(r store.Row) (candidate, error) {
				var c candidate
				err := r.Scan(&c.id, &c.key.Server, &c.key.ID, &c.updated)
				return c, err
			})
			if err != nil {
				return err
			}
			seen = len(list)
			if seen == 0 {
				return nil
			}
			afterNS, afterID = list[seen-1].updated, list[seen-1].id
			keys := make([]store.SessionKey, len(list))
			for i, c := range list {
				keys[i] = c.key
			}
			open, err := store.OpenSessionKeys(ctx, tx, keys)
			if err != nil {
				return err
			}
			var ids []any
			for _, c := range list {
				if !open[c.key] {
					ids = append(ids, c.id)
				}
			}
			if len(ids) == 0 {
				return nil
			}
			// The conditions are checked again as the rows are now: on PostgreSQL a row changed
			// concurrently (a redelivery) is kept.
			rows, err = tx.Query(ctx, `DELETE FROM webhook_delivery WHERE id IN (`+placeholders(len(ids))+`)
				AND status <> 'PENDING' AND updated_ns < ? AND status IN (`+finishedStatuses+`) RETURNING id`, append(ids, cut)...)
			if err != nil {
				return err
			}
			deleted, err := store.Collect(rows, func(r store.Row) (any, error) {
				var id string
				err := r.Scan(&id)
				return id, err
			})
			if err != nil {
				return err
			}
			if len(deleted) > 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM webhook_attempt WHERE delivery_id IN (`+
					placeholders(len(deleted))+`)`, deleted...); err != nil {
					return err
				}
			}
			n = len(deleted)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("watch rules: prune deliveries: %w", err)
		}
		total += int64(n)
		if seen < batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("watch rules: prune deliveries: %w", err)
		}
	}
}

// placeholders is n '?' placeholders, comma separated.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }
