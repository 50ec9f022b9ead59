package app

import (
	"context"
	"errors"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watchrules"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
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

// Pending is the log's PendingStartOrgs: one read for a batch's organisations.
func (a logAttributions) Pending(ctx context.Context, server string, orgIDs []string, since time.Time) (map[string]bool, error) {
	return a.log.PendingStartOrgs(ctx, server, orgIDs, since)
}

// logItemActions is the restore action log as the watch rules join it to item events
// (watchrules.ItemActions).
type logItemActions struct{ log *actionlog.Log }

var _ watchrules.ItemActions = logItemActions{}

// ItemActions reads the item actions of the gateway session that opened VBO session vboID:
// the log's SessionItemActions, the list RestoreAction.events and the reaper join with (at
// most eventjoin.MaxActions+1: with more, the join joins nothing), whatever other steps the
// session took.
func (a logItemActions) ItemActions(ctx context.Context, server, vboID string) ([]match.ItemAction, error) {
	s, err := a.log.SessionByVBO(ctx, server, vboID)
	if errors.Is(err, actionlog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := a.log.SessionItemActions(ctx, s.ID, eventjoin.MaxActions+1)
	if err != nil {
		return nil, err
	}
	out := make([]match.ItemAction, 0, len(list))
	for _, x := range list {
		out = append(out, itemActionOf(x))
	}
	return out, nil
}

func itemActionOf(x actionlog.Action) match.ItemAction {
	m := match.ItemAction{ID: x.ID, Kind: string(x.Kind), Person: x.Actor.Person, DisplayName: x.Actor.DisplayName,
		Tenant: x.Actor.Tenant, Destructive: x.Destructive, At: x.At, CompletedAt: x.CompletedAt,
		NeedsApproval: x.ApprovalUntil != nil}
	if x.Approval != nil {
		at := x.Approval.At
		m.ApprovedAt = &at
	}
	for _, it := range x.Items {
		m.Items = append(m.Items, match.ActionItem{ID: it.ID, Name: it.Name})
	}
	return m
}
