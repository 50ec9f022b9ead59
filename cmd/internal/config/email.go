package config

import "fmt"

// Email configures how reports are sent by email.
type Email struct {
	// SMTP is the submission server; unset (no host), reports go out by webhook only.
	SMTP SMTP `yaml:"smtp"`
	// ProviderDomains are the domains the provider's own report schedules may email; a
	// tenant's schedules may email its tenants[].emailDomains. Nothing else is accepted,
	// unless AllowAnyRecipient.
	ProviderDomains []string `yaml:"providerDomains"`
	// AllowAnyRecipient lets every schedule email any address (the provider allows more).
	AllowAnyRecipient bool `yaml:"allowAnyRecipient"`
}

// SMTP is an SMTP submission server. The connection always uses STARTTLS, except to a loopback
// host (a local relay or a test sink); the password comes only from the environment.
type SMTP struct {
	// Host and Port of the server (port default 587, submission).
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Username for SMTP AUTH (none when empty).
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password (required with Username).
	PasswordEnv string `yaml:"passwordEnv"`
	// From is the sender address, e.g. "Restore reports <reports@example.com>".
	From string `yaml:"from"`
	// StartTLS asks for STARTTLS towards a loopback host too (elsewhere it is always required).
	StartTLS bool `yaml:"startTLS"`

	password string
}

// DefaultSMTPPort is the submission port.
const DefaultSMTPPort = 587

// Enabled reports whether an SMTP server is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Password is the password read from PasswordEnv when the configuration was loaded (or set
// by WithPassword).
func (s SMTP) Password() string { return s.password }

// WithPassword returns a copy of s using password (tests, in-process sinks).
func (s SMTP) WithPassword(password string) SMTP {
	s.password = password
	return s
}

// String never shows the password.
func (s SMTP) String() string {
	return fmt.Sprintf("smtp://%s:%d (user %q, from %q)", s.Host, s.Port, s.Username, s.From)
}
