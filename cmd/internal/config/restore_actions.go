package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RestoreActions are the restore item actions' keys under restore: (issue 25).
type RestoreActions struct {
	// MaxDownloadBytes caps one download (default 2 GiB): a larger answer from VBO is refused
	// (declared) or cut off (streamed), and the record says so.
	MaxDownloadBytes int64 `yaml:"maxDownloadBytes"`
	// DownloadExpiry is a download link's lifetime (default 5m, 1m to 1h).
	DownloadExpiry time.Duration `yaml:"downloadExpiry"`
	// StepUpMaxAge is how recent a JWT's auth_time must be for a restore to the original
	// location (default 10m, 1m to 24h). API keys need allowRestoreToOriginal instead.
	StepUpMaxAge time.Duration `yaml:"stepUpMaxAge"`
	// MaxItemsPerAction bounds the items of one action (default 100, at most 10000).
	MaxItemsPerAction int `yaml:"maxItemsPerAction"`
	// AllowedRecipientDomains are domains sendRestoreItems may mail besides the organisation's
	// own (for every tenant; tenants[].restore.recipientDomains adds per tenant).
	AllowedRecipientDomains []string `yaml:"allowedRecipientDomains"`
	// AllowAnyRecipient lets sendRestoreItems mail any address (default false: data leaves
	// only to the organisation's own domains and the allowed ones).
	AllowAnyRecipient bool `yaml:"allowAnyRecipient"`
	// ApprovalExpiry is how long a restore waits for approval when its tenant's entry does not
	// say (default 24h, 5m to 30 days).
	ApprovalExpiry time.Duration `yaml:"approvalExpiry"`
	// Organizations give an organisation's own domains and its Microsoft 365 restore
	// credentials (restores to the original or another location need them).
	Organizations []RestoreOrg `yaml:"organizations"`
}

// Restore action defaults and bounds.
const (
	DefaultMaxDownloadBytes  int64 = 2 << 30
	DefaultDownloadExpiry          = 5 * time.Minute
	DefaultStepUpMaxAge            = 10 * time.Minute
	DefaultMaxItemsPerAction       = 100
	DefaultApprovalExpiry          = 24 * time.Hour
	maxItemsPerActionLimit         = 10000
)

// Approval settings of tenants[].restore.approval.
const (
	ApprovalNone     = "none"
	ApprovalRequired = "required"
)

// TenantRestore is tenants[].restore: the tenant's own restore rules.
type TenantRestore struct {
	// Approval is "required" (a restore to the original location waits until another
	// TENANT_ADMIN of the tenant approves) or "none" (default).
	Approval string `yaml:"approval"`
	// ApprovalExpiry is how long such a restore waits (default restore.approvalExpiry).
	ApprovalExpiry time.Duration `yaml:"approvalExpiry"`
	// RecipientDomains are more domains this tenant's sendRestoreItems may mail.
	RecipientDomains []string `yaml:"recipientDomains"`
}

// ApprovalRequired reports whether the tenant's restores to the original location need a
// second person.
func (t TenantRestore) ApprovalRequired() bool { return t.Approval == ApprovalRequired }

// RestoreOrg is one organisation's restore settings, named like tenants' organisations: a
// server and exactly one of id or name.
type RestoreOrg struct {
	Server string `yaml:"server"`
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	// Domains are the organisation's own domains besides those VBO names (officeName, name):
	// recipients and restore targets must be in them.
	Domains []string `yaml:"domains"`
	// Credentials sign restores into Microsoft 365 for this organisation.
	Credentials *M365Credentials `yaml:"credentials"`
}

