package watchrules

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/webhooks"
)

// worker makes one attempt per job run. A failure that has attempts left snoozes the job until
// the next one is due (the schedule and the receiver's Retry-After decide, not River's own
// retry policy); everything else ends the job.
type worker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

func (w *worker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	s := w.s
	d, err := getDelivery(ctx, s.st, job.Args.DeliveryID)
	if errors.Is(err, errNoRow) {
		return nil // the rule and its deliveries were deleted
	}
	if err != nil {
		return err
	}
	if d.status != statusPending || d.retryBase != job.Args.Round {
		return nil // done, or superseded by a redelivery
	}
	r, err := getRule(ctx, s.st, d.ruleID)
	switch {
	case errors.Is(err, errNoRow):
		return s.cancel(ctx, d, "the rule was deleted")
	case err != nil:
		return err
	case !r.enabled:
		return s.cancel(ctx, d, "the rule is disabled")
	}
	// The rule's owner may have lost the organisation since the match (a reload, a tenant
	// removed): then nothing more is sent.
	if d.trigger != triggerTest && !s.inScope(r.tenant, d.server, d.orgID) {
		return s.cancel(ctx, d, "the session is no longer in the rule owner's scope")
	}
	owner := ownerKey(r.tenant)
	release, ok := s.slots.take(owner)
	if !ok {
		// The owner already holds its share of the workers (a slow receiver, a burst): this
		// job waits, without spending an attempt, and the worker goes to another owner's.
		return river.JobSnooze(s.slots.snooze(owner, time.Now()))
	}
	defer release()
	delay, err := s.attempt(ctx, d, r, true)
	if err != nil {
		return err
	}
	if delay != nil {
		return river.JobSnooze(*delay)
	}
	return nil
}

// ownerSlots shares this replica's delivery workers between rule owners: an owner holds at
// most max workers at once, and a job of an owner at its cap is snoozed (without spending an
// attempt) rather than worked. The snoozed jobs of one owner come back one at a time, at most
// one per ownerBusyGap (after at least ownerBusySnooze), so a large backlog costs a few cheap
// runs a second instead of crowding the queue.
//
// The bound: max < Workers, so one owner's receiver, however slow, never holds every worker,
// and the jobs waiting behind it never pile up ahead of other owners' in the queue. A delivery
// of another owner below its cap is picked up by a free worker within about the queue's poll
// interval (1 s by default) of falling due, plus at most once the few milliseconds each of
// the slow owner's jobs that fell due before it takes to be looked at and snoozed (a burst of
// matches arrives that way: 40 queued at once cost about 0.5 s in the test). When
// several owners are at their caps together and every worker is busy, it waits for the next
// attempt to end: at most the client's per-attempt timeout (webhooks.DefaultTimeout, 15 s)
// more. The caps are per replica.
type ownerSlots struct {
	max     int
	mu      sync.Mutex
	held    map[string]int
	lastDue map[string]time.Time // when the owner's last snoozed job comes back
}

// ownerBusySnooze is the shortest wait of a job whose owner is at its cap; ownerBusyGap
// spaces that owner's waiting jobs.
const (
	ownerBusySnooze = time.Second
	ownerBusyGap    = 200 * time.Millisecond
)

func newOwnerSlots(max int) *ownerSlots {
	return &ownerSlots{max: max, held: map[string]int{}, lastDue: map[string]time.Time{}}
}

// take claims a worker for owner; false when the owner already holds its share. release
// gives it back (once).
func (o *ownerSlots) take(owner string) (release func(), ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held[owner] >= o.max {
		return nil, false
	}
	o.held[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.held[owner]--; o.held[owner] <= 0 {
				delete(o.held, owner)
			}
		})
	}, true
}

// snooze is how long a job of owner, at its cap now, waits: at least ownerBusySnooze, and
// ownerBusyGap after the owner's previous waiting job.
func (o *ownerSlots) snooze(owner string, now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	due := now.Add(ownerBusySnooze)
	if next := o.lastDue[owner].Add(ownerBusyGap); next.After(due) {
		due = next
	}
	o.lastDue[owner] = due
	for k, t := range o.lastDue { // owners whose waiting jobs have all come back
		if t.Before(now) {
			delete(o.lastDue, k)
		}
	}
	return due.Sub(now)
}

