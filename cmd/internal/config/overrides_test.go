package config

import "testing"

// --allow-missing (Overrides.AllowMissing) turns an unknown tenant server into a warning.
func TestOverridesAllowMissing(t *testing.T) {
	const yaml = `
servers:
  - {name: syd1, url: "http://127.0.0.1:4443", username: svc, passwordEnv: PW}
tenants:
  - id: contoso
    organizations: [{server: gone1, name: Contoso}]
`
	env := func(string) (string, bool) { return "pw", true }
	if _, err := Parse([]byte(yaml), env, nil); err == nil {
		t.Fatal("unknown tenant server accepted without AllowMissing")
	}
	c, err := Parse([]byte(yaml), env, nil, Overrides{AllowMissing: true})
	if err != nil {
		t.Fatalf("with AllowMissing: %v", err)
	}
	if !c.Auth.AllowMissing {
		t.Error("AllowMissing not recorded in the config")
	}
}
