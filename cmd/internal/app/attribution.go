package app

import (
	"context"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
)

// logAttributions is the restore action log as the watcher joins it (watch.Attributions).
type logAttributions struct{ log *actionlog.Log }

var _ watch.Attributions = logAttributions{}

// Started looks the VBO sessions up in the log in one batch.
func (a logAttributions) Started(ctx context.Context, server string, ids []string) (map[string]store.Attribution, error) {
	keys := make([][2]string, len(ids))
	for i, id := range ids {
		keys[i] = [2]string{server, id}
	}
	found, err := a.log.SessionsByVBO(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.Attribution, len(found))
	for k, s := range found {
		out[k[1]] = store.Attribution{ThroughGateway: true, Person: s.Actor.Person, DisplayName: s.Actor.DisplayName,
			Tenant: s.Actor.Tenant, Reason: s.Reason}
	}
	return out, nil
}

// Pending is the log's PendingStarts.
func (a logAttributions) Pending(ctx context.Context, server, orgID string, since time.Time) (bool, error) {
	return a.log.PendingStarts(ctx, server, orgID, since)
}
