package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DeliveryJobKind is the River job kind that delivers a webhook (package watchrules). Its
// args carry the delivery's id as "deliveryId"; PruneDeliveries keeps a delivery while such a
// job can still run.
const DeliveryJobKind = "vbo_gateway_webhook"

// DefaultPruneBatch is how many deliveries PruneDeliveries deletes per statement and
// transaction.
const DefaultPruneBatch = 1000

// DeliveryPrune says which webhook deliveries PruneDeliveries deletes.
type DeliveryPrune struct {
	// Before: deliveries whose last activity (updated) is older are deleted.
	Before time.Time
	// Batch bounds the deliveries deleted per statement and transaction, so a large backlog
	// never holds a long lock (default DefaultPruneBatch).
	Batch int
}

// finishedStatuses are the delivery statuses that never change again by themselves (only a
// redelivery, which makes the delivery PENDING and recent, does).
const finishedStatuses = `'SUCCEEDED', 'FAILED', 'CANCELLED'`

// liveJobStates are River job states in which a job can still run.
const liveJobStates = `'available', 'pending', 'running', 'retryable', 'scheduled'`

// PruneDeliveries deletes finished webhook deliveries (SUCCEEDED, FAILED, CANCELLED) whose
// last activity is older than p.Before, with their attempts: the delivery history retention.
// It never deletes
//   - a PENDING delivery (waiting for an attempt, or being attempted);
//   - a delivery whose River job (DeliveryJobKind) can still run;
//   - a delivery of a session still open in the archive: its (rule, session, trigger) row is
//     what stops the same rule firing twice for that session (ITEM rules fire while it runs).
//
// It works in transactions of at most p.Batch deliveries, until none is left, and returns
// how many it deleted (also when it stops early on an error or ctx). River's tables must
// exist (watchrules migrates them).
func (s *Store) PruneDeliveries(ctx context.Context, p DeliveryPrune) (int64, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	jobDelivery := `json_extract(args, '$.deliveryId')` // SQLite: River keeps args as JSONB
	if s.driver == DriverPostgres {
		jobDelivery = `args->>'deliveryId'`
	}
	// The outer conditions repeat the inner ones: on PostgreSQL a row changed concurrently (a
	// redelivery) is checked again as it is now, and kept.
	del := `DELETE FROM webhook_delivery WHERE id IN (
		SELECT d.id FROM webhook_delivery d
		WHERE d.status <> 'PENDING' AND d.updated_ns < ? AND d.status IN (` + finishedStatuses + `)
		AND NOT EXISTS (SELECT 1 FROM archive_session a WHERE a.server = d.server AND a.id = d.session_id AND a.ended_seq = 0)
		AND d.id NOT IN (SELECT ` + jobDelivery + ` FROM river_job
			WHERE kind = ? AND state IN (` + liveJobStates + `) AND ` + jobDelivery + ` IS NOT NULL)
		LIMIT ?)
	AND status <> 'PENDING' AND updated_ns < ? AND status IN (` + finishedStatuses + `)
	RETURNING id`
	cut := NS(p.Before)
	var total int64
	for {
		var n int
		err := s.eng.inTx(ctx, func(tx Tx) error {
			rows, err := tx.Query(ctx, del, cut, DeliveryJobKind, batch, cut)
			if err != nil {
				return err
			}
			ids, err := Collect(rows, func(r Row) (any, error) {
				var id string
				err := r.Scan(&id)
				return id, err
			})
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM webhook_attempt WHERE delivery_id IN (`+
					strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`, ids...); err != nil {
					return err
				}
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("store: prune deliveries: %w", err)
		}
		total += int64(n)
		if n < batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("store: prune deliveries: %w", err)
		}
	}
}
