package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// The destructive condition end to end, outside the gateway: with the watch on, a restore
// session driven on the simulator directly (the upstream client, as Veeam's own tools would)
// restores one message to its original location and another to a different mailbox. The
// destructive:true ITEM rule fires exactly for the first, the destructive:false one exactly for
// the second (both on RESTORE events, so browsing's View events do not count); neither event
// names an actor (no gateway action wrote them).
func TestDestructiveRulesOutsideTheGateway(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 10)
	waitBackfill(t, gw)
	destr, other := destructiveRules(t, gw)
	var rules struct {
		WatchRules []struct {
			Name        string
			Destructive *bool
		}
	}
	mustPost(t, gw, demo.AdminKey, `{ watchRules { name destructive } }`, nil, &rules)
	read := map[string]any{}
	for _, r := range rules.WatchRules {
		if r.Destructive != nil {
			read[r.Name] = *r.Destructive
		}
	}
	if read["restore over the original"] != true || read["restore elsewhere"] != false {
		t.Fatalf("watchRules read back destructive %v", read)
	}

	org, _, orgID := tenant1Org(fleet)
	c, ok := gw.Fleet.Get(org.Server)
	if !ok {
		t.Fatalf("no client for %s", org.Server)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, _, err := c.Explore(ctx, orgID, upstream.ExploreOptions{Type: upstream.ExploreExchange})
	if err != nil {
		t.Fatalf("explore: %v", err)
	}
	mbx, _, err := c.Browse(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, upstream.ListOptions{Limit: 5})
	if err != nil || len(mbx.Results) < 2 {
		t.Fatalf("mailboxes: %v (%d)", err, len(mbx.Results))
	}
	m, elsewhere := mbx.Results[0], mbx.Results[1]
	folders, _, err := c.Browse(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailFolders, ContainerID: m.ID}, upstream.ListOptions{Limit: 50})
	if err != nil || len(folders.Results) == 0 {
		t.Fatalf("folders: %v", err)
	}
	ref := upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: m.ID, ParentID: folders.Results[0].ID}
	items, _, err := c.Browse(ctx, s.ID, ref, upstream.ListOptions{Limit: 2})
	if err != nil || len(items.Results) < 2 {
		t.Fatalf("items: %v (%d)", err, len(items.Results))
	}
	orig, copied := items.Results[0], items.Results[1]
	creds := upstream.RestoreCredentials{UserName: "admin@contoso.example", UserPassword: "not-a-secret"}
	if _, _, err := c.RestoreItemsToOriginal(ctx, s.ID, upstream.ActionItems{Ref: ref, IDs: []string{orig.ID}},
		upstream.RestoreOriginalOptions{Credentials: creds}); err != nil {
		t.Fatalf("restore to the original location: %v", err)
	}
	if _, _, err := c.RestoreItemsTo(ctx, s.ID, upstream.ActionItems{Ref: ref, IDs: []string{copied.ID}},
		upstream.RestoreTarget{Mailbox: elsewhere.Name, Credentials: &creds}); err != nil {
		t.Fatalf("restore to another mailbox: %v", err)
	}

	waitFor(t, 30*time.Second, func() bool { return destr.count() >= 1 && other.count() >= 1 }, "both rules delivered")
	time.Sleep(300 * time.Millisecond) // further polls deliver nothing more
	type event struct {
		ItemName    string
		Type        string
		Target      *string
		Destructive bool
		Actor       *json.RawMessage
	}
	events := func(r *hookReceiver) (session string, evs []event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.got) != 1 {
			t.Errorf("%d deliveries, want 1", len(r.got))
		}
		var p struct {
			Type string
			Data struct {
				UpstreamID string
				Events     []event
			}
		}
		if err := json.Unmarshal(r.got[0].body, &p); err != nil || p.Type != "restore.item" {
			t.Fatalf("payload %s: %v", r.got[0].body, err)
		}
		return p.Data.UpstreamID, p.Data.Events
	}
	for _, tc := range []struct {
		name string
		r    *hookReceiver
		item string
	}{{"destructive:true", destr, orig.Name}, {"destructive:false", other, copied.Name}} {
		id, evs := events(tc.r)
		if id != s.ID || len(evs) != 1 || evs[0].ItemName != tc.item || evs[0].Type != "RESTORE" {
			t.Errorf("%s rule delivered session %s events %+v, want %s with exactly the restore of %q", tc.name, id, evs, s.ID, tc.item)
			continue
		}
		if evs[0].Destructive != (tc.r == destr) || evs[0].Actor != nil && string(*evs[0].Actor) != "null" {
			t.Errorf("%s rule: event destructive %v actor %v", tc.name, evs[0].Destructive, evs[0].Actor)
		}
	}
}

