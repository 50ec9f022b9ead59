package store

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat records that holder (a gateway replica's lease identity) is alive now, on the
// store's clock, and returns the replicas seen within ttl, itself included, sorted. The watcher
// shares the servers' leases among exactly these replicas (see package watch).
func (s *Store) Heartbeat(ctx context.Context, holder string, ttl time.Duration) ([]string, error) {
	now, err := s.eng.now(ctx)
	if err != nil {
		return nil, err
	}
	var live []string
	err = s.eng.inTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO watch_replica (holder, seen_ns) VALUES (?, ?)
			ON CONFLICT (holder) DO UPDATE SET seen_ns = excluded.seen_ns`, holder, NS(now)); err != nil {
			return err
		}
		// Rows of replicas gone for long are dropped so the table stays small.
		if _, err := tx.Exec(ctx, `DELETE FROM watch_replica WHERE seen_ns < ?`, NS(now.Add(-100*ttl))); err != nil {
			return err
		}
		live, err = liveReplicas(ctx, tx, now.Add(-ttl))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: heartbeat of %s: %w", holder, err)
	}
	return live, nil
}

// Leave removes holder's heartbeat (a clean shutdown): the other replicas stop counting it at
// their next heartbeat instead of after its expiry.
func (s *Store) Leave(ctx context.Context, holder string) error {
	return s.eng.inTx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM watch_replica WHERE holder = ?`, holder)
		return err
	})
}

// AcquireStaleLease takes server's lease for holder only when it has been free for at least
// staleFor (its holder released it, or let it expire, that long ago; ReleaseLease records
// when): the fallback by which any replica polls a server that the replica it is assigned to
// does not take. Like AcquireLease, taking it increments the epoch (fencing).
func (s *Store) AcquireStaleLease(ctx context.Context, server, holder string, ttl, staleFor time.Duration) (Lease, bool, error) {
	now, err := s.eng.now(ctx)
	if err != nil {
		return Lease{}, false, err
	}
	until := now.Add(ttl)
	var epoch int64
	err = s.eng.inTx(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `UPDATE watch_server
			SET lease_epoch = lease_epoch + 1, lease_holder = ?, lease_until_ns = ?
			WHERE server = ? AND lease_until_ns < ?
			RETURNING lease_epoch`, holder, NS(until), server, NS(now.Add(-staleFor))).Scan(&epoch)
	})
	if IsNoRows(err) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: acquire stale lease on %s: %w", server, err)
	}
	return Lease{Server: server, Holder: holder, Epoch: epoch, Until: until}, true, nil
}
