package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Attributions is the restore front door's action log as the watcher joins it to the sessions
// it archives (app wires cmd/internal/restore/actionlog in). The watcher is the archive's
// owner: it writes the join into the archive (store.Attribution) when it archives a session,
// and decides the ones it could not yet decide on its next polls.
type Attributions interface {
	// Started returns the attribution of those of ids (VBO session ids on server) that were
	// opened through the gateway (ThroughGateway true); the others are missing.
	Started(ctx context.Context, server string, ids []string) (map[string]store.Attribution, error)
	// Pending reports, for each organisation of orgIDs ("": any organisation of the server),
	// whether a START on server for it, begun after since, still awaits VBO's answer (true:
	// a session VBO lists meanwhile may be that one). One read for them all: the watcher asks
	// once per batch it archives.
	Pending(ctx context.Context, server string, orgIDs []string, since time.Time) (map[string]bool, error)
}

// DefaultAttributionWait is how long an unanswered START holds back the decision "started
// outside the gateway" by default (Options.AttributionWait).
const DefaultAttributionWait = 2 * time.Minute

// attributionTarget is a session to attribute: its id, organisation and VBO start time.
type attributionTarget struct {
	id, orgID string
	created   time.Time
}

// decide joins the action log to sessions of this poller's server. A session in the log is
// the person's; one that is not is outside the gateway, unless a START on its organisation
// begun within the wait still awaits VBO's answer: then it is pending (decided on a later
// poll, see settleAttributions). A session whose organisation is unresolved ("": its name is
// ambiguous or unknown on the server) waits for a START on any organisation of the server. A
// session that started more than twice the wait ago (the margin covers the clocks of VBO and
// the gateway) can no longer be a pending START's and is decided at once; one without a
// creation time is not taken as old. nil without Attributions: nothing is looked up.
//
// The pending STARTs are read before the log: a START answered in between is then in the log
// (its outcome and the session's VBO id commit together). Read the other way round, a START
// answered between the two reads is in neither, and the gateway's own session would be
// decided outside it (firing startedOutsideGateway rules for good).
func (p *poller) decide(ctx context.Context, now time.Time, targets []attributionTarget) (map[string]store.Attribution, error) {
	a := p.w.o.Attributions
	if a == nil || len(targets) == 0 {
		return nil, nil
	}
	wait := p.w.o.AttributionWait
	since, old := now.Add(-wait), now.Add(-2*wait)
	recent := func(t attributionTarget) bool { return t.created.IsZero() || !t.created.Before(old) }
	var orgs []string // of the recent sessions, each once
	seen := map[string]bool{}
	for _, t := range targets {
		if recent(t) && !seen[t.orgID] {
			seen[t.orgID] = true
			orgs = append(orgs, t.orgID)
		}
	}
	var pendingOrg map[string]bool
	if len(orgs) > 0 {
		var err error
		if pendingOrg, err = a.Pending(ctx, p.name, orgs, since); err != nil {
			return nil, fmt.Errorf("watch: pending restore starts on %s: %w", p.name, err)
		}
	}
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.id
	}
	started, err := a.Started(ctx, p.name, ids)
	if err != nil {
		return nil, fmt.Errorf("watch: attribution of %s sessions: %w", p.name, err)
	}
	out := make(map[string]store.Attribution, len(targets))
	for _, t := range targets {
		switch at, ok := started[t.id]; {
		case ok && at.ThroughGateway:
			at.Pending = false
			out[t.id] = at
		case !recent(t):
			out[t.id] = store.Attribution{}
		default:
			out[t.id] = store.Attribution{Pending: pendingOrg[t.orgID]}
		}
	}
	return out, nil
}

// attribute sets the join on the changes about to be archived (see decide).
func (p *poller) attribute(ctx context.Context, list []store.Change) error {
	if p.w.o.Attributions == nil || len(list) == 0 {
		return nil
	}
	targets := make([]attributionTarget, len(list))
	for i := range list {
		x := &list[i].Session
		targets[i] = attributionTarget{id: x.Session.ID, orgID: x.OrgID, created: x.Session.CreationTime}
	}
	got, err := p.decide(ctx, time.Now(), targets)
	if err != nil {
		return err
	}
	for i := range list {
		if a, ok := got[list[i].Session.Session.ID]; ok {
			list[i].Attribution = &a
		}
	}
	return nil
}

// archive is Store.Archive with the hook, after joining the attribution.
func (p *poller) archive(ctx context.Context, lease store.Lease, list []store.Change, cp store.Checkpoint) error {
	if err := p.attribute(ctx, list); err != nil {
		return err
	}
	return p.w.o.Store.Archive(ctx, lease, list, cp, p.w.o.Hook)
}

// settleAttributions decides the sessions archived pending: the START they waited for was
// answered (the session is in the log, or VBO answered another one), or it no longer holds
// them back (begun longer than the wait ago). Called on every poll, so a pending session is
// decided within a poll of the START's answer and at most about the wait after it was seen;
// what rules held back for it is evaluated in the same transaction (store.Attribute).
func (p *poller) settleAttributions(ctx context.Context, lease store.Lease) error {
	if p.w.o.Attributions == nil {
		return nil
	}
	list, err := p.w.o.Store.PendingAttributions(ctx, p.name)
	if err != nil || len(list) == 0 {
		return err
	}
	targets := make([]attributionTarget, len(list))
	for i, x := range list {
		targets[i] = attributionTarget{id: x.Session.ID, orgID: x.OrgID, created: x.Session.CreationTime}
	}
	got, err := p.decide(ctx, time.Now(), targets)
	if err != nil {
		return err
	}
	decided := make(map[string]store.Attribution, len(got))
	for id, a := range got {
		if !a.Pending {
			decided[id] = a
		}
	}
	if len(decided) == 0 {
		return nil
	}
	return p.w.o.Store.Attribute(ctx, lease, decided, p.w.o.Hook)
}
