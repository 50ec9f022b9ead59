package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errtServers is the valid start of every broken config below: lines 1-5.
const errtServers = `servers:
  - name: syd1
    url: https://vbo.example.net:4443
    username: svc
    passwordFile: pw
`

// errtLoad writes yaml to cfg.yaml (with the password file beside it) and loads it.
func errtLoad(t *testing.T, yaml string) (string, *Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	return path, c, err
}

// Each broken config is refused with the file and line, the key path and what to write
// instead, never yaml's Go-typed text ("field password not found in type config.VBOServer").
func TestConfigErrorsReadLikeHumansWroteThem(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each in the message, after the file name; the first is "LINE: ..."
	}{
		{"password on a server", `servers:
  - name: syd1
    url: https://vbo.example.net:4443
    username: svc
    password: hunter2
`, []string{"5: servers[0].password: unknown key", "passwordEnv", "passwordFile", "never sits in this file"}},
		{"a typo gets did you mean", errtServers + "maxConcurencyPerServer: 4\n",
			[]string{"6: maxConcurencyPerServer: unknown key; did you mean maxConcurrencyPerServer?"}},
		{"a key cut short", errtServers + "maxConcurrency: 4\n",
			[]string{"6: maxConcurrency: unknown key; did you mean maxConcurrencyPerServer?"}},
		{"letter case", errtServers + "webhooks:\n  allowHttp: true\n",
			[]string{"7: webhooks.allowHttp: unknown key; did you mean allowHTTP?"}},
		{"a typo two levels down", errtServers + "limits:\n  roles:\n    PROVIDER_ADMIN: {maxUpstreamCall: 10}\n",
			[]string{"8: limits.roles.PROVIDER_ADMIN.maxUpstreamCall: unknown key; did you mean maxUpstreamCalls?"}},
		{"a typo in a server's tls", errtServers + "  - name: mel1\n    url: https://mel1:4443\n    username: svc\n    passwordFile: pw\n    tls: {fingerprint: \"AB:CD\"}\n",
			[]string{"10: servers[1].tls.fingerprint: unknown key; did you mean fingerprintSHA256?"}},
		{"a key in the wrong section", errtServers + "maxDepth: 8\n",
			[]string{"6: maxDepth: unknown key here; it belongs under limits"}},
		{"a store key under watch", errtServers + "watch:\n  enabled: true\n  driver: postgres\n",
			[]string{"8: watch.driver: unknown key", "store: {driver: ...}"}},
		{"the DSN in the file", errtServers + "store: {driver: postgres, dsn: \"postgres://u:p@db/gw\"}\n",
			[]string{"6: store.dsn: unknown key", "dsnEnv"}},
		{"an API key in the file", errtServers + "auth:\n  apiKeys:\n    - name: ops\n      key: plain-text\n",
			[]string{"9: auth.apiKeys[0].key: unknown key", "sha256"}},
		{"a key that is nowhere", errtServers + "colour: blue\n",
			[]string{"6: colour: unknown key; the keys here are", "servers", "watch"}},
		{"a number for a duration", errtServers + "resilience:\n  requestTimeout: 15\n",
			[]string{"7: resilience.requestTimeout: 15 is not a duration: write 15s"}},
		{"a quoted number for a duration", errtServers + "watch: {interval: \"30\"}\n",
			[]string{"6: watch.interval: 30 is not a duration: write 30s"}},
		{"days", errtServers + "watch:\n  backfill: 2 days\n",
			[]string{"7: watch.backfill: \"2 days\" is not a duration: write 48h"}},
		{"a unit in words", errtServers + "auth: {tenantRefresh: 5 minutes}\n",
			[]string{"6: auth.tenantRefresh: \"5 minutes\" is not a duration: write 5m"}},
		{"nonsense for a duration", errtServers + "http: {idleTimeout: soon}\n",
			[]string{"6: http.idleTimeout: \"soon\" is not a duration: write a number with a unit: 500ms, 15s, 5m, 2h"}},
		{"a duration in a list", errtServers + "webhooks: {retrySchedule: [0s, 5]}\n",
			[]string{"6: webhooks.retrySchedule[1]: 5 is not a duration: write 5s"}},
		{"a word for a number", errtServers + "maxConcurrencyPerServer: eight\n",
			[]string{"6: maxConcurrencyPerServer: \"eight\": want a whole number"}},
		{"a word for a switch", errtServers + "graphiql: nope\n",
			[]string{"6: graphiql: \"nope\": want true or false"}},
		{"one item for a list", errtServers + "tenants: contoso\n",
			[]string{"6: tenants: want a list", "\"contoso\""}},
		{"a list for a section", errtServers + "watch: [enabled]\n",
			[]string{"6: watch: want a section of keys", "enabled", "interval"}},
		{"a key twice", errtServers + "listen: :8080\nlisten: :9090\n",
			[]string{"7: listen: given twice (first at line 6)"}},
		{"every unknown key at once", errtServers + "colour: blue\nwatch: {enabld: true}\n",
			[]string{"6: colour: unknown key", "cfg.yaml:7: watch.enabld: unknown key; did you mean enabled?"}},
		{"YAML syntax", errtServers + "listen: a: b\n",
			[]string{"6: YAML: mapping values are not allowed in this context"}},
		{"a tab", errtServers + "watch:\n\tenabled: true\n",
			[]string{"7: YAML: found character that cannot start any token (a tab: indent with spaces)"}},
		// Validation after decoding names the key's line too.
		{"a bad URL", `servers:
  - name: syd1
    url: vbo.example.net
    username: svc
    passwordFile: pw
`, []string{"3: servers[0] (syd1): url \"vbo.example.net\": want https://host:4443"}},
		{"an unset password variable", `servers:
  - name: syd1
    url: https://vbo.example.net:4443
    username: svc
    passwordEnv: ERRT_NOT_SET_ANYWHERE
`, []string{"5: servers[0] (syd1): passwordEnv: environment variable ERRT_NOT_SET_ANYWHERE is not set"}},
		{"a required key absent points at its item", `servers:
  - name: syd1
    url: https://vbo.example.net:4443
    passwordFile: pw
`, []string{"2: servers[0] (syd1): username is required"}},
		{"a watch setting out of range", errtServers + "watch:\n  enabled: true\n  interval: 1ms\n",
			[]string{"8: watch.interval 1ms: at least 10ms"}},
		{"an unknown tenant's server", errtServers + "tenants:\n  - id: contoso\n    organizations:\n      - {server: nope, name: Contoso}\n",
			[]string{"9: tenants[0].organizations[0]: unknown server \"nope\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, err := errtLoad(t, tt.yaml)
			if err == nil {
				t.Fatalf("loaded, want an error\n%s", tt.yaml)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+":"+tt.want[0]) {
				t.Errorf("error\n  %s\nwant it to start with\n  %s:%s", msg, path, tt.want[0])
			}
			for _, w := range tt.want[1:] {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n  %s\nwant it to contain %q", msg, w)
				}
			}
			for _, goish := range []string{"not found in type", "cannot unmarshal", "config.", "time.Duration", "!!"} {
				if strings.Contains(msg, goish) {
					t.Errorf("error %q reads like Go internals (%q)", msg, goish)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) && !errors.As(err, new(Errors)) {
				t.Errorf("error %T is neither *Error nor Errors", err)
			}
		})
	}
}

