package watchrules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/report"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// maxEventsLoaded bounds the events an ENDED rule with event conditions reads per session.
const maxEventsLoaded = 20_000

// activeRule is an enabled rule, compiled.
type activeRule struct {
	row  *ruleRow
	rule *match.Rule
}

// Hook is the watcher's archive hook (store.Hook): it evaluates every enabled rule against
// one archived change, inside the archive transaction, and records and queues a delivery for
// each match. So a match is queued exactly when the archive commits it, and each (rule,
// session, trigger) at most once (the delivery table's unique index). Rules never fire for
// history: not for the backfill, and not for sessions the watcher first saw before the rule
// existed.
func (s *Service) Hook(ctx context.Context, tx store.Tx, c store.Archived) error {
	if c.Session == nil || c.Backfill || c.Session.Backfill || c.Session.Attribution.Pending {
		// Pending: who started the session is not decided yet (a START through the gateway
		// awaited VBO's answer). Every rule waits, so every payload carries the decided
		// attribution and startedOutsideGateway never fires for the gateway's own session;
		// store.Archived.Attributed brings the session back once decided.
		return nil
	}
	var triggers []match.Trigger
	items := c.NewEvents
	switch {
	case c.Attributed:
		// Decided now: what happened while it was pending is evaluated now (a delivery is
		// still made at most once per rule, session and trigger).
		triggers = append(triggers, match.Started)
		if c.Session.Totals.Items > 0 {
			triggers = append(triggers, match.Item)
			items = nil // all the session's events, read below
		}
		if c.Ended || c.Session.EndedSeq > 0 {
			triggers = append(triggers, match.Ended)
		}
	default:
		if c.New {
			triggers = append(triggers, match.Started)
		}
		if hasItems(c.NewEvents) {
			triggers = append(triggers, match.Item)
		}
		if c.Ended {
			triggers = append(triggers, match.Ended)
		}
	}
	if len(triggers) == 0 {
		return nil
	}
	active, err := s.activeRules(ctx, tx)
	if err != nil || len(active) == 0 {
		return err
	}
	ev := &evaluation{s: s, tx: tx, c: c, view: report.ArchivedSession(c.Session), items: items}
	for _, t := range triggers {
		for _, ar := range active {
			if ar.rule.Trigger() != t {
				continue
			}
			if err := ev.apply(ctx, t, ar); err != nil {
				return err
			}
		}
	}
	return nil
}

// evaluation is one archived change being evaluated; it reads what rules need from the
// archive once, lazily.
type evaluation struct {
	s    *Service
	tx   store.Tx
	c    store.Archived
	view *match.Session
	// items are the ITEM trigger's events: those just read; nil after a late attribution (all
	// the session's archived events).
	items []upstream.RestoreSessionEvent

	firstSeen    *time.Time
	events       []upstream.RestoreSessionEvent
	eventsLoaded bool
	firstFromMc  *bool
	now          time.Time
	// actionsLoaded: view.ItemActions was read (loadItemActions).
	actionsLoaded bool
}

func (e *evaluation) apply(ctx context.Context, t match.Trigger, ar activeRule) error {
	if t != match.Item {
		// Never history: the session must be one the watcher first saw after the rule existed.
		fs, err := e.sessionFirstSeen(ctx)
		if err != nil {
			return err
		}
		if !fs.After(ar.row.created) {
			return nil
		}
	}
	if !e.s.inScope(ar.row.tenant, e.view.Server, e.view.OrgID) {
		return nil
	}
	if err := e.loadItemActions(ctx); err != nil {
		return err
	}
	in := match.Input{Trigger: t, Session: e.view, FirstFromMachine: func() (bool, error) { return e.firstFromMachine(ctx) }}
	switch {
	case t == match.Item && e.items != nil:
		in.Events = e.items
	case t == match.Item || ar.rule.NeedsEvents():
		evs, err := e.allEvents(ctx)
		if err != nil {
			return err
		}
		in.Events = evs
	}
	m, ok, err := ar.rule.Evaluate(in)
	if err != nil || !ok {
		return err
	}
	if e.now.IsZero() {
		if e.now, err = e.s.now(ctx); err != nil {
			return err
		}
	}
	body, err := match.NewPayload(ar.row.id, ar.row.def, t, e.view, m.Events, e.now).Marshal()
	if err != nil {
		return err
	}
	id := newID("wd_")
	d := &deliveryRow{id: id, ruleID: ar.row.id, messageID: "msg_" + strings.TrimPrefix(id, "wd_"), eventType: match.EventTypeFor(t),
		trigger: string(t), server: e.view.Server, sessionID: e.view.Upstream.ID, orgID: e.view.OrgID, status: statusPending,
		nextAttempt: &e.now, payload: string(body), created: e.now, updated: e.now}
	inserted, err := insertDelivery(ctx, e.tx, d)
	if err != nil {
		return fmt.Errorf("watch rules: record delivery: %w", err)
	}
	if !inserted {
		return nil // this (rule, session, trigger) was delivered before
	}
	return e.s.insertTx(ctx, e.tx, deliverArgs{DeliveryID: id})
}

