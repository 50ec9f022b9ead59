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
