package config

import (
	"strings"
	"testing"
)

// TestConfigAPIKeyPerson: auth.apiKeys[].person is optional (a key without one is its own
// person, apikey:<name>, as before); keys naming one person must be of one tenant; a person is
// printable text that does not read as a key's own identity.
func TestConfigAPIKeyPerson(t *testing.T) {
	t.Parallel()
	const tenants = "tenants:\n  - {id: t1}\n  - {id: t2}\n"
	hash := func(n int) string { return strings.Repeat("0", 62) + string(rune('0'+n/10)) + string(rune('0'+n%10)) }
	keys := func(lines ...string) string {
		s := cfgtServers + tenants + "auth:\n  apiKeys:\n"
		for i, l := range lines {
			s += "    - {name: k" + string(rune('a'+i)) + ", sha256: " + hash(i) + ", " + l + "}\n"
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		yaml    string
		wantErr string
		persons []string // each key's person as parsed, when accepted
	}{
		{"no person: each key its own", keys("tenant: t1, role: TENANT_ADMIN", "tenant: t1, role: TENANT_ADMIN"), "",
			[]string{"", ""}},
		{"two keys of one person", keys("tenant: t1, role: TENANT_ADMIN, person: alice@t1.example",
			"tenant: t1, role: RESTORE_OPERATOR, person: alice@t1.example"), "", []string{"alice@t1.example", "alice@t1.example"}},
		{"two provider keys of one person", keys("role: PROVIDER_ADMIN, person: ops-ann", "role: PROVIDER_ADMIN, person: ops-ann"), "",
			[]string{"ops-ann", "ops-ann"}},
		{"one person, two tenants", keys("tenant: t1, person: alice", "tenant: t2, person: alice"),
			`auth.apiKeys[1] (kb): person "alice" also holds key ka of tenant "t1": one person's keys are all of one tenant`, nil},
		{"one person, a tenant and the provider", keys("tenant: t1, person: alice", "tenant: t1, person: bob", "role: PROVIDER_ADMIN, person: alice"),
			`auth.apiKeys[2] (kc): person "alice" also holds key ka of tenant "t1"`, nil},
		{"one person, the provider then a tenant", keys("role: PROVIDER_ADMIN, person: alice", "tenant: t1, person: alice"),
			`person "alice" also holds key ka of the provider (no tenant)`, nil},
		{"reads as a key's identity", keys("tenant: t1, person: \"apikey:kb\"", "tenant: t1"), `reads as a key's own identity`, nil},
		{"surrounding spaces", keys("tenant: t1, person: \" alice\""), "surrounding spaces", nil},
		{"control character", keys("tenant: t1, person: \"ali\\nce\""), "printable", nil},
		{"too long", keys("tenant: t1, person: " + strings.Repeat("a", 257)), "longer than 256 bytes", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := cfgtParse(tc.yaml)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.persons {
				if got := c.Auth.APIKeys[i].Person; got != want {
					t.Errorf("key %d is person %q, want %q", i, got, want)
				}
			}
		})
	}
}
