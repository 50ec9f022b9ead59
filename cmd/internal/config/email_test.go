package config

import (
	"strings"
	"testing"
)

func TestEmailSection(t *testing.T) {
	t.Parallel()
	env := cfgtEnv(map[string]string{"SMTP_PW": "s3cret-smtp", "SYD1_PW": "pw-syd1"})
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, s SMTP)
	}{
		{"unset: no email", "", "", func(t *testing.T, s SMTP) {
			if s.Enabled() {
				t.Errorf("enabled without a host: %+v", s)
			}
		}},
		{"full, password from the environment", `
email:
  smtp: {host: smtp.example.com, port: 2525, username: reports, passwordEnv: SMTP_PW, from: "Reports <reports@example.com>", startTLS: true}
`, "", func(t *testing.T, s SMTP) {
			if !s.Enabled() || s.Port != 2525 || s.Password() != "s3cret-smtp" || !s.StartTLS {
				t.Errorf("smtp %+v", s)
			}
			if strings.Contains(s.String(), "s3cret") {
				t.Errorf("String shows the password: %s", s)
			}
		}},
		{"default port, no auth", "email: {smtp: {host: relay.internal, from: r@example.com}}", "", func(t *testing.T, s SMTP) {
			if s.Port != DefaultSMTPPort || s.Username != "" || s.Password() != "" {
				t.Errorf("smtp %+v", s)
			}
		}},
		{"no host", "email: {smtp: {from: r@example.com}}", "email.smtp.host is required", nil},
		{"host with port", "email: {smtp: {host: 'smtp.example.com:587', from: r@example.com}}", "without scheme or port", nil},
		{"bad port", "email: {smtp: {host: h, port: 70000, from: r@example.com}}", "email.smtp.port", nil},
		{"no from", "email: {smtp: {host: h}}", "email.smtp.from is required", nil},
		{"bad from", "email: {smtp: {host: h, from: 'not an address'}}", "email.smtp.from", nil},
		{"username without passwordEnv", "email: {smtp: {host: h, from: r@example.com, username: u}}", "never the password itself", nil},
		{"passwordEnv without username", "email: {smtp: {host: h, from: r@example.com, passwordEnv: SMTP_PW}}", "needs email.smtp.username", nil},
		{"variable not set", "email: {smtp: {host: h, from: r@example.com, username: u, passwordEnv: NOPE}}", "NOPE is not set", nil},
		{"a password in the file is refused", "email: {smtp: {host: h, from: r@example.com, username: u, password: x}}", "password", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(cfgtServers+tt.yaml), env, cfgtFiles(map[string]string{"/run/secrets/mel1": "pw-mel1\r\n"}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Email.SMTP)
		})
	}
}

// Who report schedules may email: email.providerDomains for the provider's schedules,
// tenants[].emailDomains for a tenant's, both checked and lower-cased at load;
// email.allowAnyRecipient lifts the limit.
func TestEmailRecipientDomains(t *testing.T) {
	t.Parallel()
	env := cfgtEnv(map[string]string{"SYD1_PW": "pw-syd1"})
	tenant := func(domains string) string {
		return "tenants:\n  - {id: t1, organizations: [{server: syd1, name: Contoso}], emailDomains: " + domains + "}\n"
	}
	tests := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{"domains lower-cased", tenant("[Contoso.COM, ops.contoso.com]") + "email: {providerDomains: [' Provider.example ']}\n", "", func(t *testing.T, c *Config) {
			if got := c.Tenants[0].EmailDomains; len(got) != 2 || got[0] != "contoso.com" || got[1] != "ops.contoso.com" {
				t.Errorf("tenant domains %q", got)
			}
			if got := c.Email.ProviderDomains; len(got) != 1 || got[0] != "provider.example" || c.Email.AllowAnyRecipient {
				t.Errorf("provider domains %q, any %v", got, c.Email.AllowAnyRecipient)
			}
		}},
		{"allow any recipient", "email: {allowAnyRecipient: true}", "", func(t *testing.T, c *Config) {
			if !c.Email.AllowAnyRecipient {
				t.Error("allowAnyRecipient not read")
			}
		}},
		{"an address is not a domain", tenant("[ops@contoso.com]"), "tenants[0].emailDomains[0]", nil},
		{"a wildcard is not a domain", tenant("['*.contoso.com']"), "tenants[0].emailDomains[0]", nil},
		{"a bare label is not a domain", "email: {providerDomains: [localhost]}", "email.providerDomains[0]", nil},
		{"a URL is not a domain", "email: {providerDomains: ['https://example.com']}", "email.providerDomains[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(cfgtServers+tt.yaml), env, cfgtFiles(map[string]string{"/run/secrets/mel1": "pw-mel1\r\n"}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
