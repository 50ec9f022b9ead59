package upstream_test

import (
	"context"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/upstream"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

// TestRestoreAgainstSimulator: explore, browse mailboxes -> folders -> items, search, stop, on
// the simulator of both versions (its contract test checks these requests against the OpenAPI
// documents).
func TestRestoreAgainstSimulator(t *testing.T) {
	for _, version := range []string{"v6", "v8"} {
		t.Run(version, func(t *testing.T) {
			_, c := startSim(t, vbosim.Options{APIVersion: version, Seed: 7, Orgs: 3, Sessions: 10})
			ctx := context.Background()
			orgs, err := c.Organizations(ctx)
			if err != nil || len(orgs) == 0 {
				t.Fatalf("organizations: %v", err)
			}
			s, _, err := c.Explore(ctx, orgs[0].ID, upstream.ExploreOptions{Type: upstream.ExploreExchange})
			if err != nil {
				t.Fatalf("explore: %v", err)
			}
			if s.State != upstream.SessionStateWorking {
				t.Errorf("state %s", s.State)
			}
			mbx, _, err := c.Browse(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailboxes}, upstream.ListOptions{Limit: 5})
			if err != nil || len(mbx.Results) == 0 {
				t.Fatalf("mailboxes: %v %+v", err, mbx)
			}
			m := mbx.Results[0]
			folders, _, err := c.Browse(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailFolders, ContainerID: m.ID}, upstream.ListOptions{Limit: 50})
			if err != nil || len(folders.Results) == 0 {
				t.Fatalf("folders: %v %+v", err, folders)
			}
			items, _, err := c.Browse(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: m.ID, ParentID: folders.Results[0].ID}, upstream.ListOptions{Limit: 10})
			if err != nil || len(items.Results) == 0 {
				t.Fatalf("items: %v %+v", err, items)
			}
			for _, it := range items.Results {
				if it.ID == "" {
					t.Errorf("item without id: %+v", it)
				}
			}
			found, _, err := c.Search(ctx, s.ID, upstream.BrowseRef{Kind: upstream.BrowseMailItems, ContainerID: m.ID}, "a", upstream.ListOptions{Limit: 10})
			if err != nil || found == nil {
				t.Fatalf("search: %v", err)
			}
			if _, err := c.StopRestoreSession(ctx, s.ID); err != nil {
				t.Fatalf("stop: %v", err)
			}
			got, _, err := c.RestoreSession(ctx, s.ID)
			if err != nil || got.State != upstream.SessionStateStopped {
				t.Fatalf("after stop: %v %+v", err, got)
			}
		})
	}
}