// Anchors, aliases and merge keys are checked like the keys they stand for: no false unknown
// key, and a typo behind a merge is still found.
func TestConfigErrorsAnchorsAndMerges(t *testing.T) {
	ok := `defaults: &srv
  username: svc
  passwordFile: pw
`
	if _, _, err := errtLoad(t, ok); err == nil || !strings.Contains(err.Error(), "defaults: unknown key") {
		t.Errorf("a top-level anchor holder: %v, want the unknown key refused", err)
	}
	merged := `servers:
  - &base
    name: syd1
    url: https://vbo.example.net:4443
    username: svc
    passwordFile: pw
  - <<: *base
    name: mel1
`
	if _, c, err := errtLoad(t, merged); err != nil || len(c.Servers) != 2 || c.Servers[1].Username != "svc" {
		t.Fatalf("merge: %v", err)
	}
	typo := `servers:
  - &base
    name: syd1
    url: https://vbo.example.net:4443
    username: svc
    passwordFile: pw
    apiVersoin: v7
  - <<: *base
    name: mel1
`
	if _, _, err := errtLoad(t, typo); err == nil || !strings.Contains(err.Error(), ":7: servers[0].apiVersoin: unknown key; did you mean apiVersion?") {
		t.Errorf("typo behind an anchor: %v", err)
	}
}

// Locate places the errors found after Load (app.Check's limits and log level) like Load's own.
func TestConfigLocate(t *testing.T) {
	path, c, err := errtLoad(t, errtServers+"logLevel: loud\nlimits:\n  maxDepth: -1\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ err, want string }{
		{"limits.maxDepth: must be positive (got -1)", path + ":8: limits.maxDepth: must be positive"},
		{"logLevel: unknown level \"loud\"", path + ":6: logLevel: unknown level"},
		{"limits.maxFirst: at most 1000", path + ":7: limits.maxFirst"}, // absent key: its section
		{"something else", path + ": something else"},
	} {
		if got := c.Locate(errors.New(tt.err)).Error(); got != tt.want && !strings.HasPrefix(got, tt.want) {
			t.Errorf("Locate(%q) = %q, want %q...", tt.err, got, tt.want)
		}
	}
	if c.Locate(nil) != nil {
		t.Error("Locate(nil) != nil")
	}
	var parsed *Config // from Parse: no file, no lines
	if e := errors.New("x"); parsed.Locate(e) != e {
		t.Error("Locate on a nil config changed the error")
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"enabld", "enabled", 1}, {"intreval", "interval", 1}, {"maxconcurencyperserver", "maxconcurrencyperserver", 1},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
