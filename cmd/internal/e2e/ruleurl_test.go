package e2e_test

import (
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// L7 and L4 over GraphQL: a rule URL's query string is redacted for the tenant's auditor and
// whole for its admin and the provider; a URL with port 0 or 99999 is refused as bad input.
func TestWatchRuleURLOverGraphQL(t *testing.T) {
	t.Parallel()
	_, gw := rulesGateway(t, 0)
	const secretURL = "http://127.0.0.1:9/hook?token=s3cret"
	in := map[string]any{"name": "tokens in the query", "url": secretURL, "on": "STARTED"}
	for _, port := range []string{"0", "99999"} {
		r := post(t, gw, t1AdminKey, createRule, map[string]any{"in": with(in, "url", "http://127.0.0.1:"+port+"/hook")})
		if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "port "+port+" is not in 1..65535") {
			t.Fatalf("port %s: %+v", port, r.Errors)
		}
	}
	mustPost(t, gw, t1AdminKey, createRule, map[string]any{"in": in}, nil)
	for _, tt := range []struct{ who, key, want string }{
		{"tenant admin", t1AdminKey, secretURL},
		{"provider admin", demo.AdminKey, secretURL},
		{"tenant auditor", demo.TenantKeyPrefix + "1", "http://127.0.0.1:9/hook?…"},
	} {
		var l struct{ WatchRules []struct{ URL string } }
		mustPost(t, gw, tt.key, `{ watchRules { url } }`, nil, &l)
		if len(l.WatchRules) != 1 || l.WatchRules[0].URL != tt.want {
			t.Errorf("%s sees %+v, want one rule with url %q", tt.who, l.WatchRules, tt.want)
		}
	}
}
