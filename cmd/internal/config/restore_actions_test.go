package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	certPW  = "cert-pw-s3cret"
	userPW  = "user-pw-s3cret"
	certRaw = "PFX-BYTES-s3cret"
)

var certB64 = base64.StdEncoding.EncodeToString([]byte(certRaw))

func restoreParse(doc string) (*Config, error) {
	env := cfgtEnv(map[string]string{"SYD1_PW": "pw-syd1", "CERT_PW": certPW, "USER_PW": userPW, "CERT_B64": certB64, "NOT_B64": "%%" + certPW})
	files := cfgtFiles(map[string]string{"/run/secrets/mel1": "pw-mel1\r\n", "/s/app.pfx": certRaw, "/s/user": userPW + "\n", "/s/empty": ""})
	return Parse([]byte(cfgtServers+doc), env, files)
}

func TestRestoreActionsDefaults(t *testing.T) {
	t.Parallel()
	c, err := restoreParse("tenants:\n  - {id: t1, organizations: [{server: syd1, name: Contoso}]}\n")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Restore.RestoreActions
	if r.MaxDownloadBytes != 2<<30 || r.DownloadExpiry != 5*time.Minute || r.StepUpMaxAge != 10*time.Minute ||
		r.MaxItemsPerAction != 100 || r.ApprovalExpiry != 24*time.Hour || r.AllowAnyRecipient {
		t.Errorf("defaults %+v", r)
	}
	if tr := c.Tenants[0].Restore; tr.Approval != ApprovalNone || tr.ApprovalRequired() || tr.ApprovalExpiry != 24*time.Hour {
		t.Errorf("tenant defaults %+v", tr)
	}
}

func TestRestoreActionsSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{"full", `
restore:
  maxDownloadBytes: 1073741824
  downloadExpiry: 2m
  stepUpMaxAge: 5m
  maxItemsPerAction: 20
  approvalExpiry: 2h
  allowedRecipientDomains: [Partner.Example]
  organizations:
    - {server: syd1, name: Contoso, domains: [contoso.com], credentials: {applicationId: app-1, certificateFile: /s/app.pfx, certificatePasswordEnv: CERT_PW, impersonationAccountName: r@contoso.com}}
    - {server: syd1, id: ORG-2, credentials: {applicationId: app-2, certificateEnv: CERT_B64}}
    - {server: syd1, name: Fabrikam, credentials: {userName: restore@fabrikam.com, passwordFile: /s/user}}
tenants:
  - {id: t1, organizations: [{server: syd1, name: Contoso}], restore: {approval: required, recipientDomains: [contoso-partner.com]}}
  - {id: t2, organizations: [{server: syd1, name: Fabrikam}], restore: {approval: none, approvalExpiry: 30m}}
auth:
  apiKeys:
    - {name: k, sha256: 9b3a91136feac4a6472d2cc9af52e9a6f9e367c1e8fcffb5a41c5c2beeaad08e, tenant: t1, role: TENANT_ADMIN, allowRestoreToOriginal: true}
`, "", func(t *testing.T, c *Config) {
			r := c.Restore.RestoreActions
			if r.MaxDownloadBytes != 1<<30 || r.DownloadExpiry != 2*time.Minute || r.StepUpMaxAge != 5*time.Minute ||
				r.MaxItemsPerAction != 20 || r.ApprovalExpiry != 2*time.Hour || r.AllowedRecipientDomains[0] != "partner.example" {
				t.Errorf("restore %+v", r)
			}
			app := r.Organizations[0].Credentials
			if !app.IsApplication() || app.Certificate().Reveal() != certB64 || app.CertificatePassword().Reveal() != certPW {
				t.Errorf("application credentials not resolved")
			}
			if r.Organizations[1].Credentials.Certificate().Reveal() != certB64 || !r.Organizations[1].Credentials.CertificatePassword().IsZero() {
				t.Errorf("certificateEnv not resolved")
			}
			user := r.Organizations[2].Credentials
			if user.IsApplication() || user.Password().Reveal() != userPW {
				t.Errorf("user credentials: %q", user.Password().Reveal())
			}
			if !c.Tenants[0].Restore.ApprovalRequired() || c.Tenants[0].Restore.ApprovalExpiry != 2*time.Hour ||
				c.Tenants[1].Restore.ApprovalRequired() || c.Tenants[1].Restore.ApprovalExpiry != 30*time.Minute {
				t.Errorf("tenants %+v %+v", c.Tenants[0].Restore, c.Tenants[1].Restore)
			}
			if !c.Auth.APIKeys[0].AllowRestoreToOriginal {
				t.Error("allowRestoreToOriginal not read")
			}
		}},
		{"cap too small", "restore: {maxDownloadBytes: 1000}", "restore.maxDownloadBytes 1000: at least 1048576", nil},
		{"expiry too long", "restore: {downloadExpiry: 2h}", "restore.downloadExpiry 2h0m0s: between 1m and 1h", nil},
		{"step-up too long", "restore: {stepUpMaxAge: 48h}", "restore.stepUpMaxAge 48h0m0s: between 1m and 24h", nil},
		{"items out of range", "restore: {maxItemsPerAction: 20000}", "restore.maxItemsPerAction 20000: between 1 and 10000", nil},
		{"negative items", "restore: {maxItemsPerAction: -1}", "restore.maxItemsPerAction -1", nil},
		{"approval expiry", "restore: {approvalExpiry: 1m}", "restore.approvalExpiry 1m0s: between 5m and 720h", nil},
		{"any and a list", "restore: {allowAnyRecipient: true, allowedRecipientDomains: [a.com]}", "remove allowedRecipientDomains, or allowAnyRecipient", nil},
		{"bad domain", "restore: {allowedRecipientDomains: ['*.a.com']}", "restore.allowedRecipientDomains[0] \"*.a.com\": a domain name", nil},
		{"unknown key", "restore: {maxDownloadByte: 5}", "maxDownloadByte", nil},
		{"org on unknown server", "restore: {organizations: [{server: nope, name: X}]}", "restore.organizations[0]: unknown server \"nope\"", nil},
		{"org without id or name", "restore: {organizations: [{server: syd1}]}", "restore.organizations[0]: give exactly one of id or name", nil},
		{"org twice", "restore: {organizations: [{server: syd1, name: X}, {server: syd1, name: x}]}", "restore.organizations[1]: the same organisation as restore.organizations[0]", nil},
		{"org bad domain", "restore: {organizations: [{server: syd1, name: X, domains: ['x@y.com']}]}", "restore.organizations[0].domains[0]", nil},
		{"app and user", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a, userName: u}}]}", "not both", nil},
		{"neither", "restore: {organizations: [{server: syd1, name: X, credentials: {}}]}", "give applicationId (with a certificate) or userName", nil},
		{"app without certificate", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a}}]}", "applicationId needs certificateFile or certificateEnv", nil},
		{"app with password", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a, certificateEnv: CERT_B64, passwordEnv: USER_PW}}]}", "go with userName", nil},
		{"user with certificate", "restore: {organizations: [{server: syd1, name: X, credentials: {userName: u, passwordEnv: USER_PW, certificateFile: /s/app.pfx}}]}", "go with applicationId", nil},
		{"user without password", "restore: {organizations: [{server: syd1, name: X, credentials: {userName: u}}]}", "passwordEnv or passwordFile is required", nil},
		{"unset variable", "restore: {organizations: [{server: syd1, name: X, credentials: {userName: u, passwordEnv: NOPE}}]}", "credentials.passwordEnv: environment variable NOPE is not set", nil},
		{"missing file", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a, certificateFile: /s/none.pfx}}]}", "credentials.certificateFile: cannot read /s/none.pfx", nil},
		{"empty certificate", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a, certificateFile: /s/empty}}]}", "/s/empty is empty", nil},
		{"certificate not base64", "restore: {organizations: [{server: syd1, name: X, credentials: {applicationId: a, certificateEnv: NOT_B64}}]}", "NOT_B64 is not base64", nil},
		{"both env and file", "restore: {organizations: [{server: syd1, name: X, credentials: {userName: u, passwordEnv: USER_PW, passwordFile: /s/user}}]}", "set passwordEnv or passwordFile, not both", nil},
		{"a secret in the YAML is refused", "restore: {organizations: [{server: syd1, name: X, credentials: {userName: u, password: x}}]}", "password", nil},
		{"tenant approval", "tenants: [{id: t1, restore: {approval: maybe}}]", "tenants[0].restore.approval \"maybe\": want required or none", nil},
		{"tenant approval expiry", "tenants: [{id: t1, restore: {approvalExpiry: 1000h}}]", "tenants[0].restore.approvalExpiry 1000h0m0s", nil},
		{"tenant recipient domain", "tenants: [{id: t1, restore: {recipientDomains: [bad]}}]", "tenants[0].restore.recipientDomains[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := restoreParse(tt.yaml)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows a secret: %v", err)
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

