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
	live, err := liveReplicas(ctx, s, now.Add(-ttl))
	if err != nil {
		return nil, fmt.Errorf("store: live replicas: %w", err)
	}
	return live, nil
}

// liveReplicas are the replicas whose heartbeat is at since or later, sorted.
func liveReplicas(ctx context.Context, q interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}, since time.Time) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT holder FROM watch_replica WHERE seen_ns >= ? ORDER BY holder`, NS(since))
	if err != nil {
		return nil, err
	}
	return Collect(rows, scanString)
}
