package authn

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// When a tenant's organisation name comes to mean another organisation (the old one deleted, a
// new one of the same name added: maybe another customer's), the tenant keeps the old id.
func TestDirectoryDoesNotFollowANameToAnotherOrganisation(t *testing.T) {
	orgs := []upstream.Organization{{ID: "aaaa", Name: "Contoso"}}
	list := func(context.Context, string) ([]upstream.Organization, error) { return orgs, nil }
	d := NewDirectory([]config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Contoso"}}}},
		list, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	orgs = []upstream.Organization{{ID: "bbbb", Name: "Contoso"}}
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	refs, _ := d.Orgs("t1")
	if len(refs) != 1 || refs[0].OrgID != "aaaa" {
		t.Errorf("t1 orgs = %v, want only the original aaaa", refs)
	}
}