// A credential's secrets never leave through printing, logging, encoding or an error: a full
// slog JSON line with the credentials (and the whole config section) in it, every fmt verb,
// JSON, YAML and an error wrapping them.
func TestRestoreCredentialsNeverShowTheirSecrets(t *testing.T) {
	t.Parallel()
	c, err := restoreParse(`
restore:
  organizations:
    - {server: syd1, name: A, credentials: {applicationId: app-1, certificateEnv: CERT_B64, certificatePasswordEnv: CERT_PW}}
    - {server: syd1, name: B, credentials: {userName: u, passwordEnv: USER_PW}}
`)
	if err != nil {
		t.Fatal(err)
	}
	app, user := c.Restore.Organizations[0].Credentials, c.Restore.Organizations[1].Credentials
	secrets := []string{certPW, userPW, certB64, certRaw, "s3cret"}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret (%q): %s", what, s, out)
			}
		}
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("restore", "app", app, "user", *user, "secret", app.CertificatePassword(), "org", c.Restore.Organizations[0],
		"restore", c.Restore, "group", slog.GroupValue(slog.Any("pw", user.Password())))
	line := buf.String()
	check("slog JSON line", line)
	if !strings.Contains(line, `"secret":"[redacted]"`) || !strings.Contains(line, "app-1") {
		t.Errorf("the line should keep what is not secret and say [redacted]: %s", line)
	}
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("restore", "app", app, "pw", user.Password())
	check("slog text line", buf.String())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		check("fmt "+verb, fmt.Sprintf(verb, app.CertificatePassword()))
		check("fmt "+verb+" of the credentials", fmt.Sprintf(verb, *app))
		check("fmt "+verb+" of the section", fmt.Sprintf(verb, c.Restore))
	}
	j, err := json.Marshal(c.Restore)
	if err != nil {
		t.Fatal(err)
	}
	check("JSON", string(j))
	j, _ = json.Marshal(map[string]any{"pw": user.Password(), "cert": app.Certificate()})
	check("JSON of the secrets", string(j))
	y, err := yaml.Marshal(map[string]any{"pw": user.Password(), "creds": app})
	if err != nil {
		t.Fatal(err)
	}
	check("YAML", string(y))
	wrapped := fmt.Errorf("restore to original for %v with %v: %w", app, user.Password(), errors.New("vbo said 401"))
	check("error wrap", wrapped.Error())
	check("error wrap %+v", fmt.Sprintf("%+v", wrapped))
	if user.Password().Reveal() != userPW {
		t.Error("Reveal lost the value")
	}
}
