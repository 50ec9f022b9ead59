package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
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
//  2. failing that, from VBO's item events the watcher archived (Options.Events): the events of
//     the action's kind for its items (by name, as the browse named them), started no earlier
//     than eventSlack before the action; each item's last finished event decides it;
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
	// eventSlack: VBO's event may start a little before the gateway's record (clocks).
	eventSlack = time.Minute
	// settleEventsScan bounds the archived events read for one action, in pages of eventsPage.
	settleEventsScan = 10_000
	eventsPage       = 1000
)

// EventReader reads a server's archived events of a restore session from order offset on, in
// order, at most limit (*store.Store's SessionEventsFrom).
type EventReader func(ctx context.Context, server, vboSessionID string, offset, limit int) ([]upstream.RestoreSessionEvent, error)

// eventTypes are the VBO event types of each item action.
var eventTypes = map[actionlog.Kind]upstream.RestoreEventType{
	actionlog.KindSend: upstream.EventTypeSend, actionlog.KindRestoreTo: upstream.EventTypeRestore,
	actionlog.KindRestoreToOriginal: upstream.EventTypeRestore,
}

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

// byEvents: each item's last finished archived event of a's kind, by item name.
func (s *Service) byEvents(ctx context.Context, a actionlog.Action) (actionlog.Counts, bool) {
	typ, ok := eventTypes[a.Kind]
	if s.o.Events == nil || !ok {
		return actionlog.Counts{}, false
	}
	last := map[string]upstream.RestoreEventStatus{}
	for _, it := range a.Items {
		if it.Name == "" {
			return actionlog.Counts{}, false // an item without a name joins no event
		}
		last[it.Name] = ""
	}
	from := a.At.Add(-eventSlack)
	for offset := 0; offset < settleEventsScan; offset += eventsPage {
		list, err := s.o.Events(ctx, a.Server, a.VBOSessionID, offset, eventsPage)
		if err != nil {
			return actionlog.Counts{}, false
		}
		for _, ev := range list {
			if _, mine := last[ev.ItemName]; !mine || ev.Type != typ || ev.StartTime.Before(from) {
				continue
			}
			if ev.Status != upstream.EventStatusRunning {
				last[ev.ItemName] = ev.Status // events come in order: the last one decides
			}
		}
		if len(list) < eventsPage {
			break
		}
	}
	var c actionlog.Counts
	for _, it := range a.Items {
		switch last[it.Name] {
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
