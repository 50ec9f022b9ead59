package authn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// TENANT_ADMIN comes from an API key's role or the JWT role claim; it reads exactly what the
// tenant's auditors read.
func TestTenantAdminRole(t *testing.T) {
	key := newRSAKey(t, "k1")
	jwks := newJWKSServer(t, key)
	cfg := testAuthConfig(jwks.URL)
	cfg.APIKeys = append(cfg.APIKeys,
		config.APIKey{Name: "t1-admin", SHA256: hexSHA256("t1-admin-key-0123456789"), Tenant: "t1", Role: "TENANT_ADMIN"},
		config.APIKey{Name: "t1-auditor", SHA256: hexSHA256("t1-auditor-key-0123456789"), Tenant: "t1", Role: "TENANT_AUDITOR"})
	a := newTestAuthenticator(t, cfg)
	tests := []struct {
		name string
		req  *http.Request
		role auth.Role
	}{
		{"API key role TENANT_ADMIN", bearer("t1-admin-key-0123456789"), auth.RoleTenantAdmin},
		{"API key role TENANT_AUDITOR", bearer("t1-auditor-key-0123456789"), auth.RoleTenantAuditor},
		{"API key without role", bearer("t1-key-0123456789"), auth.RoleTenantAuditor},
		{"JWT role TENANT_ADMIN", bearer(key.sign(t, claims(jwt.MapClaims{"tenant": "t1", "role": "TENANT_ADMIN"}))), auth.RoleTenantAdmin},
		{"JWT without role", bearer(key.sign(t, claims(jwt.MapClaims{"tenant": "t1"}))), auth.RoleTenantAuditor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tt.role || p.Tenant != "t1" || p.IsAdmin() || p.SeesAll() {
				t.Fatalf("principal %+v, want %s of t1", p, tt.role)
			}
			checkTenantScope(t, p)
		})
	}
	// A tenant admin token must still name its tenant.
	if p, err := a.Authenticate(bearer(key.sign(t, claims(jwt.MapClaims{"role": "TENANT_ADMIN"})))); err == nil {
		t.Fatalf("TENANT_ADMIN without tenant accepted as %+v", p)
	}
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	r.Header.Set("X-API-Key", "t1-admin-key-0123456789")
	if p, err := a.Authenticate(r); err != nil || p.Role != auth.RoleTenantAdmin {
		t.Fatalf("X-API-Key: %+v, %v", p, err)
	}
}

func TestTenantKeyRoleChecks(t *testing.T) {
	for _, role := range []string{"PROVIDER_ADMIN", "ADMIN", "tenant_admin"} {
		_, err := authn.NewAuthenticator(context.Background(), config.Auth{APIKeys: []config.APIKey{
			{Name: "k", SHA256: hexSHA256("x"), Tenant: "t1", Role: role}}}, nil, nil)
		if err == nil {
			t.Errorf("tenant key with role %q accepted", role)
		}
	}
}
