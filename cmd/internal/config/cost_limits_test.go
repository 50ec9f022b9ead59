package config

import (
	"strings"
	"testing"
)

func TestCostLimitsPerRole(t *testing.T) {
	cases := []struct {
		name          string
		yaml          string
		admin, tenant RoleLimits
		mode          string
	}{
		{"defaults", cfgtServers,
			RoleLimits{DefaultMaxUpstreamCalls, DefaultMaxResponseObjects},
			RoleLimits{DefaultTenantUpstreamCalls, DefaultTenantResponseObjects}, CostEnforce},
		{"top level applies to admins; tenants keep their defaults", cfgtServers + `
limits: {maxUpstreamCalls: 4000, maxResponseObjects: 400000, costMode: measure}
`, RoleLimits{4000, 400000}, RoleLimits{DefaultTenantUpstreamCalls, DefaultTenantResponseObjects}, CostMeasure},
		{"a role override, the rest from the top level", cfgtServers + `
limits:
  maxResponseObjects: 300000
  roles:
    TENANT_AUDITOR: {maxUpstreamCalls: 100}
    PROVIDER_ADMIN: {maxUpstreamCalls: 9000}
`, RoleLimits{9000, 300000}, RoleLimits{100, DefaultTenantResponseObjects}, CostEnforce},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := cfgtMustParse(t, tc.yaml).Limits.WithDefaults()
			if err := l.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := l.CostLimits(RoleProviderAdmin); got != tc.admin {
				t.Errorf("admin = %+v, want %+v", got, tc.admin)
			}
			if got := l.CostLimits(RoleTenantAuditor); got != tc.tenant {
				t.Errorf("tenant = %+v, want %+v", got, tc.tenant)
			}
			if l.CostMode != tc.mode {
				t.Errorf("costMode = %q", l.CostMode)
			}
		})
	}
}

func TestCostLimitsInvalid(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"maxComplexity is gone":     {"limits: {maxComplexity: 5000}", "replaced by limits.maxUpstreamCalls"},
		"unknown cost mode":         {"limits: {costMode: warn}", "limits.costMode"},
		"unknown role":              {"limits: {roles: {AUDITOR: {maxUpstreamCalls: 5}}}", `unknown role "AUDITOR"`},
		"negative role limit":       {"limits: {roles: {TENANT_AUDITOR: {maxResponseObjects: -1}}}", "limits.roles.TENANT_AUDITOR"},
		"negative maxSelections":    {"limits: {maxSelections: -5}", "limits.maxSelections"},
		"negative maxUpstreamCalls": {"limits: {maxUpstreamCalls: -1}", "limits.maxUpstreamCalls"},
	} {
		t.Run(name, func(t *testing.T) {
			l := cfgtMustParse(t, cfgtServers+tc.yaml+"\n").Limits.WithDefaults()
			if err := l.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
