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
