package upstream

import (
	"encoding/json"
	"log/slog"
	"strings"
)

// RestoreCredentials are the Microsoft 365 credentials VBO needs to write into Microsoft 365
// (restore to the original or another location): an application id with its certificate
// (base64 PFX, and its password when it has one), or a device code from RestoreDeviceCode
// (UserCode), or a user name and password. They never print, log or marshal their secrets:
// String, GoString, LogValue and MarshalJSON show which kind they are and the application id
// only; the request body is built from the fields directly.
type RestoreCredentials struct {
	ApplicationID                  string
	ApplicationCertificate         string // base64 PFX
	ApplicationCertificatePassword string
	ImpersonationAccountName       string // Exchange: the account that impersonates the mailboxes
	UserCode                       string // from RestoreDeviceCode
	UserName                       string
	UserPassword                   string
}

const redacted = "[REDACTED]"

// kind names the credentials' kind.
func (c RestoreCredentials) kind() string {
	switch {
	case c.ApplicationID != "" || c.ApplicationCertificate != "":
		return "application"
	case c.UserCode != "":
		return "device code"
	case c.UserName != "":
		return "user"
	}
	return "none"
}

// String shows the kind and the application id, never a secret.
func (c RestoreCredentials) String() string {
	var b strings.Builder
	b.WriteString("RestoreCredentials{")
	b.WriteString(c.kind())
	if c.ApplicationID != "" {
		b.WriteString(" applicationId=" + c.ApplicationID)
	}
	for _, s := range []string{c.ApplicationCertificate, c.ApplicationCertificatePassword, c.UserCode, c.UserPassword} {
		if s != "" {
			b.WriteString(" secrets=" + redacted)
			break
		}
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String (%#v).
func (c RestoreCredentials) GoString() string { return c.String() }

// LogValue logs the kind and application id only.
func (c RestoreCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", c.kind()), slog.String("applicationId", c.ApplicationID),
		slog.String("secrets", redacted))
}

// MarshalJSON writes the redacted form: credentials marshalled by accident (into a log line or a
// record) carry no secret.
func (c RestoreCredentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"kind": c.kind(), "applicationId": c.ApplicationID, "secrets": redacted})
}

// credentialsBody is the credentials part of VBO's restore bodies (with the secrets).
type credentialsBody struct {
	UserName                       string `json:"userName,omitempty"`
	UserPassword                   string `json:"userPassword,omitempty"`
	UserCode                       string `json:"userCode,omitempty"`
	ApplicationID                  string `json:"applicationId,omitempty"`
	ApplicationCertificatePassword string `json:"applicationCertificatePassword,omitempty"`
	ApplicationCertificate         string `json:"applicationCertificate,omitempty"`
}

func (c *RestoreCredentials) body() credentialsBody {
	if c == nil {
		return credentialsBody{}
	}
	return credentialsBody{UserName: c.UserName, UserPassword: c.UserPassword, UserCode: c.UserCode,
		ApplicationID: c.ApplicationID, ApplicationCertificatePassword: c.ApplicationCertificatePassword,
		ApplicationCertificate: c.ApplicationCertificate}
}

// String and GoString of the body redact too (it holds the secrets on their way to VBO).
func (b credentialsBody) String() string {
	return RestoreCredentials{ApplicationID: b.ApplicationID, UserCode: b.UserCode, UserName: b.UserName,
		ApplicationCertificate: b.ApplicationCertificate, UserPassword: b.UserPassword}.String()
}

func (b credentialsBody) GoString() string { return b.String() }
