package e2e_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
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
	destr, other := newHookReceiver(t), newHookReceiver(t)
	in := map[string]any{"name": "restore over the original", "url": destr.URL, "on": "ITEM", "eventTypes": []string{"RESTORE"},
		"destructive": true}
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": in}, nil)
	mustPost(t, gw, demo.AdminKey, createRule, map[string]any{"in": with(in, "name", "restore elsewhere", "url", other.URL,
		"destructive", false)}, nil)
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

	org := fleet.Config.Tenants[0].Organizations[0]
	c, ok := gw.Fleet.Get(org.Server)
	if !ok {
		t.Fatalf("no client for %s", org.Server)
	}
	var orgID string
	for _, o := range fleet.Sims[org.Server].Organizations() {
		if o.Name == org.Name {
			orgID = o.ID
		}
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
