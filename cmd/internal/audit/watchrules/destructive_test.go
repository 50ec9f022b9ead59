package watchrules

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// fakeActions is the gateway's item action record, per VBO session id; it counts lookups.
type fakeActions struct {
	mu    sync.Mutex
	by    map[string][]match.ItemAction
	calls map[string]int
	err   error
}

func (f *fakeActions) ItemActions(_ context.Context, server, vboID string) ([]match.ItemAction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[vboID]++
	if server != "syd1" {
		return nil, errors.New("unexpected server " + server)
	}
	return f.by[vboID], f.err
}

// The condition is stored with the rule and read back (Create, Get, List, Update), on every
// trigger; absent reads back null.
func TestDestructiveStoredAndReadBack(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			ctx := context.Background()
			rcv := newReceiver(t, nil)
			for _, tc := range []struct {
				on model.WatchTrigger
				v  *bool
			}{{model.WatchTriggerItem, ptr(true)}, {model.WatchTriggerEnded, ptr(false)}, {model.WatchTriggerStarted, nil}} {
				c := e.create(nil, rule(rcv.URL+"/x", tc.on, func(in *model.WatchRuleInput) { in.Destructive = tc.v }))
				got, err := e.svc.Get(ctx, c.Rule.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range []*model.WatchRule{c.Rule, got} {
					if !sameBool(r.Destructive, tc.v) {
						t.Errorf("%s rule reads back destructive %v, want %v", tc.on, show(r.Destructive), show(tc.v))
					}
				}
				flipped := ptr(tc.v == nil || !*tc.v)
				up, err := e.svc.Update(ctx, c.Rule.ID, rule(rcv.URL+"/x", tc.on, func(in *model.WatchRuleInput) { in.Destructive = flipped }))
				if err != nil {
					t.Fatal(err)
				}
				if !sameBool(up.Destructive, flipped) {
					t.Errorf("%s rule updated to destructive %v, reads back %v", tc.on, *flipped, show(up.Destructive))
				}
			}
			list, err := e.svc.List(ctx, resolvers.RuleOwners{All: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 3 {
				t.Fatalf("listed %d rules, want 3", len(list))
			}
			for _, r := range list {
				if r.Destructive == nil {
					t.Errorf("listed rule %s lost its condition", r.Name)
				}
			}
		})
	}
}

