package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Settling (issue 25): a v8 restore VBO had not finished when the caller was answered (RUNNING)
// keeps its record PENDING; so does an action whose replica died during VBO's call. Each reaper
// run settles such actions, oldest first, at most settleBatch, once they are older than
// Options.SettleGrace (counted from the approval for an approved action):
//
//  1. from the restore session's Statistics (v8): the session's running totals less the counts
//     already recorded for the session's other restores, when no other restore of the session
//     is still pending (their shares could not be told apart) and the difference accounts for
//     every item of the action;
//  2. failing that, from VBO's item events the watcher archived (Options.Events): the events
//     resolvers/eventjoin joins to the action among the session's item actions (the rule
//     RestoreAction.events and the webhooks' actor use), for its items (by name, as the browse
//     named them); each item's last finished event decides it;
//  3. failing both for Options.SettleGiveUp, the action is completed FAILED, "outcome unknown
//     after ..." (VBO's own events still show what it did).
//
// Completing is idempotent across replicas and runs: the log takes one outcome per action, and
// a second (actionlog.ErrCompleted) means another run settled it first.
const (
	defaultSettleGrace  = time.Minute
	defaultSettleGiveUp = 6 * time.Hour
	// settleBatch bounds the actions one reaper run settles.
	settleBatch = 100
	// settleEventsScan bounds the archived events read for one action, in pages of eventsPage.
	settleEventsScan = 10_000
	eventsPage       = 1000
)

// EventReader reads a server's archived events of a restore session from order offset on, in
// order, at most limit (*store.Store's SessionEventsFrom).
type EventReader func(ctx context.Context, server, vboSessionID string, offset, limit int) ([]upstream.RestoreSessionEvent, error)

