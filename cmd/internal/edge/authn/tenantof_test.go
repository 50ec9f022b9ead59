package authn_test

import (
	"context"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
)

// TenantOf is the reverse of the directory: the tenant an organisation's sessions roll up under
// (restoreAudit grouped by TENANT). Names and ids resolve as the scope does; an organisation no
// tenant owns, a detached session and an unknown server have none; an organisation two tenants
// name goes to the tenant whose id sorts first, whatever the configuration's order.
func TestDirectoryTenantOf(t *testing.T) {
	t.Parallel()
	const contoso, fabrikam, northwind = "11111111-AAAA-0000-0000-000000000001", "11111111-aaaa-0000-0000-000000000002", "22222222-bbbb-0000-0000-000000000001"
	tenants := []config.Tenant{
		{ID: "zeta", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Contoso"}, {Server: "mel1", ID: northwind}}},
		{ID: "alpha", Organizations: []config.TenantOrg{{Server: "mel1", ID: northwind}}},
	}
	d := authn.NewDirectory(tenants, newFakeOrgs().list, false, nil)
	if _, ok := d.TenantOf("syd1", contoso); ok {
		t.Fatal("a name resolves before the directory is refreshed")
	}
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, server, org string
		want              string
	}{
		{"by name, id in another case", "syd1", "11111111-aaaa-0000-0000-000000000001", "zeta"},
		{"by name, the listing's case", "syd1", contoso, "zeta"},
		{"shared: the smallest id", "mel1", northwind, "alpha"},
		{"shared, upper case", "mel1", "22222222-BBBB-0000-0000-000000000001", "alpha"},
		{"no tenant owns it", "syd1", fabrikam, ""},
		{"detached", "syd1", "", ""},
		{"the id on another server", "mel1", contoso, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := d.TenantOf(tt.server, tt.org)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("TenantOf(%s, %s) = %q, %v; want %q", tt.server, tt.org, got, ok, tt.want)
			}
		})
	}
	var nilDir *authn.Directory
	if _, ok := nilDir.TenantOf("syd1", contoso); ok {
		t.Error("a nil directory knows a tenant")
	}
	// Offline, organisations given by id are known at once.
	off := authn.NewDirectory(tenants, newFakeOrgs().list, true, nil)
	off.ResolveOffline(nil)
	if got, _ := off.TenantOf("mel1", northwind); got != "alpha" {
		t.Errorf("offline: %q", got)
	}
}
