package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Console configures the auditor's console at /console/ (cmd/internal/console): sign-in with
// OpenID Connect against the issuer auth.jwt trusts, and, where allowed, with an API key. The
// console keeps its sessions in the store, so it needs the restore watch (watch.enabled).
// With neither oidc nor apiKeySignIn the console is off (/console/ answers 404).
type Console struct {
	// OIDC signs people in with the authorization code flow and PKCE.
	OIDC *ConsoleOIDC `yaml:"oidc"`
	// APIKeySignIn offers a form that signs in with one of auth.apiKeys (--demo turns it on).
	// The key is checked like a request's, then forgotten: the session keeps the key's name.
	APIKeySignIn bool `yaml:"apiKeySignIn"`
	// SessionTTL is how long a console session lasts from sign-in (default 8h, at most 720h).
	SessionTTL time.Duration `yaml:"sessionTTL"`
}

// ConsoleOIDC is the console's OpenID Connect client at auth.jwt.issuer.
type ConsoleOIDC struct {
	// ClientID is the console's client id at the issuer.
	ClientID string `yaml:"clientId"`
	// ClientSecretEnv names the environment variable holding the client secret; empty for a
	// public client (PKCE alone).
	ClientSecretEnv string `yaml:"clientSecretEnv"`
	// RedirectURL is the callback registered at the issuer: the gateway's own
	// https://host/console/auth/callback (http only on loopback).
	RedirectURL string `yaml:"redirectURL"`

	clientSecret string
}

// ClientSecret is the secret read from ClientSecretEnv at load ("" for a public client).
func (o ConsoleOIDC) ClientSecret() string { return o.clientSecret }

// WithClientSecret returns o holding secret (tests and programs that build a Config in code).
func (o ConsoleOIDC) WithClientSecret(secret string) ConsoleOIDC {
	o.clientSecret = secret
	return o
}

// ConsoleCallbackPath is where the issuer sends the browser back.
const ConsoleCallbackPath = "/console/auth/callback"

// Console defaults and bounds.
const (
	DefaultConsoleSessionTTL = 8 * time.Hour
	maxConsoleSessionTTL     = 720 * time.Hour
)

// Enabled reports whether the console signs anybody in.
func (c Console) Enabled() bool { return c.OIDC != nil || c.APIKeySignIn }

// WithDefaults returns c with the session lifetime filled in.
func (c Console) WithDefaults() Console {
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultConsoleSessionTTL
	}
	return c
}

// validateConsole checks the console section against auth and the watch, reading the client
// secret from the environment.
func (c *Config) validateConsole(lookupEnv func(string) (string, bool)) error {
	con := &c.Console
	switch {
	case !con.Enabled():
		return nil
	case con.SessionTTL < 0 || con.SessionTTL > maxConsoleSessionTTL:
		return fmt.Errorf("console.sessionTTL %s: want 0 (default 8h) up to %s", con.SessionTTL, maxConsoleSessionTTL)
	case !c.Watch.Enabled:
		return errors.New("console: the console keeps its sessions in the store and reads the restore watch's archive: set watch.enabled: true")
	}
	if con.APIKeySignIn && len(c.Auth.APIKeys) == 0 {
		return errors.New("console.apiKeySignIn: no auth.apiKeys to sign in with")
	}
	o := con.OIDC
	if o == nil {
		return nil
	}
	if c.Auth.JWT == nil || c.Auth.JWT.Issuer == "" {
		return errors.New("console.oidc: sign-in uses the issuer the gateway trusts for JWTs: set auth.jwt.issuer")
	}
	if strings.TrimSpace(o.ClientID) == "" {
		return errors.New("console.oidc.clientId is required")
	}
	u, err := url.Parse(o.RedirectURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("console.oidc.redirectURL %q: want https://<gateway>%s", o.RedirectURL, ConsoleCallbackPath)
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return fmt.Errorf("console.oidc.redirectURL %q: http only on loopback (127.0.0.1, ::1, localhost); use https", o.RedirectURL)
	case u.Path != ConsoleCallbackPath || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("console.oidc.redirectURL %q: the path must be %s (no query)", o.RedirectURL, ConsoleCallbackPath)
	}
	if o.ClientSecretEnv != "" {
		v, ok := lookupEnv(o.ClientSecretEnv)
		if !ok || v == "" {
			return fmt.Errorf("console.oidc.clientSecretEnv: environment variable %s is not set (or empty)", o.ClientSecretEnv)
		}
		o.clientSecret = v
	}
	return nil
}

func loopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}
