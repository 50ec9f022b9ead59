package authn_test

import (
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// ClaimsPrincipal reads verified ID token claims like a JWT's; Current rebuilds a console
// session's principal with this configuration, refusing what it no longer knows.
func TestConsolePrincipals(t *testing.T) {
	t.Parallel()
	a := newTestAuthenticator(t, testAuthConfig("https://idp.example.net/jwks"))
	claimsTests := []struct {
		name   string
		claims map[string]any
		role   auth.Role
		tenant string
		ok     bool
	}{
		{"tenant admin", map[string]any{"sub": "ann", "tenant": "t1", "role": "TENANT_ADMIN"}, auth.RoleTenantAdmin, "t1", true},
		{"auditor by default", map[string]any{"sub": "bo", "tenant": "t1"}, auth.RoleTenantAuditor, "t1", true},
		{"provider admin", map[string]any{"sub": "ops", "role": "PROVIDER_ADMIN"}, auth.RoleProviderAdmin, "", true},
		{"no sub", map[string]any{"tenant": "t1"}, "", "", false},
		{"unknown tenant", map[string]any{"sub": "cy", "tenant": "nope"}, "", "", false},
		{"sub posing as an API key", map[string]any{"sub": "apikey:ops", "role": "PROVIDER_ADMIN"}, "", "", false},
	}
	for _, tt := range claimsTests {
		p, err := a.ClaimsPrincipal(tt.claims)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && (p.Role != tt.role || p.Tenant != tt.tenant) {
			t.Errorf("%s: principal %+v", tt.name, p)
		}
	}
	// The ID token's auth_time (a JSON number, as go-oidc decodes it) rides on the principal's
	// credential: the console keeps it with the session.
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		claims map[string]any
		want   auth.Credential
	}{
		{"with auth_time", map[string]any{"sub": "ann", "tenant": "t1", "auth_time": float64(at.Unix())},
			auth.Credential{Kind: auth.CredentialJWT, AuthTime: at}},
		{"without auth_time", map[string]any{"sub": "ann", "tenant": "t1"}, auth.Credential{Kind: auth.CredentialJWT}},
	} {
		p, err := a.ClaimsPrincipal(tt.claims)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := p.Credential(); got != tt.want {
			t.Errorf("%s: credential %+v, want %+v", tt.name, got, tt.want)
		}
	}
	currentTests := []struct {
		name, subject, tenant string
		role                  auth.Role
		ok                    bool
	}{
		{"API key still configured", "apikey:partner-t1", "t1", auth.RoleTenantAuditor, true},
		{"API key with another role", "apikey:partner-t1", "t1", auth.RoleTenantAdmin, false},
		{"API key removed", "apikey:gone", "t1", auth.RoleTenantAuditor, false},
		{"admin key", "apikey:ops", "", auth.RoleProviderAdmin, true},
		{"JWT person of a known tenant", "ann", "t1", auth.RoleTenantAdmin, true},
		{"JWT person of a removed tenant", "ann", "nope", auth.RoleTenantAuditor, false},
	}
	for _, tt := range currentTests {
		p, err := a.Current(tt.subject, tt.tenant, tt.role, time.Time{})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && (p.Subject != tt.subject || p.Role != tt.role || p.Tenant != tt.tenant) {
			t.Errorf("%s: principal %+v", tt.name, p)
		}
		if tt.ok && tt.tenant != "" {
			checkTenantScope(t, p)
		}
	}
	noJWT := newTestAuthenticator(t, testAuthConfig(""))
	if _, err := noJWT.ClaimsPrincipal(map[string]any{"sub": "ann", "tenant": "t1"}); err == nil {
		t.Error("claims accepted without auth.jwt")
	}
	if _, err := noJWT.Current("ann", "t1", auth.RoleTenantAuditor, time.Time{}); err == nil {
		t.Error("a JWT person's session kept after auth.jwt was removed")
	}
}
