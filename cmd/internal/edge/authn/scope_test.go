package authn_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
)

// OrgInScope is the watch rules' scope check: exactly what the tenant's principal may see
// (auth.Principal.CanSeeOrg) without building one per match.
func TestDirectoryOrgInScope(t *testing.T) {
	t.Parallel()
	f := newFakeOrgs()
	d := authn.NewDirectory([]config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: "contoso"}}}},
		f.list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		tenant, server, org string
		want                bool
	}{
		{"own organisation", "t1", "syd1", "11111111-aaaa-0000-0000-000000000001", true},
		{"own organisation, other case", "t1", "syd1", "11111111-AAAA-0000-0000-000000000001", true},
		{"same id on another server", "t1", "mel1", "11111111-aaaa-0000-0000-000000000001", false},
		{"another organisation", "t1", "syd1", "11111111-aaaa-0000-0000-000000000002", false},
		{"detached session", "t1", "syd1", "", false},
		{"unknown tenant", "nobody", "syd1", "11111111-aaaa-0000-0000-000000000001", false},
	}
	for _, tt := range tests {
		if got := d.OrgInScope(tt.tenant, tt.server, tt.org); got != tt.want {
			t.Errorf("%s: OrgInScope = %v, want %v", tt.name, got, tt.want)
		}
	}
	var none *authn.Directory
	if none.OrgInScope("t1", "syd1", "x") {
		t.Error("a nil directory (no authentication) puts organisations in scope")
	}
}
