package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// cfgtEnv and cfgtFiles are fake secret sources for Parse.
func cfgtEnv(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func cfgtFiles(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

const cfgtServers = `
servers:
  - name: syd1
    url: https://vbo-syd1.example.net:4443
    username: svc
    passwordEnv: SYD1_PW
  - name: mel1
    url: http://127.0.0.1:4443
    username: svc
    passwordFile: /run/secrets/mel1
`

var (
	cfgtAdminHash  = strings.Repeat("ab", 32)
	cfgtTenantHash = strings.Repeat("CD", 32)
)

func cfgtParse(yaml string) (*Config, error) {
	return Parse([]byte(yaml), cfgtEnv(map[string]string{"SYD1_PW": "pw-syd1"}),
		cfgtFiles(map[string]string{"/run/secrets/mel1": "pw-mel1\r\n"}))
}

// cfgtParseSection parses cfgtServers followed by yaml (a section's table test). With wantErr
// set it fails t unless Parse refuses the document with an error mentioning wantErr, and
// returns nil; without, it fails t on any error.
func cfgtParseSection(t *testing.T, yaml, wantErr string) *Config {
	t.Helper()
	c, err := cfgtParse(cfgtServers + yaml)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one mentioning %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cfgtMustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := cfgtParse(yaml)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, yaml)
	}
	return c
}

