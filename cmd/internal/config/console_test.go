package config

import (
	"strings"
	"testing"
	"time"
)

// cfgtHash is a well-formed API key hash.
var cfgtHash = strings.Repeat("ab", 32)

func TestConsoleSection(t *testing.T) {
	t.Parallel()
	const watch = "watch: {enabled: true}\nstore: {driver: sqlite, path: /tmp/gw.db}\n"
	const jwt = "auth:\n  jwt: {jwksURL: 'https://idp.example.net/jwks', issuer: 'https://idp.example.net', audience: vbo-gateway}\n"
	keys := "auth:\n  apiKeys: [{name: ops, sha256: '" + cfgtHash + "', role: PROVIDER_ADMIN}]\n"
	env := map[string]string{"SYD1_PW": "pw-syd1", "CONSOLE_SECRET": "s3cret"}
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c Console)
	}{
		{"off by default", "", "", func(t *testing.T, c Console) {
			if c.Enabled() || c.WithDefaults().SessionTTL != 8*time.Hour {
				t.Errorf("console %+v: want off, 8h sessions by default", c)
			}
		}},
		{"oidc with a secret", watch + jwt + `
console:
  sessionTTL: 1h
  oidc: {clientId: console, clientSecretEnv: CONSOLE_SECRET, redirectURL: 'https://gw.example.net/console/auth/callback'}
`, "", func(t *testing.T, c Console) {
			if !c.Enabled() || c.OIDC.ClientSecret() != "s3cret" || c.SessionTTL != time.Hour {
				t.Errorf("console %+v: want oidc with the secret from CONSOLE_SECRET", c)
			}
		}},
		{"oidc public client on loopback", watch + jwt + "console: {oidc: {clientId: c, redirectURL: 'http://127.0.0.1:8080/console/auth/callback'}}\n", "", func(t *testing.T, c Console) {
			if c.OIDC.ClientSecret() != "" {
				t.Error("a public client has no secret")
			}
		}},
		{"api key sign-in", watch + keys + "console: {apiKeySignIn: true}\n", "", func(t *testing.T, c Console) {
			if !c.Enabled() || c.OIDC != nil {
				t.Errorf("console %+v", c)
			}
		}},
		{"needs the watch", keys + "console: {apiKeySignIn: true}\n", "watch.enabled", nil},
		{"api key sign-in without keys", watch + jwt + "console: {apiKeySignIn: true}\n", "no auth.apiKeys", nil},
		{"oidc without the issuer", watch + keys + "console: {oidc: {clientId: c, redirectURL: 'https://gw/console/auth/callback'}}\n", "auth.jwt.issuer", nil},
		{"oidc without a client id", watch + jwt + "console: {oidc: {redirectURL: 'https://gw/console/auth/callback'}}\n", "clientId", nil},
		{"http redirect off loopback", watch + jwt + "console: {oidc: {clientId: c, redirectURL: 'http://gw.example.net/console/auth/callback'}}\n", "http only on loopback", nil},
		{"wrong callback path", watch + jwt + "console: {oidc: {clientId: c, redirectURL: 'https://gw.example.net/callback'}}\n", "/console/auth/callback", nil},
		{"secret variable unset", watch + jwt + "console: {oidc: {clientId: c, clientSecretEnv: NOPE, redirectURL: 'https://gw/console/auth/callback'}}\n", "NOPE", nil},
		{"session too long", watch + keys + "console: {apiKeySignIn: true, sessionTTL: 1000h}\n", "console.sessionTTL", nil},
		{"unknown key", watch + keys + "console: {apiKeySignin: true}\n", "apiKeySignin", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(cfgtServers+tt.yaml), cfgtEnv(env), cfgtFiles(map[string]string{"/run/secrets/mel1": "pw"}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Console)
		})
	}
}
