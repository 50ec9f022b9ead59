package auth_test

import (
	"context"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func TestAuthPrincipalAdminSeesEverything(t *testing.T) {
	p := auth.NewAdmin("alice")
	if !p.SeesAll() || !p.IsAdmin() || p.Role != auth.RoleProviderAdmin || p.Tenant != "" || p.Subject != "alice" {
		t.Fatalf("admin = %+v", p)
	}
	if !p.CanSeeOrg("syd1", "any-org") || !p.CanSeeServer("any-server") {
		t.Fatal("admin must see every server and organisation")
	}
}

func TestAuthPrincipalTenantAuditorScope(t *testing.T) {
	p := auth.NewTenantAuditor("bob", "t1", []auth.OrgRef{
		{Server: "syd1", OrgID: "AAAA-1111"},
		{Server: "mel1", OrgID: "bbbb-2222"},
	})
	if p.SeesAll() || p.IsAdmin() || p.Role != auth.RoleTenantAuditor || p.Tenant != "t1" {
		t.Fatalf("auditor = %+v", p)
	}
	if n := p.OrgCount(); n != 2 {
		t.Errorf("OrgCount = %d, want 2", n)
	}
	for _, c := range []struct {
		server, org string
		want        bool
	}{
		{"syd1", "aaaa-1111", true},
		{"syd1", "AAAA-1111", true}, // upstream ids compare case-insensitively
		{"mel1", "BBBB-2222", true},
		{"mel1", "aaaa-1111", false}, // right id, wrong server
		{"syd1", "bbbb-2222", false},
		{"akl1", "aaaa-1111", false},
		{"syd1", "", false},
	} {
		if got := p.CanSeeOrg(c.server, c.org); got != c.want {
			t.Errorf("CanSeeOrg(%s, %s) = %v, want %v", c.server, c.org, got, c.want)
		}
	}
	for server, want := range map[string]bool{"syd1": true, "mel1": true, "akl1": false, "": false} {
		if got := p.CanSeeServer(server); got != want {
			t.Errorf("CanSeeServer(%q) = %v, want %v", server, got, want)
		}
	}
}

func TestAuthPrincipalTenantWithoutOrgsSeesNothing(t *testing.T) {
	p := auth.NewTenantAuditor("carol", "t-empty", nil)
	if p.SeesAll() || p.CanSeeServer("syd1") || p.CanSeeOrg("syd1", "x") {
		t.Fatal("a tenant with no organisations must see nothing")
	}
}

func TestAuthPrincipalNilSeesNothing(t *testing.T) {
	var p *auth.Principal
	if p.SeesAll() || p.IsAdmin() || p.CanSeeOrg("syd1", "x") || p.CanSeeServer("syd1") {
		t.Fatal("a nil principal must see nothing")
	}
}

func TestAuthPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if auth.FromContext(ctx) != nil {
		t.Fatal("empty context has a principal")
	}
	p := auth.NewAdmin("alice")
	if got := auth.FromContext(auth.WithPrincipal(ctx, p)); got != p {
		t.Fatalf("FromContext = %v, want %v", got, p)
	}
}