// Through the gateway, the action log decides and names the person: alice starts the session,
// bob (another person of her tenant) restores "Budget" to its original location, and VBO's
// event for it (whose target, on its own, would read as a restore elsewhere) fires the
// destructive:true ITEM rule with bob as the event's actor and alice as the session's person;
// the destructive:false rule fires only for carol's restore elsewhere of "Minutes".
func TestDestructiveRulesThroughTheGateway(t *testing.T) {
	t.Parallel()
	fleet, gw := rulesGateway(t, 10)
	waitBackfill(t, gw)
	destr, other := destructiveRules(t, gw) // ITEM rules: no first-seen ordering to wait for (watchrules' hook)

	org, sim, orgID := tenant1Org(fleet)
	log := mustActionLog(t, gw)
	ctx := context.Background()
	person := func(p string) actionlog.Actor {
		return actionlog.Actor{Person: p, DisplayName: strings.ToUpper(p[:1]) + p[1:], Role: "RESTORE_OPERATOR", Tenant: "tenant-1"}
	}
	start, err := log.Begin(ctx, actionlog.Entry{Kind: actionlog.KindStart, Reason: "ticket 7", Server: org.Server, OrganizationID: orgID,
		SessionType: "EXCHANGE", Actor: person("alice")})
	if err != nil {
		t.Fatal(err)
	}
	s := sim.AddSession(upstream.RestoreSession{Organization: org.Name, ClientHost: "GATEWAY", InitiatedBy: "gateway-svc"})
	if _, err := log.Complete(ctx, start.ID, actionlog.Outcome{Status: actionlog.StatusSucceeded, UpstreamStatus: 201, VBOSessionID: s.ID}); err != nil {
		t.Fatal(err)
	}
	act := func(kind actionlog.Kind, who, item, target string, ev upstream.RestoreSessionEvent) {
		t.Helper()
		a, err := log.Begin(ctx, actionlog.Entry{Kind: kind, Server: org.Server, OrganizationID: orgID, GatewaySessionID: start.ID,
			VBOSessionID: s.ID, Actor: person(who), Items: []actionlog.Item{{ID: "id-" + item, Name: item}}, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		ev.Type, ev.Status, ev.ItemName, ev.Source = upstream.EventTypeRestore, upstream.EventStatusSuccess, item, `Jane Doe\Inbox\`+item
		if _, err := sim.AddEvent(s.ID, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := log.Complete(ctx, a.ID, actionlog.Outcome{Status: actionlog.StatusSucceeded, UpstreamStatus: 200}); err != nil {
			t.Fatal(err)
		}
	}
	act(actionlog.KindRestoreToOriginal, "bob", "Budget", "", upstream.RestoreSessionEvent{Target: `jane.doe@contoso.example\Budget folder`})
	act(actionlog.KindRestoreTo, "carol", "Minutes", `dave@contoso.example\Restored`, upstream.RestoreSessionEvent{Target: `dave@contoso.example\Restored`})

	waitFor(t, 30*time.Second, func() bool { return destr.count() >= 1 && other.count() >= 1 }, "both rules delivered")
	time.Sleep(300 * time.Millisecond)
	type payload struct {
		Data struct {
			UpstreamID  string
			Attribution struct{ Person *string }
			Events      []struct {
				ItemName    string
				Destructive bool
				Actor       *struct{ Person, ActionID, Kind string }
			}
		}
	}
	for _, tc := range []struct {
		r                 *hookReceiver
		item, actor, kind string
		destructive       bool
	}{{destr, "Budget", "bob", "RESTORE_TO_ORIGINAL", true}, {other, "Minutes", "carol", "RESTORE_TO", false}} {
		tc.r.mu.Lock()
		n := len(tc.r.got)
		var p payload
		err := json.Unmarshal(tc.r.got[0].body, &p)
		tc.r.mu.Unlock()
		if err != nil || n != 1 {
			t.Fatalf("%d deliveries (%v), want 1", n, err)
		}
		d := p.Data
		if d.UpstreamID != s.ID || d.Attribution.Person == nil || *d.Attribution.Person != "alice" || len(d.Events) != 1 {
			t.Errorf("%s: session %s attribution %v, %d events; want %s by alice with one event", tc.item, d.UpstreamID,
				show(d.Attribution.Person), len(d.Events), s.ID)
			continue
		}
		e := d.Events[0]
		if e.ItemName != tc.item || e.Destructive != tc.destructive || e.Actor == nil || e.Actor.Person != tc.actor ||
			e.Actor.Kind != tc.kind || e.Actor.ActionID == "" {
			t.Errorf("%s: event %+v actor %+v, want %s by %s (%s), destructive %v", tc.item, e, e.Actor, tc.item, tc.actor, tc.kind, tc.destructive)
		}
	}
}