func TestConfigLoadExample(t *testing.T) {
	t.Setenv("CFGTEST_SYD1_PASSWORD", "from-the-environment")
	c, err := Load("testdata/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9443" || c.IntrospectionEnabled() || c.MaxConcurrencyPerServer != 4 ||
		c.Cache.MaxBytes != 1<<20 || c.Cache.ListingTTL != 10*time.Second {
		t.Errorf("top level = %+v", c)
	}
	if len(c.Servers) != 2 {
		t.Fatalf("servers = %+v", c.Servers)
	}
	syd, mel := c.Servers[0], c.Servers[1]
	if syd.APIVersion != upstream.APIv7 || syd.password != "from-the-environment" {
		t.Errorf("syd1 = %+v", syd)
	}
	if mel.APIVersion != upstream.APIv6 || mel.password != "s3cret-mel1" {
		t.Errorf("mel1 apiVersion %q, password %q", mel.APIVersion, mel.password)
	}
	if len(c.Tenants) != 2 || len(c.Tenants[0].Organizations) != 2 || c.Tenants[0].Organizations[1].ID == "" {
		t.Errorf("tenants = %+v", c.Tenants)
	}
	if len(c.Auth.APIKeys) != 2 || c.Auth.APIKeys[1].Tenant != "contoso" {
		t.Errorf("api keys = %+v", c.Auth.APIKeys)
	}
	j := c.Auth.JWT
	if j == nil || j.ClockSkew != 30*time.Second || j.TenantClaim != "tenant" || j.RoleClaim != "role" {
		t.Errorf("jwt defaults = %+v", j)
	}
}

func TestConfigLoadErrors(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil {
		t.Error("missing file accepted")
	}
	// The example needs CFGTEST_SYD1_PASSWORD.
	t.Setenv("CFGTEST_SYD1_PASSWORD", "")
	if _, err := Load("testdata/gateway.yaml"); err == nil || !strings.Contains(err.Error(), "CFGTEST_SYD1_PASSWORD") {
		t.Errorf("empty passwordEnv: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := cfgtMustParse(t, cfgtServers)
	if c.Listen != "127.0.0.1:8080" {
		t.Errorf("listen = %q", c.Listen)
	}
	if c.MaxConcurrencyPerServer != DefaultMaxConcurrency {
		t.Errorf("maxConcurrencyPerServer = %d", c.MaxConcurrencyPerServer)
	}
	if !c.IntrospectionEnabled() {
		t.Error("introspection off by default")
	}
	for _, s := range c.Servers {
		if s.APIVersion != "v6" {
			t.Errorf("%s apiVersion = %q, want v6", s.Name, s.APIVersion)
		}
	}
	if c.Auth.JWT != nil || len(c.Auth.APIKeys) != 0 || c.Auth.AllowMissing {
		t.Errorf("auth = %+v", c.Auth)
	}
	if c.Auth.TenantRefresh != 5*time.Minute {
		t.Errorf("tenantRefresh = %v", c.Auth.TenantRefresh)
	}

	j := cfgtMustParse(t, cfgtServers+`
auth:
  jwt: {jwksURL: "https://idp/jwks", issuer: "https://idp/", audience: gw}
`).Auth.JWT
	if j.ClockSkew != 30*time.Second || j.TenantClaim != "tenant" || j.RoleClaim != "role" {
		t.Errorf("jwt defaults = %+v", j)
	}
	j = cfgtMustParse(t, cfgtServers+`
auth:
  jwt: {jwksURL: "https://idp/jwks", issuer: "https://idp/", audience: gw, clockSkew: 5s, tenantClaim: "https://gw/tenant", roleClaim: roles}
`).Auth.JWT
	if j.ClockSkew != 5*time.Second || j.TenantClaim != "https://gw/tenant" || j.RoleClaim != "roles" {
		t.Errorf("jwt overrides = %+v", j)
	}
}

func TestConfigPasswords(t *testing.T) {
	c := cfgtMustParse(t, cfgtServers)
	if c.Servers[0].password != "pw-syd1" {
		t.Errorf("passwordEnv resolved to %q", c.Servers[0].password)
	}
	if c.Servers[1].password != "pw-mel1" { // trailing CR/LF trimmed
		t.Errorf("passwordFile resolved to %q", c.Servers[1].password)
	}
	server := func(extra string) string {
		return "servers:\n  - {name: syd1, url: \"https://h:4443\", username: svc" + extra + "}\n"
	}
	for name, yaml := range map[string]string{
		"env not set":        server(", passwordEnv: NOT_SET"),
		"env empty":          server(", passwordEnv: EMPTY"),
		"file missing":       server(", passwordFile: /nope"),
		"both env and file":  server(", passwordEnv: SYD1_PW, passwordFile: /run/secrets/mel1"),
		"neither":            server(""),
		"password in YAML":   server(", passwordEnv: SYD1_PW, password: hunter2"),
		"no username":        "servers:\n  - {name: syd1, url: \"https://h:4443\", passwordEnv: SYD1_PW}\n",
		"bad url scheme":     "servers:\n  - {name: syd1, url: \"ftp://h\", username: svc, passwordEnv: SYD1_PW}\n",
		"bad apiVersion":     server(", passwordEnv: SYD1_PW, apiVersion: v5"),
		"bad fingerprint":    server(", passwordEnv: SYD1_PW, tls: {fingerprintSHA256: \"AB:CD\"}"),
		"bad server name":    "servers:\n  - {name: \"syd 1\", url: \"https://h:4443\", username: svc, passwordEnv: SYD1_PW}\n",
		"duplicate server":   server(", passwordEnv: SYD1_PW") + "  - {name: syd1, url: \"https://h2:4443\", username: svc, passwordEnv: SYD1_PW}\n",
		"no servers":         "listen: 127.0.0.1:1\n",
		"empty file":         "",
		"unknown top key":    cfgtServers + "listne: 127.0.0.1:1\n",
		"unknown server key": server(", passwordEnv: SYD1_PW, pasword: x"),
		"unknown auth key":   cfgtServers + "auth: {apikeys: []}\n",
		"unknown tenant key": cfgtServers + "tenants: [{id: t1, orgs: []}]\n",
		"not YAML":           "servers: [\n",
	} {
		_, err := Parse([]byte(yaml), cfgtEnv(map[string]string{"SYD1_PW": "pw", "EMPTY": ""}),
			cfgtFiles(map[string]string{"/run/secrets/mel1": "pw"}))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigPasswordNeverInErrors(t *testing.T) {
	// A config error after the secret was read must not carry the secret.
	_, err := Parse([]byte(`
servers:
  - {name: syd1, url: "https://h:4443", username: svc, passwordEnv: SYD1_PW}
auth:
  apiKeys: [{name: k, sha256: nothex}]
`), cfgtEnv(map[string]string{"SYD1_PW": "TOP-SECRET-PW"}), cfgtFiles(nil))
	if err == nil || strings.Contains(err.Error(), "TOP-SECRET-PW") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigAuthValidation(t *testing.T) {
	tenants := `
tenants:
  - id: t1
    organizations:
      - {server: syd1, name: Contoso}
      - {server: mel1, id: 6f1c2a4e-0c57-4b8e-9a3e-1f2d3c4b5a69}
`
	ok := cfgtMustParse(t, cfgtServers+tenants+`
auth:
  apiKeys:
    - {name: ops, sha256: `+cfgtAdminHash+`, role: PROVIDER_ADMIN}
    - {name: t1-siem, sha256: `+cfgtTenantHash+`, tenant: t1}
    - {name: t1-explicit, sha256: `+strings.Repeat("01", 32)+`, tenant: t1, role: TENANT_AUDITOR}
`)
	if len(ok.Auth.APIKeys) != 3 || len(ok.Tenants) != 1 {
		t.Fatalf("parsed %+v", ok.Auth)
	}

	key := func(fields string) string {
		return cfgtServers + tenants + "auth:\n  apiKeys:\n    - {" + fields + "}\n"
	}
	for name, yaml := range map[string]string{
		"sha256 not hex":                key("name: k, sha256: " + strings.Repeat("zz", 32) + ", role: PROVIDER_ADMIN"),
		"sha256 too short":              key("name: k, sha256: " + strings.Repeat("ab", 31) + ", role: PROVIDER_ADMIN"),
		"sha256 too long":               key("name: k, sha256: " + strings.Repeat("ab", 33) + ", role: PROVIDER_ADMIN"),
		"the key itself instead of sha": key("name: k, sha256: demo-admin, role: PROVIDER_ADMIN"),
		"sha256 missing":                key("name: k, role: PROVIDER_ADMIN"),
		"key name missing":              key("sha256: " + cfgtAdminHash + ", role: PROVIDER_ADMIN"),
		"key names duplicate": cfgtServers + tenants + "auth:\n  apiKeys:\n    - {name: k, sha256: " + cfgtAdminHash +
			", role: PROVIDER_ADMIN}\n    - {name: k, sha256: " + cfgtTenantHash + ", tenant: t1}\n",
		"key with unknown tenant":            key("name: k, sha256: " + cfgtTenantHash + ", tenant: t2"),
		"key without tenant or role":         key("name: k, sha256: " + cfgtAdminHash),
		"key without tenant, auditor role":   key("name: k, sha256: " + cfgtAdminHash + ", role: TENANT_AUDITOR"),
		"key without tenant, lower-case":     key("name: k, sha256: " + cfgtAdminHash + ", role: provider_admin"),
		"key with tenant and admin role":     key("name: k, sha256: " + cfgtAdminHash + ", tenant: t1, role: PROVIDER_ADMIN"),
		"org with both id and name":          cfgtServers + "tenants: [{id: t1, organizations: [{server: syd1, id: 6f1c2a4e-0c57-4b8e-9a3e-1f2d3c4b5a69, name: Contoso}]}]\n",
		"org with neither id nor name":       cfgtServers + "tenants: [{id: t1, organizations: [{server: syd1}]}]\n",
		"org on unknown server":              cfgtServers + "tenants: [{id: t1, organizations: [{server: akl1, name: Contoso}]}]\n",
		"tenant without id":                  cfgtServers + "tenants: [{name: T, organizations: [{server: syd1, name: Contoso}]}]\n",
		"tenant ids duplicate":               cfgtServers + "tenants: [{id: t1}, {id: t1}]\n",
		"jwt without issuer":                 cfgtServers + "auth: {jwt: {jwksURL: \"https://idp/jwks\", audience: gw}}\n",
		"jwt without audience":               cfgtServers + "auth: {jwt: {jwksURL: \"https://idp/jwks\", issuer: \"https://idp/\"}}\n",
		"jwt without jwksURL":                cfgtServers + "auth: {jwt: {issuer: \"https://idp/\", audience: gw}}\n",
		"jwt jwksURL not http(s)":            cfgtServers + "auth: {jwt: {jwksURL: \"file:///etc/jwks.json\", issuer: \"https://idp/\", audience: gw}}\n",
		"jwt with an unknown key (alg list)": cfgtServers + "auth: {jwt: {jwksURL: \"https://idp/jwks\", issuer: \"https://idp/\", audience: gw, algorithms: [HS256]}}\n",
	} {
		if _, err := cfgtParse(yaml); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigAllowMissingServer(t *testing.T) {
	yaml := cfgtServers + "tenants: [{id: t1, organizations: [{server: akl1, name: Contoso}]}]\n"
	if _, err := cfgtParse(yaml); err == nil || !strings.Contains(err.Error(), "akl1") {
		t.Fatalf("unknown server without allowMissing: %v", err)
	}
	c := cfgtMustParse(t, yaml+"auth: {allowMissing: true}\n")
	if !c.Auth.AllowMissing || c.Tenants[0].Organizations[0].Server != "akl1" {
		t.Fatalf("allowMissing config = %+v", c)
	}
	// allowMissing does not relax the other rules.
	if _, err := cfgtParse(cfgtServers + "auth: {allowMissing: true}\ntenants: [{id: t1, organizations: [{server: akl1}]}]\n"); err == nil {
		t.Error("org with neither id nor name accepted under allowMissing")
	}
}

func TestConfigErrorsAreWrapped(t *testing.T) {
	_, err := Load("testdata/none.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
