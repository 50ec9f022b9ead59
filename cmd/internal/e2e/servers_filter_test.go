package e2e_test

import (
	"strings"
	"testing"
)

// An admin's filter naming a server the gateway does not have answers BAD_USER_INPUT listing
// the servers (a typo must not read as "no restores"); a tenant's narrows to nothing, exactly
// like a server it cannot see.
func TestServerFilterNamingAnUnknownServer(t *testing.T) {
	t.Parallel()
	g := startCostGateway(t, 3, 60, false)
	for _, q := range []string{
		`{ restoreSessions(filter: {servers: ["sydney"]}) { edges { node { id } } } }`,
		`{ organizations(filter: {servers: ["sydney"]}) { totalCount edges { node { id } } } }`,
	} {
		ans := g.post(adminKey, q, nil)
		if len(ans.Errors) != 1 || ans.Errors[0].code() != "BAD_USER_INPUT" ||
			!strings.Contains(ans.Errors[0].Message, `"sydney"`) || !strings.Contains(ans.Errors[0].Message, "syd1, mel1, akl1") {
			t.Errorf("admin %s: %+v, want BAD_USER_INPUT naming sydney and the servers", q, ans.Errors)
		}
		for _, servers := range []string{`["sydney"]`, `["akl1"]`} { // unknown; not the tenant's
			tq := strings.Replace(q, `["sydney"]`, servers, 1)
			ans := g.post(tenantKey, tq, nil)
			if len(ans.Errors) != 0 || strings.Contains(string(ans.Data), `"id"`) {
				t.Errorf("tenant %s: %+v %s, want an empty answer", tq, ans.Errors, ans.Data)
			}
		}
	}
}
