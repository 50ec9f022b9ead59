package resolvers

import (
	"testing"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

func TestRuleRights(t *testing.T) {
	t1, t2 := "t1", "t2"
	orgs := []auth.OrgRef{{Server: "syd1", OrgID: "o1"}}
	admin := auth.NewAdmin("ops")
	t1Admin := auth.NewTenantAdmin("a", "t1", orgs)
	t1Auditor := auth.NewTenantAuditor("b", "t1", orgs)
	tests := []struct {
		name         string
		p            *auth.Principal
		owner        *string
		read, manage bool
	}{
		{"admin, provider-wide", admin, nil, true, true},
		{"admin, tenant rule", admin, &t1, true, true},
		{"tenant admin, own", t1Admin, &t1, true, true},
		{"tenant admin, other tenant", t1Admin, &t2, false, false},
		{"tenant admin, provider-wide", t1Admin, nil, false, false},
		{"tenant auditor, own", t1Auditor, &t1, true, false},
		{"tenant auditor, other tenant", t1Auditor, &t2, false, false},
		{"tenant auditor, provider-wide", t1Auditor, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canReadRule(tt.p, tt.owner); got != tt.read {
				t.Errorf("read = %v, want %v", got, tt.read)
			}
			if got := canManageRule(tt.p, tt.owner); got != tt.manage {
				t.Errorf("manage = %v, want %v", got, tt.manage)
			}
		})
	}
	if o := ruleOwnersFor(t1Auditor); o.All || o.Tenant != "t1" {
		t.Errorf("auditor lists %+v", o)
	}
	if o := ruleOwnersFor(admin); !o.All {
		t.Errorf("admin lists %+v", o)
	}
}

func TestRuleMayMatch(t *testing.T) {
	owner := auth.NewTenantAdmin("a", "t1", []auth.OrgRef{{Server: "syd1", OrgID: "O1"}})
	tests := []struct {
		name        string
		owner       *auth.Principal
		server, org string
		want        bool
	}{
		{"own organisation", owner, "syd1", "o1", true},
		{"same id on another server", owner, "mel1", "o1", false},
		{"another organisation", owner, "syd1", "o2", false},
		{"detached session", owner, "syd1", "", false},
		{"tenant gone", nil, "syd1", "o1", false},
		{"provider-wide, detached", auth.NewAdmin("rules"), "syd1", "", true},
	}
	for _, tt := range tests {
		if got := RuleMayMatch(tt.owner, tt.server, tt.org); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
