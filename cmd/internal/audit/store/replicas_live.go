package store

import (
	"context"
	"fmt"
	"time"
)

// LiveReplicas returns the replicas whose heartbeat (Heartbeat) is at most ttl old on the
// store's clock, sorted, without recording one itself: what the restore front door's reaper
// reads to stop the sessions of replicas that are gone.
func (s *Store) LiveReplicas(ctx context.Context, ttl time.Duration) ([]string, error) {
	now, err := s.eng.now(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.Query(ctx, `SELECT holder FROM watch_replica WHERE seen_ns >= ? ORDER BY holder`, NS(now.Add(-ttl)))
	if err != nil {
		return nil, fmt.Errorf("store: live replicas: %w", err)
	}
	live, err := Collect(rows, func(r Row) (string, error) {
		var h string
		return h, r.Scan(&h)
	})
	if err != nil {
		return nil, fmt.Errorf("store: live replicas: %w", err)
	}
	return live, nil
}
