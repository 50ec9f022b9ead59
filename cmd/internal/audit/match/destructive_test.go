package match

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjoin"
	"github.com/vbo-gateway/vbo-gateway/resolvers/eventjointest"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// restoreEvent is a Restore item event with the source and target the simulator writes.
func restoreEvent(item, source, target string, at time.Time) upstream.RestoreSessionEvent {
	return upstream.RestoreSessionEvent{ID: "ev-" + item, Type: upstream.EventTypeRestore, Status: upstream.EventStatusSuccess,
		StartTime: at, ItemName: item, Source: source, Target: target}
}

// The event rule over the targets the simulator writes for each workload's restore (to the
// original location) and restoreTo/copyTo (elsewhere), and over the other event types.
func TestRestoresToOriginal(t *testing.T) {
	t.Parallel()
	const (
		od   = "https://contoso-my.sharepoint.com/personal/jane_doe_contoso_com"
		site = "https://contoso.sharepoint.com/sites/Finance"
	)
	tests := []struct {
		name           string
		typ            upstream.RestoreEventType
		source, target string
		want           bool
	}{
		{"exchange restore: the mailbox", upstream.EventTypeRestore, `Jane Doe\Inbox\Budget`, "jane.doe@contoso.com", true},
		{"exchange restoreTo: mailbox\\folder", upstream.EventTypeRestore, `Jane Doe\Inbox\Budget`, `bob@contoso.com\Restored Items`, false},
		{"exchange restoreTo own mailbox, other folder", upstream.EventTypeRestore, `Jane Doe\Inbox\Budget`, `jane.doe@contoso.com\Restored Items`, false},
		{"empty target", upstream.EventTypeRestore, `Jane Doe\Inbox\Budget`, "", true},
		{"target of separators only", upstream.EventTypeRestore, `Jane Doe\Inbox\Budget`, ` \/ `, true},
		{"onedrive restore: the OneDrive URL", upstream.EventTypeRestore, `Jane Doe\Documents\a.docx`, od, true},
		{"onedrive restore: trailing slash", upstream.EventTypeRestore, `Jane Doe\Documents\a.docx`, od + "/", true},
		{"onedrive copyTo: URL/folder", upstream.EventTypeRestore, `Jane Doe\Documents\a.docx`, od + "/Restored", false},
		{"sharepoint restore: the site", upstream.EventTypeRestore, `Finance\Shared Documents\a.docx`, site, true},
		{"sharepoint restore: the library URL", upstream.EventTypeRestore, `Finance\Shared Documents\a.docx`, site + "/Shared%20Documents", true},
		{"sharepoint restore: the list URL", upstream.EventTypeRestore, `Finance\Tasks\Task item 1`, site + "/Lists/Tasks", true},
		{"sharepoint restoreTo: another list", upstream.EventTypeRestore, `Finance\Shared Documents\a.docx`, site + "/Archive 2020", false},
		{"sharepoint root site", upstream.EventTypeRestore, `Root\Shared Documents\a.docx`, "https://contoso.sharepoint.com", true},
		{"teams restore: the team", upstream.EventTypeRestore, `Sales\General\Hello`, "sales@contoso.com", true},
		{"teams restore: team\\channel", upstream.EventTypeRestore, `Sales\General\Hello`, `sales@contoso.com\General`, true},
		{"teams restore: another channel", upstream.EventTypeRestore, `Sales\General\Hello`, `sales@contoso.com\Random`, false},
		{"inside target deeper than the item", upstream.EventTypeRestore, `Jane Doe\Inbox`, `jane.doe@contoso.com\Inbox\Sub`, false},
		{"no source, inside target", upstream.EventTypeRestore, "", `bob@contoso.com\Inbox`, false},
		{"case folded", upstream.EventTypeRestore, `Jane Doe\INBOX\Budget`, `JANE.DOE@contoso.com\inbox`, true},
		{"save never", upstream.EventTypeSave, `Jane Doe\Inbox\Budget`, "", false},
		{"send never", upstream.EventTypeSend, `Jane Doe\Inbox\Budget`, "jane.doe@contoso.com", false},
		{"export never", upstream.EventTypeExport, `Jane Doe\Inbox\Budget`, "Jane Doe.pst", false},
		{"view never", upstream.EventTypeView, `Jane Doe\Inbox\Budget`, "", false},
	}
	for _, tc := range tests {
		e := restoreEvent("Budget", tc.source, tc.target, sydneyDay)
		e.Type = tc.typ
		if got := RestoresToOriginal(&e); got != tc.want {
			t.Errorf("%s: RestoresToOriginal(source %q, target %q) = %v, want %v", tc.name, tc.source, tc.target, got, tc.want)
		}
	}
}

