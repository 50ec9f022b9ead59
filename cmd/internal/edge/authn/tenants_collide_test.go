package authn_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Issue 11 item 12: a name that several organisations of a server carry (here "Contoso" and
// "contoso", two customers) resolves to neither: either may be another customer's, so the
// operator must configure the id. By id, each tenant gets its own.
func TestDirectoryCollidingNamesNeedAnID(t *testing.T) {
	f := newFakeOrgs()
	f.set(func(f *fakeOrgs) {
		f.orgs["syd1"] = append(f.orgs["syd1"], upstream.Organization{ID: "33333333-cccc-0000-0000-000000000001", Name: "contoso"})
	})
	for _, name := range []string{"Contoso", "contoso", "CONTOSO"} {
		d := authn.NewDirectory([]config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: name}}}},
			f.list, false, slog.New(slog.DiscardHandler))
		if err := d.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "configure the id") {
			t.Errorf("name %q: Refresh error = %v, want one asking for the id", name, err)
		}
		if refs, ok := d.Orgs("t1"); ok && len(refs) > 0 {
			t.Errorf("name %q resolved to %v", name, refs)
		}
	}
	d := authn.NewDirectory([]config.Tenant{
		{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", ID: "11111111-AAAA-0000-0000-000000000001"}}},
		{ID: "t2", Organizations: []config.TenantOrg{{Server: "syd1", ID: "33333333-cccc-0000-0000-000000000001"}}},
	}, f.list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := mustOrgs(t, d, "t2"); !slices.Equal(got, []auth.OrgRef{{Server: "syd1", OrgID: "33333333-cccc-0000-0000-000000000001"}}) {
		t.Errorf("t2 by id = %v", got)
	}
}
