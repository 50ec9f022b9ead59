package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Auth configures how callers authenticate. With neither JWT nor API keys configured, every
// query is refused (401); only --demo runs without auth.
type Auth struct {
	// JWT validates bearer tokens against a JWKS URL.
	JWT *JWT `yaml:"jwt"`
	// APIKeys are static keys for partner integrations, stored only as SHA-256 hashes.
	APIKeys []APIKey `yaml:"apiKeys"`
	// AllowMissing turns an unknown server or organisation in tenants into a logged warning
	// (retried on each refresh) instead of a start-up error.
	AllowMissing bool `yaml:"allowMissing"`
	// TenantRefresh is how often organisation names in tenants are re-resolved (default 5m).
	TenantRefresh time.Duration `yaml:"tenantRefresh"`
}

// JWT configures bearer-token validation (RS256/ES256 only).
type JWT struct {
	JWKSURL     string        `yaml:"jwksURL"`
	Issuer      string        `yaml:"issuer"`
	Audience    string        `yaml:"audience"`
	ClockSkew   time.Duration `yaml:"clockSkew"`   // default 30s
	TenantClaim string        `yaml:"tenantClaim"` // default "tenant"
	RoleClaim   string        `yaml:"roleClaim"`   // default "role"
}

// APIKey is one partner key. A key with a tenant is a TENANT_AUDITOR of it, or with role
// TENANT_ADMIN its admin (who may also manage its watch rules), or with role RESTORE_OPERATOR
// its restore operator (who may start, browse and stop restore sessions through the gateway);
// otherwise role must be PROVIDER_ADMIN.
type APIKey struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	Role   string `yaml:"role"`
	Tenant string `yaml:"tenant"`

	// AllowRestoreToOriginal lets this key restore to the original location, and approve
	// another person's restore to the original location (an API key has no auth_time to be
	// fresh by; the flag is its step-up, for asking and approving alike). Default false.
	AllowRestoreToOriginal bool `yaml:"allowRestoreToOriginal"`

	// Person is who holds the key (optional). Keys naming the same person are one person for
	// the restore front door: its record (Actor.Person), its per-person limits, download links
	// and approvals (one person's second key cannot approve their own request). Use the
	// person's JWT sub when they also sign in with a token, so their sign-in and their keys are
	// one person too. Without it the key is its own person, "apikey:<name>". One person's keys
	// are all of one tenant (or all provider keys).
	Person string `yaml:"person"`
}

// maxPerson bounds auth.apiKeys[].person (it is recorded with every restore step).
const maxPerson = 256

// Tenant is a customer and the organisations it may read.
type Tenant struct {
	ID            string      `yaml:"id"`
	Name          string      `yaml:"name"`
	Organizations []TenantOrg `yaml:"organizations"`
	// EmailDomains are the domains the tenant's report schedules may email (see email).
	EmailDomains []string `yaml:"emailDomains"`

	// Restore is the tenant's restore rules (approval, recipients); see restore_actions.go.
	Restore TenantRestore `yaml:"restore"`
}

// TenantOrg names one organisation on one server by upstream id or by name.
type TenantOrg struct {
	Server string `yaml:"server"`
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
}