// loadItemActions joins the gateway's item actions to a session started through it (the
// only sessions that have any): the view carries them to the rules and the payloads.
// Read once, for the first rule evaluated.
func (e *evaluation) loadItemActions(ctx context.Context) error {
	if e.actionsLoaded || e.s.actions == nil || !e.view.Attribution.ThroughGateway {
		return nil
	}
	e.actionsLoaded = true
	list, err := e.s.actions.ItemActions(ctx, e.view.Server, e.view.Upstream.ID)
	if err != nil {
		return fmt.Errorf("watch rules: item actions of %s on %s: %w", e.view.Upstream.ID, e.view.Server, err)
	}
	e.view.ItemActions = list
	return nil
}

func (e *evaluation) sessionFirstSeen(ctx context.Context) (time.Time, error) {
	if e.firstSeen == nil {
		t, err := store.FirstSeen(ctx, e.tx, e.view.Server, e.view.Upstream.ID)
		if err != nil {
			return time.Time{}, fmt.Errorf("watch rules: %w", err)
		}
		e.firstSeen = &t
	}
	return *e.firstSeen, nil
}

// firstFromMachine: does the archive hold no other session of this organisation, from this
// client machine, that started no later than this one?
func (e *evaluation) firstFromMachine(ctx context.Context) (bool, error) {
	if e.firstFromMc == nil {
		earlier, err := store.HasEarlierSession(ctx, e.tx, store.EarlierSession{Server: e.view.Server, OrgID: e.view.OrgID,
			OrgName: e.view.OrgName, Machine: e.view.ClientHost().MachineName, Not: e.view.Upstream.ID,
			StartedBy: e.view.Upstream.CreationTime})
		if err != nil {
			return false, fmt.Errorf("watch rules: %w", err)
		}
		first := !earlier
		e.firstFromMc = &first
	}
	return *e.firstFromMc, nil
}

// allEvents reads the session's archived events (this transaction's included).
func (e *evaluation) allEvents(ctx context.Context) ([]upstream.RestoreSessionEvent, error) {
	if !e.eventsLoaded {
		evs, err := store.SessionEvents(ctx, e.tx, e.view.Server, e.view.Upstream.ID, maxEventsLoaded)
		if err != nil {
			return nil, fmt.Errorf("watch rules: %w", err)
		}
		e.events, e.eventsLoaded = evs, true
	}
	return e.events, nil
}

// activeSet is the enabled rules as read at versions, compiled.
type activeSet struct {
	versions []ruleVersion
	rules    []activeRule
	compiled map[ruleVersion]*match.Rule
}

// ruleVersion names one version of a rule: a rule's every change moves its updated_ns forward,
// by one when the store's clock does not read later (bumpUpdated; the service is the table's
// only writer).
type ruleVersion struct {
	id      string
	updated int64
}

// activeRules returns the enabled rules, compiled. The hook calls it once per archived change,
// in the archive transaction: it reads the enabled rules' versions there (ids and last
// changes, a narrow query), and reads the rules themselves (definitions, secrets) and compiles
// the changed ones only when those differ from the last read. The versions come from the
// database, so a change made on any replica (GraphQL, the console, a rule the deliveries
// disabled) is seen by the next transaction, as when the rules were read in full each time.
func (s *Service) activeRules(ctx context.Context, q querier) ([]activeRule, error) {
	versions, err := activeVersions(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("watch rules: active rules: %w", err)
	}
	s.mu.Lock()
	last := s.active
	s.mu.Unlock()
	if last != nil && slices.Equal(last.versions, versions) {
		return last.rules, nil
	}
	rows, err := listRules(ctx, q, "WHERE enabled = TRUE")
	if err != nil {
		return nil, fmt.Errorf("watch rules: active rules: %w", err)
	}
	next := &activeSet{versions: make([]ruleVersion, 0, len(rows)), rules: make([]activeRule, 0, len(rows)),
		compiled: make(map[ruleVersion]*match.Rule, len(rows))}
	for _, r := range rows {
		v := ruleVersion{r.id, store.NS(r.updated)}
		next.versions = append(next.versions, v) // as read: a rule that does not compile is not read again until it changes
		var rule *match.Rule
		if last != nil {
			rule = last.compiled[v] // unchanged since the last read
		}
		if rule == nil {
			if rule, err = match.Compile(r.def); err != nil {
				// Stored rules were valid when written; one that no longer compiles (e.g. a
				// zone that vanished from tzdata) is skipped, not allowed to stop the archive.
				s.logger.WarnContext(ctx, "watch rule does not compile; skipped", "rule", r.id, "err", err)
				continue
			}
		}
		next.compiled[v] = rule
		next.rules = append(next.rules, activeRule{row: r, rule: rule})
	}
	s.mu.Lock()
	s.active = next
	s.mu.Unlock()
	return next.rules, nil
}

// activeVersions lists the enabled rules' versions, in listRules' order.
func activeVersions(ctx context.Context, q querier) ([]ruleVersion, error) {
	rows, err := q.Query(ctx, `SELECT id, updated_ns FROM watch_rule WHERE enabled = TRUE ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	return store.Collect(rows, func(r store.Row) (ruleVersion, error) {
		var v ruleVersion
		err := r.Scan(&v.id, &v.updated)
		return v, err
	})
}

func hasItems(evs []upstream.RestoreSessionEvent) bool {
	for i := range evs {
		if evs[i].Type != upstream.EventTypeNone {
			return true
		}
	}
	return false
}
