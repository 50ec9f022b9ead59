package httpapi_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/resolvers/loaders"
)

// TestCostLimitsEveryRole (issue 23): which cost limits apply to each role. A tenant admin reads
// what its tenant's auditors read and gets the tenant limits (500 upstream calls, 50,000
// objects by default), not the provider's (2,500 / 250,000); a role override for the tenant
// limits applies to both tenant roles.
func TestCostLimitsEveryRole(t *testing.T) {
	t.Parallel()
	orgs := []auth.OrgRef{{Server: "s1", OrgID: "o1"}}
	principals := map[auth.Role]*auth.Principal{
		auth.RoleProviderAdmin: auth.NewAdmin("admin"),
		auth.RoleTenantAuditor: auth.NewTenantAuditor("auditor", "t1", orgs),
		auth.RoleTenantAdmin:   auth.NewTenantAdmin("tenant-admin", "t1", orgs),
	}
	provider := [2]int64{config.DefaultMaxUpstreamCalls, config.DefaultMaxResponseObjects}
	tenant := [2]int64{config.DefaultTenantUpstreamCalls, config.DefaultTenantResponseObjects}
	overridden := config.Limits{Roles: map[string]config.RoleLimits{
		config.RoleTenantAuditor: {MaxUpstreamCalls: 40, MaxResponseObjects: 400},
		config.RoleProviderAdmin: {MaxUpstreamCalls: 900, MaxResponseObjects: 9000},
	}}
	cases := []struct {
		name   string
		limits config.Limits
		want   map[auth.Role][2]int64 // upstream calls, response objects
	}{
		{"defaults", config.Limits{}, map[auth.Role][2]int64{
			auth.RoleProviderAdmin: provider, auth.RoleTenantAuditor: tenant, auth.RoleTenantAdmin: tenant}},
		{"roles overridden", overridden, map[auth.Role][2]int64{
			auth.RoleProviderAdmin: {900, 9000}, auth.RoleTenantAuditor: {40, 400}, auth.RoleTenantAdmin: {40, 400}}},
	}
	for _, c := range cases {
		b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: countingUpstream{n: &atomic.Int64{}}}}, loaders.Config{ListingTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		h := newHandler(t, httpapi.Options{Backend: b, Limits: c.limits, Authenticate: func(r *http.Request) (*auth.Principal, error) {
			return principals[auth.Role(r.Header.Get("Authorization"))], nil
		}})
		rig := &costRig{h: h}
		if len(c.want) != len(principals) {
			t.Fatalf("%s: the table covers %d roles, want every role (%d)", c.name, len(c.want), len(principals))
		}
		for role, want := range c.want {
			resp := rig.post(t, string(role), `{ viewer { role } }`, nil)
			got := resp.Extensions.Cost.Limits
			if len(resp.Errors) != 0 || got == nil {
				t.Fatalf("%s, %s: %+v", c.name, role, resp.Errors)
			}
			if [2]int64{got.UpstreamCalls, got.ResponseObjects} != want {
				t.Errorf("%s, %s: limits %d calls / %d objects, want %d / %d", c.name, role, got.UpstreamCalls, got.ResponseObjects, want[0], want[1])
			}
		}
	}
	// A refusal names the limits a tenant admin is held to, not a limits.roles entry that
	// cannot exist.
	b, err := loaders.NewBackend([]loaders.VBOServer{{Name: "s1", APIVersion: "v6", Client: countingUpstream{n: &atomic.Int64{}}}}, loaders.Config{ListingTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	rig := &costRig{h: newHandler(t, httpapi.Options{Backend: b, Limits: overridden, Authenticate: func(*http.Request) (*auth.Principal, error) {
		return principals[auth.RoleTenantAdmin], nil
	}})}
	resp := rig.post(t, "", `{ restoreSessions(first: 500) { edges { node { events(first: 500) { edges { node { type } } } } } } }`, nil)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "for TENANT_ADMIN (the tenant limits, limits.roles.TENANT_AUDITOR)") {
		t.Errorf("a tenant admin's refusal: %+v", resp.Errors)
	}
}
