package frontdoor

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// tuneVBO changes the fake's behaviour between actions.
func (e *actEnv) tuneVBO(lag int, failed int64) {
	e.avbo.amu.Lock()
	e.avbo.lag, e.avbo.failed = lag, failed
	e.avbo.amu.Unlock()
}

// restoreTo runs a restoreItemsTo of n items with key.
func (e *actEnv) restoreTo(t *testing.T, key string, n int) *model.RestoreActionResult {
	t.Helper()
	r := e.req(model.RestoreActionKindRestoreTo, key, n)
	r.Target = "bob@contoso.onmicrosoft.com"
	res, err := e.svc.ItemAction(ctx, operator("ann"), e.gs, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *actEnv) settle(t *testing.T, svc *Service) int {
	t.Helper()
	n, err := svc.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// staleLog is the log as another replica sees it: hook runs between its listing of the
// pending actions and its completing them.
type staleLog struct {
	Log
	hook func()
}

func (l staleLog) PendingItemActions(ctx context.Context, before time.Time, limit int) ([]actionlog.Action, error) {
	list, err := l.Log.PendingItemActions(ctx, before, limit)
	if l.hook != nil {
		l.hook()
	}
	return list, err
}

// TestReaperSettlesLaggingV8Restore: a v8 restore whose statistics lag beyond the front door's
// polls is answered RUNNING and left PENDING; past the grace the reaper completes it with its
// own counts (the session's totals less an earlier restore's), once: another replica that
// listed it too, and later runs, complete nothing.
func TestReaperSettlesLaggingV8Restore(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, func(v *actVBO) { v.async = true })
	first := e.restoreTo(t, "k1", 2) // settles at once: 2 created
	if first.State != model.RestoreActionStateSucceeded {
		t.Fatalf("first restore %s", first.State)
	}
	// The 3 polls after the call: a lag of 3 shows at the next read, the reaper's.
	e.tuneVBO(3, 1)
	res := e.restoreTo(t, "k2", 3)
	if res.State != model.RestoreActionStateRunning {
		t.Fatalf("lagging restore answered %s, want RUNNING", res.State)
	}
	id := res.Action.ID

	e.clk.Add(30 * time.Second) // within the grace: not touched
	if n := e.settle(t, e.svc); n != 0 {
		t.Fatalf("settled %d within the grace", n)
	}
	e.clk.Add(time.Minute)
	if got, _ := e.log.Action(ctx, id); got.Status != actionlog.StatusPending {
		t.Fatalf("before the reaper: %s", got.Status)
	}

	// Another replica lists the action, but this one completes it first: the other finds it
	// completed (ErrCompleted), which is no failure.
	var logs bytes.Buffer
	other, err := New(Options{Log: staleLog{Log: e.log, hook: func() {
		if _, err := e.svc.Reap(ctx); err != nil {
			t.Error(err)
		}
	}}, Server: e.svc.o.Server, Now: e.clk.Now, Policy: e.svc.o.Policy, Organizations: e.svc.o.Organizations,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.settle(t, other); n != 0 {
		t.Fatalf("the second replica completed %d actions again", n)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Fatalf("the second replica took the completed action for a failure: %s", logs.String())
	}
	got, err := e.log.Action(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != actionlog.StatusPartial || got.Counts == nil || *got.Counts != (actionlog.Counts{Created: 2, Failed: 1}) {
		t.Fatalf("settled as %s %+v, want PARTIAL created 2 failed 1", got.Status, got.Counts)
	}
	if !strings.Contains(string(got.OutcomeDetail), `"from":"statistics"`) {
		t.Fatalf("outcome detail %s", got.OutcomeDetail)
	}
	// Later runs find nothing to do; the record has one outcome and the chain holds.
	e.clk.Add(time.Minute)
	if n := e.settle(t, e.svc); n != 0 {
		t.Fatalf("a later run settled %d", n)
	}
	if again, _ := e.log.Action(ctx, id); again.CompletedAt == nil || !again.CompletedAt.Equal(*got.CompletedAt) {
		t.Fatalf("completed again: %+v", again.CompletedAt)
	}
	if v, err := e.log.Verify(ctx, "t1"); err != nil || !v.OK {
		t.Fatalf("chain: %+v %v", v, err)
	}
	if gs, _ := e.log.Session(ctx, e.gs.ID); !gs.Open {
		t.Fatal("the reaper closed a session that is not idle")
	}
}

// TestReaperGivesUp: a restore VBO never accounts for stays PENDING until the bound, then is
// completed FAILED "outcome unknown after ...", once.
func TestReaperGivesUp(t *testing.T) {
	t.Parallel()
	e := newActEnv(t, false, func(v *actVBO) { v.async, v.lag = true, 1_000_000 })
	id := e.restoreTo(t, "k", 2).Action.ID
	e.clk.Add(5 * time.Minute)
	if n := e.settle(t, e.svc); n != 0 {
		t.Fatalf("settled %d with no statistics", n)
	}
	e.clk.Add(defaultSettleGiveUp)
	if n := e.settle(t, e.svc); n != 1 {
		t.Fatalf("gave up on %d, want 1", n)
	}
	got, _ := e.log.Action(ctx, id)
	if got.Status != actionlog.StatusFailed || got.Counts != nil || !strings.Contains(got.Error, "outcome unknown after 6h0m0s") {
		t.Fatalf("gave up as %s %+v %q", got.Status, got.Counts, got.Error)
	}
	if n := e.settle(t, e.svc); n != 0 {
		t.Fatalf("gave up again on %d", n)
	}
}

// TestReaperSettlesByEvents: when the statistics cannot attribute the totals (two restores of
// the session pending at once), the archived item events do: each item's last finished
// Restore event among those resolvers/eventjoin joins to the action, by name; others (before
// its window, another type, another item) are ignored, and a Running item waits. A second
// restore of the same item takes the events of its own run: an event counts for one action
// only (the rule RestoreAction.events and the webhooks' actor use; before it, both actions
// counted every event of the item).
func TestReaperSettlesByEvents(t *testing.T) {
	t.Parallel()
	var events []upstream.RestoreSessionEvent
	e := newActEnv(t, false, func(v *actVBO) { v.async, v.lag = true, 1_000_000 })
	e.svc.o.Events = func(_ context.Context, server, sid string, offset, limit int) ([]upstream.RestoreSessionEvent, error) {
		if server != "syd1" || sid != e.gs.VBOSessionID || offset >= len(events) {
			return nil, nil
		}
		return events[offset:min(len(events), offset+limit)], nil
	}
	atA := e.clk.Now()
	a := e.restoreTo(t, "k1", 2).Action.ID // Mail 0, Mail 1
	e.clk.Add(5 * time.Minute)
	atB := e.clk.Now()
	b := e.restoreTo(t, "k2", 1).Action.ID // Mail 0 again
	ev := func(name string, typ upstream.RestoreEventType, st upstream.RestoreEventStatus, start time.Time) upstream.RestoreSessionEvent {
		return upstream.RestoreSessionEvent{ID: name, ItemName: name, Type: typ, Status: st, StartTime: start, Order: len(events)}
	}
	events = append(events, ev("Mail 0", upstream.EventTypeRestore, upstream.EventStatusRunning, atA.Add(time.Second)))
	e.clk.Add(2 * time.Minute)
	if n := e.settle(t, e.svc); n != 0 {
		t.Fatalf("settled %d with both restores pending and the items running", n)
	}
	events = append(events,
		ev("Mail 0", upstream.EventTypeRestore, upstream.EventStatusSuccess, atA.Add(time.Second)), // a's
		ev("Mail 1", upstream.EventTypeRestore, upstream.EventStatusFailed, atA.Add(time.Second)),
		ev("Mail 1", upstream.EventTypeRestore, upstream.EventStatusSuccess, atA.Add(-time.Hour)),  // before the action
		ev("Mail 1", upstream.EventTypeSend, upstream.EventStatusSuccess, atA.Add(time.Second)),    // another action's
		ev("Mail 9", upstream.EventTypeRestore, upstream.EventStatusSuccess, atA.Add(time.Second)), // another item
		ev("Mail 0", upstream.EventTypeRestore, upstream.EventStatusFailed, atB.Add(time.Second)))  // b's, the last of Mail 0
	if n := e.settle(t, e.svc); n != 2 {
		t.Fatalf("settled %d, want both", n)
	}
	for _, c := range []struct {
		id     string
		status actionlog.Status
		counts actionlog.Counts
	}{{a, actionlog.StatusPartial, actionlog.Counts{Created: 1, Failed: 1}}, {b, actionlog.StatusFailed, actionlog.Counts{Failed: 1}}} {
		got, _ := e.log.Action(ctx, c.id)
		if got.Status != c.status || got.Counts == nil || *got.Counts != c.counts || !strings.Contains(string(got.OutcomeDetail), `"from":"events"`) {
			t.Fatalf("%s settled as %s %+v (%s), want %s %+v", c.id, got.Status, got.Counts, got.OutcomeDetail, c.status, c.counts)
		}
	}
}

// TestStatsSince: v8's totals less a base count an action's items only when no count went
// backwards (another reading of the totals) and together they reach n.
func TestStatsSince(t *testing.T) {
	t.Parallel()
	base := upstream.RestoreStatistics{Restored: 2, Failed: 1, Skipped: 0}
	cases := []struct {
		name string
		st   upstream.RestoreStatistics
		n    int
		want actionlog.Counts
		ok   bool
	}{
		{"accounts for n", upstream.RestoreStatistics{Restored: 4, Failed: 2, Skipped: 1}, 4, actionlog.Counts{Created: 2, Failed: 1, Skipped: 1}, true},
		{"more than n", upstream.RestoreStatistics{Restored: 5, Failed: 1}, 2, actionlog.Counts{Created: 3}, true},
		{"fewer than n", upstream.RestoreStatistics{Restored: 3, Failed: 1}, 2, actionlog.Counts{}, false},
		{"a count went back", upstream.RestoreStatistics{Restored: 9, Failed: 0}, 1, actionlog.Counts{}, false},
		{"nothing yet", base, 1, actionlog.Counts{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := c.st
			got, ok := statsSince(&st, base, c.n)
			if ok != c.ok || got != c.want {
				t.Fatalf("statsSince = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// fixtureLog is a Log holding the shared join fixture's item actions (eventjointest) as the
// session gw's (VBO session s1 of syd1).
type fixtureLog struct {
	Log
	acts []actionlog.Action
}

func (l fixtureLog) SessionItemActions(_ context.Context, gatewaySessionID string, limit int) ([]actionlog.Action, error) {
	if gatewaySessionID != "gw" {
		return nil, nil
	}
	return l.acts[:min(limit, len(l.acts))], nil
}

// fixtureActions are the fixture's actions as the log reads them back.
func fixtureActions(f eventjointest.Fixture) []actionlog.Action {
	var out []actionlog.Action
	for i, a := range f.Actions {
		x := actionlog.Action{ID: a.ID, Position: int64(i + 1), Kind: actionlog.Kind(a.Kind), Server: "syd1", GatewaySessionID: "gw",
			VBOSessionID: "s1", Status: actionlog.StatusPending, At: a.At, CompletedAt: a.CompletedAt}
		if a.CompletedAt != nil {
			x.Status = actionlog.StatusSucceeded
		}
		if a.NeedsApproval {
			until := a.At.Add(time.Hour)
			x.ApprovalUntil = &until
			x.Status = actionlog.StatusPendingApproval
		}
		if a.ApprovedAt != nil {
			x.Approval = &actionlog.Approval{ID: "approve-" + a.ID, At: *a.ApprovedAt}
		}
		for _, n := range a.Items {
			x.Items = append(x.Items, actionlog.Item{ID: "id-" + n, Name: n, Type: "MAIL_ITEM"})
		}
		out = append(out, x)
	}
	return out
}

// TestSettleByEventsAgreesWithTheJoin: on the fixture RestoreAction.events and the webhooks'
// actor are tested with (eventjointest), the reaper counts for each action exactly the events
// resolvers/eventjoin joins to it (each item's last finished one), so no event counts for two
// actions; an action no event joins (waiting for approval) is not settled by events. The
// schema's actions (actionModel) carry the same approval fields the reaper joins with.
func TestSettleByEventsAgreesWithTheJoin(t *testing.T) {
	t.Parallel()
	f := eventjointest.New()
	acts := fixtureActions(f)
	svc := &Service{o: Options{Log: fixtureLog{acts: acts},
		Events: func(_ context.Context, server, sid string, offset, limit int) ([]upstream.RestoreSessionEvent, error) {
			if server != "syd1" || sid != "s1" || offset >= len(f.Events) {
				return nil, nil
			}
			return f.Events[offset:min(len(f.Events), offset+limit)], nil
		}}}
	status := map[string]upstream.RestoreEventStatus{}
	for _, e := range f.Events {
		status[e.ID] = e.Status
	}
	for i, a := range acts {
		if j := joinInput(a); !reflect.DeepEqual(j, f.Actions[i]) {
			t.Fatalf("%s: joins as %+v, want %+v", a.ID, j, f.Actions[i])
		}
		if m := actionModel(a); m.NeedsApproval != f.Actions[i].NeedsApproval || !reflect.DeepEqual(m.ApprovedAt, f.Actions[i].ApprovedAt) {
			t.Fatalf("%s: schema action approval %v %v", a.ID, m.NeedsApproval, m.ApprovedAt)
		}
		// What the join gives a: each item's last finished event among those joined to it.
		last := map[string]upstream.RestoreEventStatus{}
		for _, id := range f.Joined(a.ID) {
			for _, e := range f.Events {
				if e.ID == id {
					last[e.ItemName] = e.Status
				}
			}
		}
		var want actionlog.Counts
		wantOK := true
		for _, it := range a.Items {
			switch last[it.Name] {
			case upstream.EventStatusSuccess, upstream.EventStatusWarning:
				want.Created++
			case upstream.EventStatusFailed:
				want.Failed++
			case upstream.EventStatusSkipped:
				want.Skipped++
			default:
				wantOK = false
			}
		}
		got, ok := svc.byEvents(ctx, a)
		if ok != wantOK || ok && got != want {
			t.Errorf("%s: counts %+v (%v), want %+v (%v)", a.ID, got, ok, want, wantOK)
		}
	}
	// The fixture's own expectations, spelled out: VBO skipped Budget in the second restore,
	// and that is not the first's outcome (done, with a warning, before the second began).
	for i, want := range map[int]actionlog.Counts{0: {Created: 1, Failed: 1}, 1: {Skipped: 1}} {
		if got, ok := svc.byEvents(ctx, acts[i]); !ok || got != want {
			t.Errorf("%s: counts %+v (%v), want %+v", acts[i].ID, got, ok, want)
		}
	}
}
