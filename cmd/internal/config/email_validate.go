package config

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// validateEmail applies the defaults of email.smtp, checks it and reads its password.
func (c *Config) validateEmail(lookupEnv func(string) (string, bool)) error {
	if err := checkDomains("email.providerDomains", c.Email.ProviderDomains); err != nil {
		return err
	}
	s := &c.Email.SMTP
	if !s.Enabled() {
		if s.Username != "" || s.PasswordEnv != "" || s.From != "" || s.Port != 0 {
			return errors.New("email.smtp.host is required when email.smtp is configured")
		}
		return nil
	}
	if strings.ContainsAny(s.Host, " /:@") && !strings.HasPrefix(s.Host, "[") {
		return fmt.Errorf("email.smtp.host %q: a host name or address, without scheme or port", s.Host)
	}
	if s.Port == 0 {
		s.Port = DefaultSMTPPort
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("email.smtp.port %d: 1 to 65535", s.Port)
	}
	if s.From == "" {
		return errors.New("email.smtp.from is required (the sender address)")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("email.smtp.from %q: not an address: %w", s.From, err)
	}
	switch {
	case s.Username == "" && s.PasswordEnv != "":
		return errors.New("email.smtp.passwordEnv needs email.smtp.username")
	case s.Username != "" && s.PasswordEnv == "":
		return errors.New("email.smtp.passwordEnv: name the environment variable holding the SMTP password (never the password itself)")
	case s.Username != "":
		v, ok := lookupEnv(s.PasswordEnv)
		if !ok || v == "" {
			return fmt.Errorf("email.smtp.passwordEnv: environment variable %s is not set (or empty)", s.PasswordEnv)
		}
		s.password = v
	}
	return nil
}

// checkDomains checks a list of email domains (example.com, no @, no scheme) and lower-cases
// them in place.
func checkDomains(key string, domains []string) error {
	for i, d := range domains {
		d = strings.ToLower(strings.TrimSpace(d))
		labels := strings.Split(d, ".")
		ok := len(d) <= 253 && len(labels) >= 2
		for _, l := range labels {
			ok = ok && l != "" && len(l) <= 63 && !strings.HasPrefix(l, "-") && !strings.HasSuffix(l, "-") &&
				strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		}
		if !ok {
			return fmt.Errorf("%s[%d] %q: a domain name such as example.com (no @, scheme or wildcard)", key, i, domains[i])
		}
		domains[i] = d
	}
	return nil
}