// M365Credentials are an organisation's Microsoft 365 restore credentials, as VBO's restore
// bodies take them: an application (applicationId, its certificate and the certificate's
// password, and for Exchange an impersonation account) or a user (userName, password). The YAML
// names only where the secrets are (environment variables or files, relative to the config
// file); the values are resolved at load, held as Secret and never printed, logged or encoded.
type M365Credentials struct {
	ApplicationID string `yaml:"applicationId"`
	// CertificateFile is a PKCS#12 (.pfx) file; CertificateEnv an environment variable holding
	// it in base64. One of the two with an applicationId.
	CertificateFile string `yaml:"certificateFile"`
	CertificateEnv  string `yaml:"certificateEnv"`
	// CertificatePasswordEnv or CertificatePasswordFile hold the certificate's password.
	CertificatePasswordEnv  string `yaml:"certificatePasswordEnv"`
	CertificatePasswordFile string `yaml:"certificatePasswordFile"`
	// ImpersonationAccountName is the Exchange account the application acts as.
	ImpersonationAccountName string `yaml:"impersonationAccountName"`
	// UserName with PasswordEnv or PasswordFile: a user's credentials instead of an application.
	UserName     string `yaml:"userName"`
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`

	certificate         Secret // base64 PKCS#12, as VBO's applicationCertificate
	certificatePassword Secret
	password            Secret
}

// Certificate is the application certificate (base64 PKCS#12), VBO's applicationCertificate.
func (m *M365Credentials) Certificate() Secret { return m.certificate }

// CertificatePassword is VBO's applicationCertificatePassword.
func (m *M365Credentials) CertificatePassword() Secret { return m.certificatePassword }

// Password is VBO's userPassword.
func (m *M365Credentials) Password() Secret { return m.password }

// IsApplication reports whether these are application (not user) credentials.
func (m *M365Credentials) IsApplication() bool { return m.ApplicationID != "" }

// WithSecrets returns a copy with the secrets set (for tests and the demo).
func (m M365Credentials) WithSecrets(certificate, certificatePassword, password string) *M365Credentials {
	m.certificate, m.certificatePassword, m.password = NewSecret(certificate), NewSecret(certificatePassword), NewSecret(password)
	return &m
}

// WithDefaults fills in the restore actions' defaults.
func (r RestoreActions) WithDefaults() RestoreActions {
	if r.MaxDownloadBytes == 0 {
		r.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	defDur(&r.DownloadExpiry, DefaultDownloadExpiry)
	defDur(&r.StepUpMaxAge, DefaultStepUpMaxAge)
	defDur(&r.ApprovalExpiry, DefaultApprovalExpiry)
	if r.MaxItemsPerAction == 0 {
		r.MaxItemsPerAction = DefaultMaxItemsPerAction
	}
	return r
}

// validateRestoreActions applies the restore actions' defaults and checks them, the tenants'
// restore entries and the organisations' credentials (resolving their secrets).
func (c *Config) validateRestoreActions(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	r := c.Restore.RestoreActions.WithDefaults()
	switch {
	case r.MaxDownloadBytes < 1<<20:
		return fmt.Errorf("restore.maxDownloadBytes %d: at least 1048576 (1 MiB)", r.MaxDownloadBytes)
	case r.DownloadExpiry < time.Minute || r.DownloadExpiry > time.Hour:
		return fmt.Errorf("restore.downloadExpiry %s: between 1m and 1h (links expire in minutes)", r.DownloadExpiry)
	case r.StepUpMaxAge < time.Minute || r.StepUpMaxAge > 24*time.Hour:
		return fmt.Errorf("restore.stepUpMaxAge %s: between 1m and 24h", r.StepUpMaxAge)
	case r.MaxItemsPerAction < 1 || r.MaxItemsPerAction > maxItemsPerActionLimit:
		return fmt.Errorf("restore.maxItemsPerAction %d: between 1 and %d", r.MaxItemsPerAction, maxItemsPerActionLimit)
	case r.ApprovalExpiry < 5*time.Minute || r.ApprovalExpiry > 30*24*time.Hour:
		return fmt.Errorf("restore.approvalExpiry %s: between 5m and 720h (30 days)", r.ApprovalExpiry)
	case r.AllowAnyRecipient && len(r.AllowedRecipientDomains) > 0:
		return errors.New("restore: allowAnyRecipient allows every domain: remove allowedRecipientDomains, or allowAnyRecipient")
	}
	if err := checkDomains("restore.allowedRecipientDomains", r.AllowedRecipientDomains); err != nil {
		return err
	}
	servers := map[string]bool{}
	for _, s := range c.Servers {
		servers[s.Name] = true
	}
	seen := map[string]int{}
	for i := range r.Organizations {
		o := &r.Organizations[i]
		key := fmt.Sprintf("restore.organizations[%d]", i)
		if !servers[o.Server] && !c.Auth.AllowMissing {
			return fmt.Errorf("%s: unknown server %q", key, o.Server)
		}
		if (o.ID == "") == (o.Name == "") {
			return fmt.Errorf("%s: give exactly one of id or name", key)
		}
		ref := o.Server + "\x00" + strings.ToLower(o.ID) + "\x00" + strings.ToLower(o.Name)
		if j, dup := seen[ref]; dup {
			return fmt.Errorf("%s: the same organisation as restore.organizations[%d]", key, j)
		}
		seen[ref] = i
		if err := checkDomains(key+".domains", o.Domains); err != nil {
			return err
		}
		if o.Credentials != nil {
			if err := o.Credentials.resolve(key+".credentials", lookupEnv, readFile); err != nil {
				return err
			}
		}
	}
	for i := range c.Tenants {
		t := &c.Tenants[i].Restore
		key := fmt.Sprintf("tenants[%d].restore", i)
		switch t.Approval {
		case "":
			t.Approval = ApprovalNone
		case ApprovalNone, ApprovalRequired:
		default:
			return fmt.Errorf("%s.approval %q: want required or none", key, t.Approval)
		}
		if t.ApprovalExpiry == 0 {
			t.ApprovalExpiry = r.ApprovalExpiry
		}
		if t.ApprovalExpiry < 5*time.Minute || t.ApprovalExpiry > 30*24*time.Hour {
			return fmt.Errorf("%s.approvalExpiry %s: between 5m and 720h (30 days)", key, t.ApprovalExpiry)
		}
		if err := checkDomains(key+".recipientDomains", t.RecipientDomains); err != nil {
			return err
		}
	}
	c.Restore.RestoreActions = r
	return nil
}

// resolve checks the credentials' shape and reads their secrets.
func (m *M365Credentials) resolve(key string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	app := m.ApplicationID != ""
	user := m.UserName != ""
	switch {
	case app == user:
		return fmt.Errorf("%s: give applicationId (with a certificate) or userName (with a password), not both", key)
	case app && (m.UserName != "" || m.PasswordEnv != "" || m.PasswordFile != ""):
		return fmt.Errorf("%s: passwordEnv/passwordFile go with userName, not applicationId", key)
	case user && (m.CertificateEnv != "" || m.CertificateFile != "" || m.CertificatePasswordEnv != "" || m.CertificatePasswordFile != "" || m.ImpersonationAccountName != ""):
		return fmt.Errorf("%s: certificate settings go with applicationId, not userName", key)
	}
	if user {
		v, err := secretFrom(key, "passwordEnv", "passwordFile", m.PasswordEnv, m.PasswordFile, true, lookupEnv, readFile)
		if err != nil {
			return err
		}
		m.password = NewSecret(v)
		return nil
	}
	switch {
	case m.CertificateEnv != "" && m.CertificateFile != "":
		return fmt.Errorf("%s: set certificateEnv or certificateFile, not both", key)
	case m.CertificateEnv != "":
		v, ok := lookupEnv(m.CertificateEnv)
		if !ok || v == "" {
			return fmt.Errorf("%s.certificateEnv: environment variable %s is not set (or empty)", key, m.CertificateEnv)
		}
		if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s.certificateEnv: environment variable %s is not base64 (a PKCS#12 certificate in base64)", key, m.CertificateEnv)
		}
		m.certificate = NewSecret(strings.TrimSpace(v))
	case m.CertificateFile != "":
		b, err := readFile(m.CertificateFile)
		if err != nil {
			return fmt.Errorf("%s.certificateFile: cannot read %s: %w", key, m.CertificateFile, cause(err))
		}
		if len(b) == 0 {
			return fmt.Errorf("%s.certificateFile: %s is empty", key, m.CertificateFile)
		}
		m.certificate = NewSecret(base64.StdEncoding.EncodeToString(b))
	default:
		return fmt.Errorf("%s: applicationId needs certificateFile or certificateEnv", key)
	}
	v, err := secretFrom(key, "certificatePasswordEnv", "certificatePasswordFile", m.CertificatePasswordEnv, m.CertificatePasswordFile, false, lookupEnv, readFile)
	if err != nil {
		return err
	}
	m.certificatePassword = NewSecret(v)
	return nil
}

// secretFrom reads a secret from the environment variable env or the file file (one of them;
// both empty is an error when required). Errors name the key, never the value.
func secretFrom(key, envKey, fileKey, env, file string, required bool, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	switch {
	case env != "" && file != "":
		return "", fmt.Errorf("%s: set %s or %s, not both", key, envKey, fileKey)
	case env != "":
		v, ok := lookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s.%s: environment variable %s is not set (or empty)", key, envKey, env)
		}
		return v, nil
	case file != "":
		b, err := readFile(file)
		if err != nil {
			return "", fmt.Errorf("%s.%s: cannot read %s: %w", key, fileKey, file, cause(err))
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case required:
		return "", fmt.Errorf("%s: %s or %s is required", key, envKey, fileKey)
	}
	return "", nil
}

// cause is a file error without the path the message already names.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
