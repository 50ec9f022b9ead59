package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Claim attributes a session the log does not know, opened by the gateway's own VBO
	// account, to the START on its server and organisation whose answer was lost (outcome
	// unknown), begun after c.Since, that no other session claimed: the log records the claim
	// (append-only) and the session is that START's from then on. ok false: no such START. An
	// error wrapping ErrClaimAmbiguous: more than one could be it; nothing is claimed.
	Claim(ctx context.Context, server string, c ClaimCandidate) (a store.Attribution, ok bool, err error)
}

// ClaimCandidate is a session Attributions.Claim may give to a START whose answer was lost.
type ClaimCandidate struct {
	ID, OrgID   string    // VBO's session id; its organisation (never "")
	InitiatedBy string    // VBO's initiatedBy: the gateway's own account
	SeenAt      time.Time // the watcher's clock: a START begun after it is not a candidate
	Since       time.Time // a START begun at or before it is not a candidate
	// Until, when set, is VBO's creation time plus the attribution wait (a margin for the
	// clocks): a START begun after it did not open the session.
	Until time.Time
	// From, when set, is VBO's creation time less the attribution wait: a START whose answer
	// the gateway gave up on before it did not open the session (VBO created it after).
	From time.Time
}

// ErrClaimAmbiguous is wrapped by Attributions.Claim when more than one START whose answer
// was lost could have opened the session: the watcher does not guess, the session is
// outside the gateway (and its rules fire), and the watcher logs a warning naming it.
var ErrClaimAmbiguous = errors.New("watch: more than one start whose answer was lost could have opened the session")

// DefaultAttributionWait is how long an unanswered START holds back the decision "started
// outside the gateway" by default (Options.AttributionWait).
const DefaultAttributionWait = 2 * time.Minute

// attributionTarget is a session to attribute: its id, organisation, VBO start time and
// VBO's initiatedBy.
type attributionTarget struct {
	id, orgID   string
	created     time.Time
	initiatedBy string
	// decided: archived already, its attribution decided (not pending); it is never claimed
	// (a session decided outside the gateway, its rules fired, stays so).
	decided bool
}

// targetOf is the attribution target of archived session x.
func targetOf(x *store.Session) attributionTarget {
	return attributionTarget{id: x.Session.ID, orgID: x.OrgID, created: x.Session.CreationTime, initiatedBy: x.Session.InitiatedBy}
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
// A session decided outside so far that the gateway's own VBO account opened (VBO's
// initiatedBy is the server's Account) may be a START's whose answer was lost: it is offered
// to Attributions.Claim (see claim), unless a START on its organisation is still pending.
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
	var claims []attributionTarget
	for _, t := range targets {
		switch at, ok := started[t.id]; {
		case ok && at.ThroughGateway:
			at.Pending = false
			out[t.id] = at
		case !recent(t):
			out[t.id] = store.Attribution{}
		case pendingOrg[t.orgID]:
			out[t.id] = store.Attribution{Pending: true}
		default:
			out[t.id] = store.Attribution{}
			if p.claimable(t) {
				claims = append(claims, t)
			}
		}
	}
	if err := p.claim(ctx, now, old, claims, out); err != nil {
		return nil, err
	}
	return out, nil
}

// claimable reports whether t may be the session of a START whose answer was lost: the
// gateway's own VBO account opened it (VBO's initiatedBy is the server's configured account,
// compared without case as Windows accounts are) on a known organisation, and VBO dated it
// (without a creation time nothing bounds which START it may be). Anyone else's
// session never is; a session of the gateway's account no such START accounts for stays
// outside the gateway (someone used its credentials directly).
func (p *poller) claimable(t attributionTarget) bool {
	return p.account != "" && t.orgID != "" && !t.created.IsZero() && !t.decided && strings.EqualFold(strings.TrimSpace(t.initiatedBy), p.account)
}

// claim asks the log to give each of list (decided outside so far, in out) to a START whose
// answer was lost, begun after since and no later than now (see Attributions.Claim). The
// earliest session claims first (creation time, then id): a START is claimed once, so a later
// session of the gateway's account on the organisation stays outside. Two STARTs that could
// both be a session's: the log does not guess, the session stays outside, and a warning
// says so.
func (p *poller) claim(ctx context.Context, now, since time.Time, list []attributionTarget, out map[string]store.Attribution) error {
	slices.SortFunc(list, func(a, b attributionTarget) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id))
	})
	for _, t := range list {
		c := ClaimCandidate{ID: t.id, OrgID: t.orgID, InitiatedBy: t.initiatedBy, SeenAt: now, Since: since,
			Until: t.created.Add(p.w.o.AttributionWait), From: t.created.Add(-p.w.o.AttributionWait)}
		at, ok, err := p.w.o.Attributions.Claim(ctx, p.name, c)
		switch {
		case errors.Is(err, ErrClaimAmbiguous):
			p.log.WarnContext(ctx, "watch: a session of the gateway's account could be either of two restore starts whose answer was lost; attributed to neither",
				"session", t.id, "organization", t.orgID, "error", err)
		case err != nil:
			return fmt.Errorf("watch: claim of %s session %s: %w", p.name, t.id, err)
		case ok && at.ThroughGateway:
			at.Pending = false
			out[t.id] = at
			p.log.InfoContext(ctx, "watch: a session of the gateway's account is attributed to the restore start whose answer was lost",
				"session", t.id, "organization", t.orgID, "person", at.Person)
		}
	}
	return nil
}

// attribute sets the join on the changes about to be archived (see decide).
func (p *poller) attribute(ctx context.Context, list []store.Change) error {
	if p.w.o.Attributions == nil || len(list) == 0 {
		return nil
	}
	targets := make([]attributionTarget, len(list))
	var mayClaim []string
	for i := range list {
		targets[i] = targetOf(&list[i].Session)
		if p.claimable(targets[i]) {
			mayClaim = append(mayClaim, targets[i].id)
		}
	}
	if len(mayClaim) > 0 {
		// Sessions of the gateway's account (rare): those archived and decided already are
		// not claimed (see attributionTarget.decided).
		old, err := p.w.o.Store.Sessions(ctx, p.name, mayClaim)
		if err != nil {
			return fmt.Errorf("watch: attribution of %s sessions: %w", p.name, err)
		}
		for i := range targets {
			if x, ok := old[targets[i].id]; ok && !x.Attribution.Pending {
				targets[i].decided = true
			}
		}
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
		targets[i] = targetOf(x)
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
