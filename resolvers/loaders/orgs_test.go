package loaders

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// With OrganizationsTTL, a request reads the organisation lists the background refresh kept
// (no upstream call), until they are older than the TTL; then it reads VBO and keeps what it
// read. Without it, every request reads them (the listing cache off).
func TestKeptOrganizations(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"kept", time.Minute}, {"off", 0}} {
		a := &fakeUp{orgs: []upstream.Organization{{ID: "o1", Name: "Contoso"}}}
		c := &fakeUp{orgs: []upstream.Organization{{ID: "o2", Name: "Fabrikam"}}}
		b, err := NewBackend([]VBOServer{{Name: "a", Client: a}, {Name: "c", Client: c}}, Config{ListingTTL: -1, OrganizationsTTL: tc.ttl, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		b.RefreshOrganizations(ctx)
		read := func() {
			t.Helper()
			for _, s := range []struct {
				server, want string
			}{{"a", "o1"}, {"c", "o2"}} {
				list, err := b.New().Organizations(ctx, s.server)
				if err != nil || len(list) != 1 || list[0].ID != s.want {
					t.Fatalf("%s: organisations of %s = %v, %v", tc.name, s.server, list, err)
				}
			}
		}
		calls := func() int { return a.n("orgs") + c.n("orgs") }
		base := calls()
		read()
		read()
		_, kept := b.OrganizationsAsOf("a")
		if tc.ttl > 0 && (base != 2 || calls() != 2 || !kept) {
			t.Errorf("%s: %d calls to refresh, %d after two requests (want 2, 2), kept %v", tc.name, base, calls(), kept)
		}
		if tc.ttl == 0 && (base != 0 || calls() != 4 || kept) {
			t.Errorf("%s: %d calls to refresh, %d after two requests (want 0, 4), kept %v", tc.name, base, calls(), kept)
		}
		if tc.ttl > 0 {
			advance(tc.ttl + time.Second) // expired: the request reads VBO, and keeps it
			if _, ok := b.OrganizationsAsOf("a"); ok {
				t.Errorf("%s: an expired list reported as kept", tc.name)
			}
			read()
			read()
			if calls() != 4 {
				t.Errorf("%s: %d calls after the lists expired, want 4", tc.name, calls())
			}
		}
	}
}