// Settle completes the pending item actions VBO has finished (see above) and those past the
// give-up bound; it returns how many this run completed.
func (s *Service) Settle(ctx context.Context) (int, error) {
	now := s.o.Now()
	list, err := s.o.Log.PendingItemActions(ctx, now.Add(-s.o.SettleGrace), settleBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range list {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		since := a.At
		if a.Approval != nil && a.Approval.At.After(since) {
			since = a.Approval.At
		}
		if now.Sub(since) < s.o.SettleGrace {
			continue // approved a moment ago: its run may still be following VBO
		}
		o, ok := s.settle(ctx, a)
		if !ok {
			if now.Sub(since) < s.o.SettleGiveUp {
				continue
			}
			o = actionlog.Outcome{Status: actionlog.StatusFailed,
				Error:  fmt.Sprintf("outcome unknown after %s: VBO's statistics and archived events did not account for the items", s.o.SettleGiveUp),
				Detail: detail(map[string]any{"settledBy": "reaper", "gaveUp": true})}
		}
		_, err := s.complete(ctx, a.ID, o)
		switch {
		case errors.Is(err, actionlog.ErrCompleted):
			continue // another replica or run settled it first
		case err != nil:
			s.o.Logger.WarnContext(ctx, "restore reaper: could not complete a pending action", "action", a.ID, "err", err)
			continue
		}
		n++
		s.o.Logger.InfoContext(ctx, "restore reaper: settled a pending action", "action", a.ID, "kind", a.Kind,
			"status", o.Status, "vbo_session", a.VBOSessionID)
	}
	return n, nil
}

// settle works out a's outcome from VBO's statistics, else the archived events; ok false when
// neither accounts for every item yet.
func (s *Service) settle(ctx context.Context, a actionlog.Action) (actionlog.Outcome, bool) {
	if a.VBOSessionID == "" || len(a.Items) == 0 {
		return actionlog.Outcome{}, false
	}
	if c, ok := s.byStatistics(ctx, a); ok {
		return settled(c, "statistics"), true
	}
	if c, ok := s.byEvents(ctx, a); ok {
		return settled(c, "events"), true
	}
	return actionlog.Outcome{}, false
}

func settled(c actionlog.Counts, by string) actionlog.Outcome {
	o := actionlog.Outcome{Detail: detail(map[string]any{"settledBy": "reaper", "from": by, "async": true})}
	withCounts(&o, c)
	return o
}

// byStatistics: the session's totals less the other restores' recorded counts (v8 only).
func (s *Service) byStatistics(ctx context.Context, a actionlog.Action) (actionlog.Counts, bool) {
	if a.Kind != actionlog.KindRestoreTo && a.Kind != actionlog.KindRestoreToOriginal {
		return actionlog.Counts{}, false
	}
	c, err := s.actionClient(a.Server)
	if err != nil {
		return actionlog.Counts{}, false
	}
	sibs, err := s.o.Log.SessionItemActions(ctx, a.GatewaySessionID, actionlog.MaxActionsPage)
	if err != nil || len(sibs) >= actionlog.MaxActionsPage {
		return actionlog.Counts{}, false // unknown, or more restores than one page: not attributable
	}
	var known upstream.RestoreStatistics // the other restores' recorded share of the totals
	for _, b := range sibs {
		if b.ID == a.ID || b.Kind != actionlog.KindRestoreTo && b.Kind != actionlog.KindRestoreToOriginal {
			continue
		}
		switch {
		case b.Status == actionlog.StatusPending:
			return actionlog.Counts{}, false // its share and a's cannot be told apart
		case b.Counts != nil:
			known.Restored += b.Counts.Created + b.Counts.Merged
			known.Failed += b.Counts.Failed
			known.Skipped += b.Counts.Skipped
		}
	}
	st, _, err := c.RestoreSessionStatistics(ctx, a.VBOSessionID)
	if err != nil || st == nil {
		return actionlog.Counts{}, false // v6, or VBO unavailable: the events may tell
	}
	return statsSince(st, known, len(a.Items))
}

// byEvents: each item's last finished archived event among those eventjoin joins to a (of the
// session's item actions), by item name. Not for a DOWNLOAD: its link completes it.
func (s *Service) byEvents(ctx context.Context, a actionlog.Action) (actionlog.Counts, bool) {
	if s.o.Events == nil || a.Kind == actionlog.KindDownload || len(eventjoin.EventTypes(eventjoin.Kind(a.Kind))) == 0 {
		return actionlog.Counts{}, false
	}
	last := map[string]upstream.RestoreEventStatus{} // by folded item name
	for _, it := range a.Items {
		if strings.TrimSpace(it.Name) == "" {
			return actionlog.Counts{}, false // an item without a name joins no event
		}
		last[itemKey(it.Name)] = ""
	}
	sibs, err := s.o.Log.SessionItemActions(ctx, a.GatewaySessionID, eventjoin.MaxActions+1)
	if err != nil || len(sibs) > eventjoin.MaxActions {
		return actionlog.Counts{}, false
	}
	acts, mine := make([]eventjoin.Action, len(sibs)), -1
	for i, b := range sibs {
		acts[i] = joinInput(b)
		if b.ID == a.ID {
			mine = i
		}
	}
	if mine < 0 { // not listed (the list was read before a was recorded): a joins too
		acts, mine = append(acts, joinInput(a)), len(acts)
	}
	set := eventjoin.NewSet(acts) // the items folded once for every event
	for offset := 0; offset < settleEventsScan; offset += eventsPage {
		list, err := s.o.Events(ctx, a.Server, a.VBOSessionID, offset, eventsPage)
		if err != nil {
			return actionlog.Counts{}, false
		}
		for i := range list {
			ev := &list[i]
			if ev.Status == upstream.EventStatusRunning || set.Join(ev) != mine {
				continue
			}
			if k, named := itemOf(a.Items, ev.ItemName); named {
				last[k] = ev.Status // events come in order: the last one decides
			}
		}
		if len(list) < eventsPage {
			break
		}
	}
	var c actionlog.Counts
	for _, it := range a.Items {
		switch last[itemKey(it.Name)] {
		case upstream.EventStatusSuccess, upstream.EventStatusWarning:
			c.Created++
		case upstream.EventStatusFailed, upstream.EventStatusCancelled:
			c.Failed++
		case upstream.EventStatusSkipped:
			c.Skipped++
		default:
			return actionlog.Counts{}, false // not finished (or not archived) yet
		}
	}
	return c, true
}

// itemKey keys an action's item by its name.
func itemKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// itemOf is the key of the item of items an event names (as eventjoin compares names: trimmed,
// case folded); false when it names none (an event joined to a container action).
func itemOf(items []actionlog.Item, name string) (string, bool) {
	name = strings.TrimSpace(name)
	for _, it := range items {
		if strings.EqualFold(strings.TrimSpace(it.Name), name) {
			return itemKey(it.Name), true
		}
	}
	return "", false
}

// joinInput is a recorded item action as resolvers/eventjoin reads it (actionModel gives the
// schema's actions the same approval fields, for RestoreAction.events).
func joinInput(a actionlog.Action) eventjoin.Action {
	j := eventjoin.Action{ID: a.ID, Kind: eventjoin.Kind(a.Kind), At: a.At, CompletedAt: a.CompletedAt,
		NeedsApproval: a.ApprovalUntil != nil, Items: make([]string, len(a.Items))}
	if a.Approval != nil {
		at := a.Approval.At
		j.ApprovedAt = &at
	}
	for i, it := range a.Items {
		j.Items[i] = it.Name
	}
	return j
}

var _ resolvers.RestoreSessionItemActions = (*Service)(nil)

// SessionItemActions lists a gateway session's item actions, oldest first, at most limit: the
// actions RestoreAction.events joins VBO's events among (the same list the reaper joins with).
func (s *Service) SessionItemActions(ctx context.Context, gatewaySessionID string, limit int) ([]*model.RestoreAction, error) {
	list, err := s.o.Log.SessionItemActions(ctx, gatewaySessionID, limit)
	return actionModels(list), err
}