// validateAuth checks the auth and tenants sections against the servers, in this order:
// tenants, auth.jwt, auth.apiKeys (the first broken rule is reported), and fills in the
// defaults (JWT clock skew and claims, tenantRefresh).
func (c *Config) validateAuth() error {
	tenants, err := c.validateTenants()
	if err != nil {
		return err
	}
	if j := c.Auth.JWT; j != nil {
		if err := j.validate(); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	persons := map[string]int{} // person -> index of the first key naming it
	for i, k := range c.Auth.APIKeys {
		if k.Name == "" || names[k.Name] {
			return fmt.Errorf("auth.apiKeys[%d]: name missing or duplicate", i)
		}
		names[k.Name] = true
		if err := k.validate(i, tenants); err != nil {
			return err
		}
		if k.Person == "" {
			continue
		}
		if j, ok := persons[k.Person]; ok && c.Auth.APIKeys[j].Tenant != k.Tenant {
			o := c.Auth.APIKeys[j]
			return fmt.Errorf("auth.apiKeys[%d] (%s): person %q also holds key %s of %s: one person's keys are all of one tenant",
				i, k.Name, k.Person, o.Name, tenantName(o.Tenant))
		} else if !ok {
			persons[k.Person] = i
		}
	}
	if c.Auth.TenantRefresh == 0 {
		c.Auth.TenantRefresh = 5 * time.Minute
	}
	return nil
}

// validateTenants checks the tenants section: unique ids, organisations on configured
// servers (unless auth.allowMissing), each named by exactly one of id or name. It returns the
// tenant ids.
func (c *Config) validateTenants() (map[string]bool, error) {
	servers := map[string]bool{}
	for _, s := range c.Servers {
		servers[s.Name] = true
	}
	tenants := map[string]bool{}
	for i, t := range c.Tenants {
		if t.ID == "" {
			return nil, fmt.Errorf("tenants[%d]: id is required", i)
		}
		if tenants[t.ID] {
			return nil, fmt.Errorf("tenants[%d]: duplicate id %q", i, t.ID)
		}
		tenants[t.ID] = true
		if err := checkDomains(fmt.Sprintf("tenants[%d].emailDomains", i), c.Tenants[i].EmailDomains); err != nil {
			return nil, err
		}
		for j, o := range t.Organizations {
			if !servers[o.Server] && !c.Auth.AllowMissing {
				return nil, fmt.Errorf("tenants[%d].organizations[%d]: unknown server %q", i, j, o.Server)
			}
			if (o.ID == "") == (o.Name == "") {
				return nil, fmt.Errorf("tenants[%d].organizations[%d]: give exactly one of id or name", i, j)
			}
		}
	}
	return tenants, nil
}

// validate checks auth.jwt (an http(s) JWKS URL, issuer and audience) and, when it is valid,
// fills in the defaults: clock skew 30s, claims "tenant" and "role".
func (j *JWT) validate() error {
	if !strings.HasPrefix(j.JWKSURL, "https://") && !strings.HasPrefix(j.JWKSURL, "http://") {
		return errors.New("auth.jwt.jwksURL must be an http(s) URL")
	}
	if j.Issuer == "" || j.Audience == "" {
		return errors.New("auth.jwt: issuer and audience are required")
	}
	if j.ClockSkew == 0 {
		j.ClockSkew = 30 * time.Second
	}
	if j.TenantClaim == "" {
		j.TenantClaim = "tenant"
	}
	if j.RoleClaim == "" {
		j.RoleClaim = "role"
	}
	return nil
}

// validate checks auth.apiKeys[i]'s hash and role against the tenant ids: a SHA-256 in hex; a
// key with a (known) tenant has role TENANT_AUDITOR (default), TENANT_ADMIN or RESTORE_OPERATOR, any other is a
// PROVIDER_ADMIN.
func (k APIKey) validate(i int, tenants map[string]bool) error {
	if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("auth.apiKeys[%d] (%s): sha256 must be 64 hex digits (the SHA-256 of the key, never the key)", i, k.Name)
	}
	switch {
	case k.Tenant != "":
		if !tenants[k.Tenant] {
			return fmt.Errorf("auth.apiKeys[%d] (%s): unknown tenant %q", i, k.Name, k.Tenant)
		}
		if k.Role != "" && k.Role != "TENANT_AUDITOR" && k.Role != "TENANT_ADMIN" && k.Role != "RESTORE_OPERATOR" {
			return fmt.Errorf("auth.apiKeys[%d] (%s): a key with a tenant has role TENANT_AUDITOR (default), TENANT_ADMIN or RESTORE_OPERATOR", i, k.Name)
		}
	case k.Role != "PROVIDER_ADMIN":
		return fmt.Errorf("auth.apiKeys[%d] (%s): give a tenant, or role PROVIDER_ADMIN", i, k.Name)
	}
	return k.validatePerson(i)
}

// validatePerson checks auth.apiKeys[i].person: absent, or printable text of at most 256
// bytes without surrounding spaces that does not read as another key's own person
// ("apikey:<name>").
func (k APIKey) validatePerson(i int) error {
	if k.Person == "" {
		return nil
	}
	switch {
	case len(k.Person) > maxPerson:
		return fmt.Errorf("auth.apiKeys[%d] (%s): person is longer than %d bytes", i, k.Name, maxPerson)
	case strings.TrimSpace(k.Person) != k.Person:
		return fmt.Errorf("auth.apiKeys[%d] (%s): person %q has surrounding spaces", i, k.Name, k.Person)
	case strings.HasPrefix(k.Person, "apikey:"):
		return fmt.Errorf("auth.apiKeys[%d] (%s): person %q reads as a key's own identity (apikey:<name>): name the person instead", i, k.Name, k.Person)
	case !utf8.ValidString(k.Person) || strings.IndexFunc(k.Person, unicode.IsControl) >= 0:
		return fmt.Errorf("auth.apiKeys[%d] (%s): person must be printable UTF-8 text", i, k.Name)
	}
	return nil
}

// tenantName says a key's tenant in an error ("tenant t1", or "the provider").
func tenantName(t string) string {
	if t == "" {
		return "the provider (no tenant)"
	}
	return fmt.Sprintf("tenant %q", t)
}
