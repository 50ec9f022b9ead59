package watchrules

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// startedOutsideGateway against the watcher's join: a session decided outside fires the
// "outside" rules once; a session archived pending fires nothing while pending, then, decided
// through the gateway (a later Archive), only the "through" rules and the unconditional one
// (its STARTED evaluated late, the payload carrying the person), or, decided outside
// (Attribute), the "outside" rules, the ITEM one with the events seen while it was pending.
// Archiving it again never fires twice. The rule's condition reads back. On each engine.
func TestStartedOutsideGatewayWaitsForTheJoin(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnv(t, eng.Options(t), envOpts{})
			ctx := context.Background()
			rcv := newReceiver(t, nil) // not started: the deliveries are only recorded
			yes, no := true, false
			outside := e.create(nil, rule(rcv.URL+"/a", model.WatchTriggerStarted,
				func(in *model.WatchRuleInput) { in.StartedOutsideGateway = &yes }))
			through := e.create(nil, rule(rcv.URL+"/b", model.WatchTriggerStarted,
				func(in *model.WatchRuleInput) { in.StartedOutsideGateway = &no }))
			outsideItems := e.create(nil, rule(rcv.URL+"/c", model.WatchTriggerItem,
				func(in *model.WatchRuleInput) { in.StartedOutsideGateway = &yes }))
			any := e.create(nil, rule(rcv.URL+"/d", model.WatchTriggerStarted))
			if got := outside.Rule.StartedOutsideGateway; got == nil || !*got {
				t.Fatalf("rule reads back startedOutsideGateway %v, want true", got)
			}
			if got := any.Rule.StartedOutsideGateway; got != nil {
				t.Fatalf("rule without the condition reads back %v, want null", *got)
			}
			clockTick(t, e.st) // sessions first seen after the rules
			alice := store.Attribution{ThroughGateway: true, Person: "alice", DisplayName: "Alice A", Tenant: "t1", Reason: "ticket 42"}
			put := func(id string, read int, a *store.Attribution) {
				t.Helper()
				c := store.Change{Session: store.Session{Server: "syd1", Session: session(id, true), OrgID: "org-1", EventsRead: read},
					NewEvents: itemEvents(read), Attribution: a}
				if err := e.st.Archive(ctx, e.lease, []store.Change{c}, store.Checkpoint{}, e.svc.Hook); err != nil {
					t.Fatal(err)
				}
			}
			sessionsOf := func(r *model.WatchRuleCreated) map[string]string { // session -> payload
				out := map[string]string{}
				for _, d := range e.deliveries(r.Rule.ID) {
					id, _ := gid.Parse(*d.SessionID)
					out[id.Upstream] = d.Payload
				}
				return out
			}
			put("out", 0, &store.Attribution{})
			put("gw", 2, &store.Attribution{Pending: true})
			put("late", 2, &store.Attribution{Pending: true})
			for _, r := range []*model.WatchRuleCreated{outside, through, outsideItems, any} {
				if got := sessionsOf(r); len(got) > 1 || len(got) == 1 && got["out"] == "" {
					t.Fatalf("rule %s fired for a pending session: %v", r.Rule.Name, got)
				}
			}
			put("gw", 2, &alice) // the START was answered: the session is alice's
			if err := e.st.Attribute(ctx, e.lease, map[string]store.Attribution{"late": {}}, e.svc.Hook); err != nil {
				t.Fatal(err)
			}
			put("gw", 2, &alice) // seen again: nothing new
			put("late", 2, &store.Attribution{})

			want := map[*model.WatchRuleCreated][]string{
				outside: {"out", "late"}, through: {"gw"}, outsideItems: {"late"}, any: {"out", "gw", "late"},
			}
			for r, ids := range want {
				got := sessionsOf(r)
				if len(got) != len(ids) {
					t.Errorf("rule %s fired for %d sessions %v, want %v", r.Rule.Name, len(got), keys(got), ids)
				}
				for _, id := range ids {
					if _, ok := got[id]; !ok {
						t.Errorf("rule %s did not fire for %s (fired for %v)", r.Rule.Name, id, keys(got))
					}
				}
			}
			var p struct {
				Data struct {
					Attribution struct {
						ThroughGateway bool
						Person, Reason *string
					} `json:"attribution"`
					Events []json.RawMessage `json:"events"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(sessionsOf(through)["gw"]), &p); err != nil {
				t.Fatal(err)
			}
			if a := p.Data.Attribution; !a.ThroughGateway || a.Person == nil || *a.Person != "alice" || a.Reason == nil || *a.Reason != "ticket 42" {
				t.Errorf("payload attribution %+v, want alice's", a)
			}
			if err := json.Unmarshal([]byte(sessionsOf(outsideItems)["late"]), &p); err != nil {
				t.Fatal(err)
			}
			if p.Data.Attribution.ThroughGateway || len(p.Data.Events) != 2 {
				t.Errorf("ITEM payload after a late decision: attribution %+v, %d events, want outside and 2", p.Data.Attribution, len(p.Data.Events))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
