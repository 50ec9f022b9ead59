package authn_test

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// RESTORE_OPERATOR comes from an API key's role or the JWT role claim; it reads what the
// tenant's auditors read. A JWT's name (else email) claim is the principal's display name;
// API keys carry none.
func TestRestoreOperatorRoleAndDisplayName(t *testing.T) {
	key := newRSAKey(t, "k1")
	jwks := newJWKSServer(t, key)
	cfg := testAuthConfig(jwks.URL)
	cfg.APIKeys = append(cfg.APIKeys,
		config.APIKey{Name: "t1-operator", SHA256: hexSHA256("t1-operator-key-0123456789"), Tenant: "t1", Role: "RESTORE_OPERATOR"})
	a := newTestAuthenticator(t, cfg)
	long := strings.Repeat("é", 300) // 600 bytes: cut to 256 on a rune boundary
	tests := []struct {
		name    string
		claims  jwt.MapClaims
		key     string
		role    auth.Role
		display string
	}{
		{name: "API key role RESTORE_OPERATOR", key: "t1-operator-key-0123456789", role: auth.RoleRestoreOperator},
		{name: "JWT operator with name", claims: jwt.MapClaims{"tenant": "t1", "role": "RESTORE_OPERATOR", "name": " Ada Lovelace ", "email": "ada@example.com"},
			role: auth.RoleRestoreOperator, display: "Ada Lovelace"},
		{name: "JWT email only", claims: jwt.MapClaims{"tenant": "t1", "role": "RESTORE_OPERATOR", "email": "ada@example.com"},
			role: auth.RoleRestoreOperator, display: "ada@example.com"},
		{name: "JWT control characters dropped", claims: jwt.MapClaims{"tenant": "t1", "name": "Ada\n\x00Love"},
			role: auth.RoleTenantAuditor, display: "AdaLove"},
		{name: "JWT name not a string", claims: jwt.MapClaims{"tenant": "t1", "name": 42}, role: auth.RoleTenantAuditor},
		{name: "JWT long name cut", claims: jwt.MapClaims{"tenant": "t1", "name": long}, role: auth.RoleTenantAuditor,
			display: strings.Repeat("é", 128)},
		{name: "JWT provider admin keeps a name", claims: jwt.MapClaims{"role": "PROVIDER_ADMIN", "name": "Ops"},
			role: auth.RoleProviderAdmin, display: "Ops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bearer(tt.key)
			if tt.claims != nil {
				req = bearer(key.sign(t, claims(tt.claims)))
			}
			p, err := a.Authenticate(req)
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tt.role || p.DisplayName != tt.display {
				t.Fatalf("principal role %s display %q, want %s %q", p.Role, p.DisplayName, tt.role, tt.display)
			}
			if tt.role == auth.RoleRestoreOperator {
				if p.Tenant != "t1" || p.SeesAll() {
					t.Fatalf("operator %+v, want a t1 principal", p)
				}
				checkTenantScope(t, p)
				if !a.Knows(p) {
					t.Fatal("Knows(operator) = false")
				}
			}
		})
	}
	if p, err := a.Authenticate(bearer(key.sign(t, claims(jwt.MapClaims{"role": "RESTORE_OPERATOR"})))); err == nil {
		t.Fatalf("RESTORE_OPERATOR without tenant accepted as %+v", p)
	}
}