// ITEM rules with destructive: a session outside the gateway is judged by the events alone (the
// restore to the mailbox is destructive, the restore to mailbox\folder and the save are not);
// a session through the gateway by the gateway's record (its restore to the original location,
// taken by bob in alice's session, whatever the event's target says), and its payload names bob
// as the actor. The record is looked up only for sessions through the gateway, once per change.
func TestDestructiveItemRules(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			done := t0.Add(time.Minute)
			fa := &fakeActions{by: map[string][]match.ItemAction{"gw": {{ID: "act-1", Kind: match.ActionRestoreToOriginal,
				Person: "bob", DisplayName: "Bob B", Tenant: "t1", At: t0, CompletedAt: &done,
				Items: []match.ActionItem{{ID: "i1", Name: "Budget"}}}}}}
			e := newEnv(t, eng.Options(t), envOpts{actions: fa})
			ctx := context.Background()
			rcv := newReceiver(t, nil)
			yes, no := true, false
			destr := e.create(nil, rule(rcv.URL+"/d", model.WatchTriggerItem, func(in *model.WatchRuleInput) { in.Destructive = &yes }))
			other := e.create(nil, rule(rcv.URL+"/o", model.WatchTriggerItem, func(in *model.WatchRuleInput) { in.Destructive = &no }))

			ev := func(id string, typ upstream.RestoreEventType, item, target string, order int) upstream.RestoreSessionEvent {
				return upstream.RestoreSessionEvent{ID: id, Type: typ, Status: upstream.EventStatusSuccess, Order: order,
					StartTime: t0.Add(time.Duration(order) * time.Second), ItemName: item, Source: `Jane Doe\Inbox\` + item, Target: target}
			}
			outsideEvents := []upstream.RestoreSessionEvent{
				ev("o1", upstream.EventTypeRestore, "Budget", "jane.doe@contoso.com", 0),
				ev("o2", upstream.EventTypeRestore, "Minutes", `bob@contoso.com\Restored Items`, 1),
				ev("o3", upstream.EventTypeSave, "Budget", "Jane Doe.msg", 2),
			}
			// Through the gateway the record says bob restored Budget to the original: the
			// event's target (looking like "elsewhere") does not decide.
			gwEvents := []upstream.RestoreSessionEvent{
				ev("g1", upstream.EventTypeRestore, "Budget", `jane.doe@contoso.com\Budget folder`, 0),
			}
			alice := store.Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1", Reason: "ticket 42"}
			for _, c := range []store.Change{
				{Session: store.Session{Server: "syd1", Session: session("out", true), OrgID: "org-1", EventsRead: 3}, NewEvents: outsideEvents, Attribution: &store.Attribution{}},
				{Session: store.Session{Server: "syd1", Session: session("gw", true), OrgID: "org-1", EventsRead: 1}, NewEvents: gwEvents, Attribution: &alice},
			} {
				if err := e.st.Archive(ctx, e.lease, []store.Change{c}, store.Checkpoint{}, e.svc.Hook); err != nil {
					t.Fatal(err)
				}
			}
			type evOut struct {
				UpstreamID  string `json:"upstreamId"`
				Destructive bool   `json:"destructive"`
				Actor       *struct {
					Person, ActionID, Kind string
				} `json:"actor"`
			}
			payloads := func(r *model.WatchRuleCreated) map[string][]evOut {
				out := map[string][]evOut{}
				for _, d := range e.deliveries(r.Rule.ID) {
					id, _ := gid.Parse(*d.SessionID)
					var p struct {
						Data struct{ Events []evOut } `json:"data"`
					}
					if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
						t.Fatal(err)
					}
					out[id.Upstream] = p.Data.Events
				}
				return out
			}
			ids := func(evs []evOut) (s []string) {
				for _, e := range evs {
					s = append(s, e.UpstreamID)
				}
				return s
			}
			d, o := payloads(destr), payloads(other)
			if got := ids(d["out"]); len(got) != 1 || got[0] != "o1" {
				t.Errorf("destructive rule, outside session: events %v, want [o1]", got)
			}
			if got := ids(o["out"]); len(got) != 2 || got[0] != "o2" || got[1] != "o3" {
				t.Errorf("non-destructive rule, outside session: events %v, want [o2 o3]", got)
			}
			if got := d["gw"]; len(got) != 1 || got[0].UpstreamID != "g1" || !got[0].Destructive || got[0].Actor == nil ||
				got[0].Actor.Person != "bob" || got[0].Actor.ActionID != "act-1" || got[0].Actor.Kind != match.ActionRestoreToOriginal {
				t.Errorf("destructive rule, gateway session: %+v, want g1 by bob (act-1)", got)
			}
			if _, ok := o["gw"]; ok {
				t.Errorf("non-destructive rule fired for the gateway's restore to the original location: %+v", o["gw"])
			}
			for _, evs := range [][]evOut{d["out"], o["out"]} {
				for _, x := range evs {
					if x.Actor != nil {
						t.Errorf("an event outside the gateway names an actor: %+v", x)
					}
				}
			}
			fa.mu.Lock()
			defer fa.mu.Unlock()
			if fa.calls["out"] != 0 || fa.calls["gw"] != 1 {
				t.Errorf("lookups %v, want one for gw and none for out", fa.calls)
			}
		})
	}
}

// A failing lookup fails the archive transaction (the watcher retries it): a destructive
// rule never silently misjudges a session through the gateway.
func TestItemActionsLookupErrorFailsTheArchive(t *testing.T) {
	e := newEnv(t, storetest.Engines()[0].Options(t), envOpts{actions: &fakeActions{err: errors.New("boom")}})
	rcv := newReceiver(t, nil)
	e.create(nil, rule(rcv.URL+"/d", model.WatchTriggerItem, func(in *model.WatchRuleInput) { in.Destructive = ptr(true) }))
	c := store.Change{Session: store.Session{Server: "syd1", Session: session("gw", true), OrgID: "org-1", EventsRead: 2},
		NewEvents: itemEvents(2), Attribution: &store.Attribution{ThroughGateway: true, Person: "alice"}}
	err := e.st.Archive(context.Background(), e.lease, []store.Change{c}, store.Checkpoint{}, e.svc.Hook)
	if err == nil {
		t.Fatal("archive succeeded although the item actions could not be read")
	}
}

func sameBool(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(b *bool) any {
	if b == nil {
		return "null"
	}
	return *b
}