// JoinAction places an item event on the gateway action that wrote it: same kind, inside the
// action's window, by item name first; a single action of the kind in the window otherwise;
// never a guess between several.
func TestJoinAction(t *testing.T) {
	t.Parallel()
	t0 := sydneyDay
	done := t0.Add(10 * time.Second)
	restore := ItemAction{ID: "a-orig", Kind: ActionRestoreToOriginal, Person: "carol", At: t0, CompletedAt: &done,
		Items: []ActionItem{{ID: "i1", Name: "Budget"}}}
	restoreTo := ItemAction{ID: "a-to", Kind: ActionRestoreTo, Person: "dave", At: t0, CompletedAt: &done,
		Items: []ActionItem{{ID: "i2", Name: "Minutes"}}}
	download := ItemAction{ID: "a-dl", Kind: ActionDownload, Person: "erin", At: t0, CompletedAt: &done,
		Items: []ActionItem{{ID: "i1", Name: "Budget"}}}
	folder := ItemAction{ID: "a-folder", Kind: ActionRestoreTo, Person: "frank", At: t0.Add(time.Hour),
		Items: []ActionItem{{ID: "f", Name: "Inbox"}}}
	later := ItemAction{ID: "a-later", Kind: ActionRestoreToOriginal, Person: "gina", At: t0.Add(5 * time.Second), CompletedAt: &done,
		Items: []ActionItem{{ID: "i1", Name: "budget"}}}
	waiting := ItemAction{ID: "a-waiting", Kind: ActionRestoreToOriginal, At: t0, NeedsApproval: true, Items: []ActionItem{{ID: "i1", Name: "Budget"}}}
	approvedAt := t0.Add(time.Hour - time.Second)
	approved := ItemAction{ID: "a-approved", Kind: ActionRestoreToOriginal, At: t0.Add(-time.Hour), NeedsApproval: true, ApprovedAt: &approvedAt,
		Items: []ActionItem{{ID: "i1", Name: "Budget"}}}
	ev := func(typ upstream.RestoreEventType, item string, at time.Time) *upstream.RestoreSessionEvent {
		e := restoreEvent(item, `Jane Doe\Inbox\`+item, "", at)
		e.Type = typ
		return &e
	}
	tests := []struct {
		name    string
		e       *upstream.RestoreSessionEvent
		actions []ItemAction
		want    string // action id, "" none
	}{
		{"by name among restores", ev(upstream.EventTypeRestore, "Budget", t0.Add(time.Second)), []ItemAction{restoreTo, restore}, "a-orig"},
		{"other item by name", ev(upstream.EventTypeRestore, "Minutes", t0.Add(time.Second)), []ItemAction{restoreTo, restore}, "a-to"},
		{"kind decides: save joins the download", ev(upstream.EventTypeSave, "Budget", t0.Add(time.Second)), []ItemAction{restore, download}, "a-dl"},
		{"send joins no restore", ev(upstream.EventTypeSend, "Budget", t0.Add(time.Second)), []ItemAction{restore}, ""},
		{"before the window", ev(upstream.EventTypeRestore, "Budget", t0.Add(-eventjoin.Skew-time.Second)), []ItemAction{restore}, ""},
		{"within the skew before", ev(upstream.EventTypeRestore, "Budget", t0.Add(-eventjoin.Skew)), []ItemAction{restore}, "a-orig"},
		{"after completion and skew", ev(upstream.EventTypeRestore, "Budget", done.Add(eventjoin.Skew+time.Second)), []ItemAction{restore}, ""},
		{"open window (not completed)", ev(upstream.EventTypeRestore, "Message 7", t0.Add(2*time.Hour)), []ItemAction{restore, folder}, "a-folder"},
		{"container action: the only one in the window", ev(upstream.EventTypeRestore, "Message 7", t0.Add(time.Second)), []ItemAction{restore}, "a-orig"},
		{"two unnamed in the window: no guess", ev(upstream.EventTypeRestore, "Message 7", t0.Add(time.Second)), []ItemAction{restore, restoreTo}, ""},
		{"latest begun of the named (a retry)", ev(upstream.EventTypeRestore, "Budget", t0.Add(6*time.Second)), []ItemAction{restore, later}, "a-later"},
		{"no actions", ev(upstream.EventTypeRestore, "Budget", t0), nil, ""},
		{"marker event", ev(upstream.EventTypeNone, "Budget", t0), []ItemAction{restore}, ""},
		{"awaiting approval: never reached VBO", ev(upstream.EventTypeRestore, "Budget", t0.Add(time.Second)), []ItemAction{waiting}, ""},
		{"approved: from its approval", ev(upstream.EventTypeRestore, "Budget", t0.Add(time.Hour)), []ItemAction{approved, restore}, "a-approved"},
		{"approved: not before it", ev(upstream.EventTypeRestore, "Budget", t0.Add(time.Second)), []ItemAction{approved}, ""},
	}
	for _, tc := range tests {
		got := JoinAction(tc.e, tc.actions)
		id := ""
		if got != nil {
			id = got.ID
		}
		if id != tc.want {
			t.Errorf("%s: joined %q, want %q", tc.name, id, tc.want)
		}
	}
}

// The gateway's record decides when the event joins it, the event rule otherwise.
func TestEventDestructive(t *testing.T) {
	t.Parallel()
	t0 := sydneyDay
	toOriginalLooking := restoreEvent("Budget", `Jane Doe\Inbox\Budget`, "jane.doe@contoso.com", t0)
	elsewhereLooking := restoreEvent("Budget", `Jane Doe\Inbox\Budget`, `bob@contoso.com\Restored Items`, t0)
	orig := []ItemAction{{ID: "o", Kind: ActionRestoreToOriginal, At: t0, Items: []ActionItem{{Name: "Budget"}}}}
	to := []ItemAction{{ID: "t", Kind: ActionRestoreTo, At: t0, Items: []ActionItem{{Name: "Budget"}}}}
	teams := []ItemAction{{ID: "m", Kind: ActionRestoreTo, Destructive: true, At: t0, Items: []ActionItem{{Name: "Budget"}}}}
	tests := []struct {
		name    string
		e       upstream.RestoreSessionEvent
		actions []ItemAction
		want    bool
	}{
		{"outside the gateway: the event says original", toOriginalLooking, nil, true},
		{"outside the gateway: the event says elsewhere", elsewhereLooking, nil, false},
		{"the record says original over an elsewhere-looking event", elsewhereLooking, orig, true},
		{"the record says elsewhere over an original-looking event", toOriginalLooking, to, false},
		{"an action the log marked destructive", elsewhereLooking, teams, true},
	}
	for _, tc := range tests {
		if got := EventDestructive(&tc.e, tc.actions); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The destructive condition's truth table: per event on ITEM, per session on STARTED and ENDED,
// true / false / either, with and without the gateway's record.
func TestDestructiveCondition(t *testing.T) {
	t.Parallel()
	t0 := sydneyDay
	orig := restoreEvent("Budget", `Jane Doe\Inbox\Budget`, "jane.doe@contoso.com", t0)
	elsewhere := restoreEvent("Minutes", `Jane Doe\Inbox\Minutes`, `bob@contoso.com\Restored Items`, t0)
	save := event(upstream.EventTypeSave, `Jane Doe\Inbox`, t0)
	both := []upstream.RestoreSessionEvent{orig, elsewhere, save}
	plain := session()
	// The gateway recorded a restore to the original location that VBO has not written yet
	// (awaiting approval, or refused): the session holds a destructive action.
	withAction := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice"}
		s.ItemActions = []ItemAction{{ID: "x", Kind: ActionRestoreToOriginal, Person: "alice", At: t0.Add(time.Hour)}}
	})
	cond := func(v *bool) func(*Definition) { return func(d *Definition) { d.Destructive = v } }
	yes, no := ptr(true), ptr(false)
	tests := []struct {
		name   string
		on     Trigger
		v      *bool
		s      *Session
		events []upstream.RestoreSessionEvent
		want   []string // matched event ids on ITEM; nil: no match; {} a match without events
	}{
		{"ITEM true: the restore to the original only", Item, yes, plain, both, []string{"ev-Budget"}},
		{"ITEM false: every other item event", Item, no, plain, both, []string{"ev-Minutes", "ev-save"}},
		{"ITEM either", Item, nil, plain, both, []string{"ev-Budget", "ev-Minutes", "ev-save"}},
		{"ITEM true, none destructive", Item, yes, plain, []upstream.RestoreSessionEvent{elsewhere, save}, nil},
		{"ITEM false, only destructive", Item, no, plain, []upstream.RestoreSessionEvent{orig}, nil},
		{"ENDED true, session with one", Ended, yes, plain, both, []string{}},
		{"ENDED false, session with one", Ended, no, plain, both, nil},
		{"ENDED false, session without", Ended, no, plain, []upstream.RestoreSessionEvent{elsewhere, save}, []string{}},
		{"ENDED true, session without", Ended, yes, plain, []upstream.RestoreSessionEvent{elsewhere}, nil},
		{"ENDED true, no items at all", Ended, yes, plain, nil, nil},
		{"ENDED false, no items at all", Ended, no, plain, nil, []string{}},
		{"ENDED true, only the gateway's action", Ended, yes, withAction, nil, []string{}},
		{"ENDED false, only the gateway's action", Ended, no, withAction, nil, nil},
		{"STARTED true, already holding one", Started, yes, plain, both, []string{}},
		{"STARTED false, nothing yet", Started, no, plain, nil, []string{}},
		{"STARTED true, nothing yet", Started, yes, plain, nil, nil},
	}
	for _, tc := range tests {
		r, err := Compile(def(tc.on, cond(tc.v)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !r.NeedsEvents() && tc.v != nil {
			t.Errorf("%s: NeedsEvents false with the condition set", tc.name)
		}
		m, ok, err := r.Evaluate(Input{Trigger: tc.on, Session: tc.s, Events: tc.events})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ok != (tc.want != nil) {
			t.Errorf("%s: match %v, want %v", tc.name, ok, tc.want != nil)
			continue
		}
		if !ok {
			continue
		}
		var ids []string
		for _, e := range m.Events {
			ids = append(ids, e.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: matched %v, want %v", tc.name, ids, tc.want)
		}
	}
}

// The condition is stored with the rule (JSON) and read back; absent stays absent (either).
func TestDestructiveRoundTrips(t *testing.T) {
	t.Parallel()
	for _, v := range []*bool{nil, ptr(true), ptr(false)} {
		d := def(Item, func(d *Definition) { d.Destructive = v })
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if v == nil && strings.Contains(string(b), "destructive") {
			t.Errorf("absent condition written: %s", b)
		}
		var back Definition
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.Destructive == nil) != (v == nil) || v != nil && *back.Destructive != *v {
			t.Errorf("%s: read back %v, want %v", b, back.Destructive, v)
		}
	}
}

// ITEM payloads carry, per event, whether it was destructive and who took the gateway action
// that wrote it (another person than the session's starter here); null outside the gateway.
func TestPayloadCarriesItemActor(t *testing.T) {
	t.Parallel()
	t0 := sydneyDay
	done := t0.Add(time.Minute)
	s := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1"}
		s.ItemActions = []ItemAction{{ID: "act-1", Kind: ActionRestoreToOriginal, Person: "bob", DisplayName: "Bob B", Tenant: "t1",
			At: t0, CompletedAt: &done, Items: []ActionItem{{ID: "i1", Name: "Budget"}}}}
	})
	joined := restoreEvent("Budget", `Jane Doe\Inbox\Budget`, `x@contoso.com\Elsewhere`, t0.Add(time.Second))
	unjoined := event(upstream.EventTypeSave, `Jane Doe\Inbox`, t0)
	body, err := NewPayload("wr_1", def(Item), Item, s, []upstream.RestoreSessionEvent{joined, unjoined}, t0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data struct {
			Attribution struct{ Person string }
			Events      []struct {
				Destructive bool
				Actor       *struct {
					Person, ActionID, Kind string
					DisplayName            *string
				}
			}
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Data.Attribution.Person != "alice" || len(got.Data.Events) != 2 {
		t.Fatalf("payload %s", body)
	}
	e0, e1 := got.Data.Events[0], got.Data.Events[1]
	if a := e0.Actor; a == nil || a.Person != "bob" || a.ActionID != "act-1" || a.Kind != ActionRestoreToOriginal ||
		a.DisplayName == nil || *a.DisplayName != "Bob B" || !e0.Destructive {
		t.Errorf("joined event: destructive %v actor %+v, want bob's RESTORE_TO_ORIGINAL act-1; payload %s", e0.Destructive, a, body)
	}
	if e1.Actor != nil || e1.Destructive {
		t.Errorf("unjoined save: destructive %v actor %+v, want false and null", e1.Destructive, e1.Actor)
	}
	if !strings.Contains(string(body), `"actor":null`) {
		t.Errorf("an unjoined event's actor is not written as null: %s", body)
	}
}

// TestPayloadActorAgreesWithTheJoin: on the fixture RestoreAction.events and the reaper's
// settling are tested with (eventjointest), each event's webhook actor is the action
// resolvers/eventjoin joins it to (null when none), and destructive follows that action.
func TestPayloadActorAgreesWithTheJoin(t *testing.T) {
	t.Parallel()
	f := eventjointest.New()
	s := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice", Tenant: "t1"}
		for _, a := range f.Actions {
			ia := ItemAction{ID: a.ID, Kind: string(a.Kind), Person: "by-" + a.ID, Tenant: "t1", At: a.At, CompletedAt: a.CompletedAt,
				NeedsApproval: a.NeedsApproval, ApprovedAt: a.ApprovedAt}
			for _, n := range a.Items {
				ia.Items = append(ia.Items, ActionItem{ID: "id-" + n, Name: n})
			}
			s.ItemActions = append(s.ItemActions, ia)
		}
	})
	body, err := NewPayload("wr_1", def(Item), Item, s, f.Events, eventjointest.T0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data struct {
			Events []struct {
				UpstreamID  string
				Destructive bool
				Actor       *struct{ Person, ActionID, Kind string }
			}
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Data.Events) != len(f.Events) {
		t.Fatalf("%d events in the payload, want %d", len(got.Data.Events), len(f.Events))
	}
	for _, e := range got.Data.Events {
		want := f.Want[e.UpstreamID]
		switch {
		case want == "" && e.Actor != nil:
			t.Errorf("event %s: actor %+v, want null", e.UpstreamID, e.Actor)
		case want != "" && (e.Actor == nil || e.Actor.ActionID != want || e.Actor.Person != "by-"+want):
			t.Errorf("event %s: actor %+v, want action %s", e.UpstreamID, e.Actor, want)
		}
		if wantD := want == eventjointest.Orig; want != "" && e.Destructive != wantD {
			t.Errorf("event %s: destructive %v, want %v (its action's)", e.UpstreamID, e.Destructive, wantD)
		}
	}
}

// The destructive condition and the payload's actors join a session's events to its item
// actions, each event among all of them (up to eventjoin.MaxActions, each naming up to
// restore.maxItemsPerAction items): the actions are converted and their items folded once per
// evaluation, not copied again for every event (640 MB of garbage here, per rule, in the
// archive's transaction).
func TestJoinPreparesTheActionsOnce(t *testing.T) {
	const actions, items, events = eventjoin.MaxActions, 100, 1000
	t0 := sydneyDay
	s := session(func(s *Session) {
		s.Attribution = Attribution{ThroughGateway: true, Person: "alice"}
		for i := range actions {
			a := ItemAction{ID: fmt.Sprintf("a%03d", i), Kind: ActionRestoreTo, Person: "alice", At: t0}
			for j := range items {
				a.Items = append(a.Items, ActionItem{ID: fmt.Sprint(j), Name: fmt.Sprintf("m%d-%d", i, j)})
			}
			s.ItemActions = append(s.ItemActions, a)
		}
	})
	var evs []upstream.RestoreSessionEvent
	for k := range events {
		e := restoreEvent(fmt.Sprintf("other %d", k), `Jane Doe\Inbox\x`, `bob@contoso.com\Restored Items`, t0.Add(time.Second))
		e.ID = fmt.Sprintf("e%d", k)
		evs = append(evs, e)
	}
	evs[0].ItemName = "M7-3" // a007 names it
	r, err := Compile(def(Item, func(d *Definition) { d.Destructive = ptr(false) }))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, ok, err := r.Evaluate(Input{Trigger: Item, Session: s, Events: evs})
	if err != nil || !ok || len(m.Events) != events {
		t.Fatalf("evaluate: match %v, %d events, %v", ok, len(m.Events), err)
	}
	p := NewPayload("wr_1", def(Item), Item, s, m.Events, t0)
	runtime.ReadMemStats(&after)
	if a := p.Data.Events[0].Actor; a == nil || a.ActionID != "a007" {
		t.Fatalf("the first event's actor is %+v, want a007", a)
	}
	if p.Data.Events[1].Actor != nil {
		t.Fatalf("an event no action names, in every window, has actor %+v", p.Data.Events[1].Actor)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Fatalf("one evaluation and its payload allocated %d MB for %d events and %d actions of %d items", n>>20, events, actions, items)
	}
}