// ownerKey names a rule's owner for ownerSlots: its tenant, or the provider.
func ownerKey(tenant *string) string {
	if tenant == nil {
		return "provider"
	}
	return "tenant:" + *tenant
}

// cancel ends a pending delivery without sending it.
func (s *Service) cancel(ctx context.Context, d *deliveryRow, reason string) error {
	now, err := s.now(ctx)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "webhook delivery cancelled", "delivery", d.id, "rule", d.ruleID, "reason", reason)
	s.counts.cancelled.Add(1)
	return s.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE webhook_delivery SET status = ?, last_error = ?, next_attempt_ns = NULL, updated_ns = ?
			WHERE id = ? AND status = ?`, statusCancelled, reason, store.NS(now), d.id, statusPending)
		return err
	})
}

// attempt sends d once and records the outcome. With retry, a failure with attempts left
// stays PENDING and the delay before the next attempt is returned; otherwise it is final.
// A 410 Gone disables the rule.
func (s *Service) attempt(ctx context.Context, d *deliveryRow, r *ruleRow, retry bool) (*time.Duration, error) {
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	out := s.client.Send(ctx, webhooks.Message{ID: d.messageID, URL: r.def.URL, Body: []byte(d.payload), Keys: r.keys(now)})
	s.counts.attempt(out.Result)
	made := d.attempts + 1
	status, errText := statusFailed, ""
	var next *time.Time
	var delay *time.Duration
	if out.Err != nil {
		errText = out.Err.Error()
	}
	switch out.Result {
	case webhooks.Delivered:
		status = statusSucceeded
	case webhooks.Gone:
		status = statusFailed
	default:
		if retry {
			if dl, ok := s.schedule.Next(int(made-d.retryBase), out.RetryAfter); ok {
				at := now.Add(dl)
				status, next, delay = statusPending, &at, &dl
			}
		}
	}
	var code any
	if out.StatusCode != 0 {
		code = out.StatusCode
	}
	// The attempt is recorded even when the caller's deadline (a GraphQL request's, for a test
	// delivery; the job's) ran out during it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempt (delivery_id, n, at_ns, status_code, error, duration_ms)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, d.id, made, store.NS(now), code, errText, out.Duration.Milliseconds()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_delivery SET status = ?, attempts = ?, next_attempt_ns = ?, last_error = ?, updated_ns = ?
			WHERE id = ? AND attempts = ?`, status, made, store.NullNS(next), errText, store.NS(now), d.id, d.attempts); err != nil {
			return err
		}
		if out.Result == webhooks.Gone {
			reason := fmt.Sprintf("the receiver answered 410 Gone on %s", now.UTC().Format(time.RFC3339))
			_, err := tx.Exec(ctx, `UPDATE watch_rule SET enabled = FALSE, disabled_reason = ?, `+bumpUpdated+` WHERE id = ?`,
				reason, store.NS(now), store.NS(now), r.id)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("watch rules: record attempt of %s: %w", d.id, err)
	}
	level := s.logger.InfoContext
	if status == statusFailed {
		level = s.logger.WarnContext
	}
	level(ctx, "webhook attempt", "delivery", d.id, "rule", r.id, "attempt", made, "status_code", out.StatusCode,
		"result", out.Result.String(), "next", status, "err", errText)
	return delay, nil
}

// pruneTimeout bounds one run of the history retention (what is left goes at the next run);
// it stays below River's stuck-job rescue (the job timeout plus 5 minutes).
const pruneTimeout = 5 * time.Minute

// pruner runs the delivery history retention (the periodic prune job).
type pruner struct {
	river.WorkerDefaults[pruneArgs]
	s *Service
}

func (p *pruner) Timeout(*river.Job[pruneArgs]) time.Duration { return pruneTimeout }

func (p *pruner) Work(ctx context.Context, _ *river.Job[pruneArgs]) error {
	_, err := p.s.PruneHistory(ctx)
	return err
}
