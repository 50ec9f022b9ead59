package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
)

// Claim gives a session of the gateway's own account to the START whose answer was lost
// (the log's ClaimSession): the START's person and reason, through the gateway.
func (a logAttributions) Claim(ctx context.Context, server string, c watch.ClaimCandidate) (store.Attribution, bool, error) {
	s, err := a.log.ClaimSession(ctx, actionlog.Claim{Server: server, OrganizationID: c.OrgID, VBOSessionID: c.ID,
		InitiatedBy: c.InitiatedBy, SeenAt: c.SeenAt, Since: c.Since, Until: c.Until, From: c.From})
	switch {
	case errors.Is(err, actionlog.ErrNotFound):
		return store.Attribution{}, false, nil
	case errors.Is(err, actionlog.ErrAmbiguous):
		return store.Attribution{}, false, fmt.Errorf("%w: %w", watch.ErrClaimAmbiguous, err)
	case err != nil:
		return store.Attribution{}, false, err
	}
	return store.Attribution{ThroughGateway: true, Person: s.Actor.Person, DisplayName: s.Actor.DisplayName,
		Tenant: s.Actor.Tenant, Reason: s.Reason}, true, nil
}
