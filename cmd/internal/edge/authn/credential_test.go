package authn_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// The principal says how it authenticated, for the restore step-up: a JWT's auth_time (zero
// when absent or not a number), an API key's allowRestoreToOriginal.
func TestPrincipalCredential(t *testing.T) {
	t.Parallel()
	k := newRSAKey(t, "k1")
	srv := newJWKSServer(t, k)
	cfg := testAuthConfig(srv.URL)
	cfg.APIKeys = append(cfg.APIKeys,
		config.APIKey{Name: "restorer", SHA256: hexSHA256("restorer-key-0123456789"), Tenant: "t1", Role: "TENANT_ADMIN", AllowRestoreToOriginal: true},
		config.APIKey{Name: "ops-restorer", SHA256: hexSHA256("ops-restorer-key-0123"), Role: "PROVIDER_ADMIN", AllowRestoreToOriginal: true})
	a := newTestAuthenticator(t, cfg)
	authAt := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	key := func(k string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("X-API-Key", k)
		return r
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		want auth.Credential
	}{
		{"JWT with auth_time", bearer(k.sign(t, claims(jwt.MapClaims{"tenant": "t1", "auth_time": authAt.Unix()}))),
			auth.Credential{Kind: auth.CredentialJWT, AuthTime: authAt.UTC()}},
		{"JWT without auth_time", bearer(k.sign(t, claims(jwt.MapClaims{"tenant": "t1"}))), auth.Credential{Kind: auth.CredentialJWT}},
		{"JWT with a string auth_time", bearer(k.sign(t, claims(jwt.MapClaims{"tenant": "t1", "auth_time": "now"}))), auth.Credential{Kind: auth.CredentialJWT}},
		{"admin JWT", bearer(k.sign(t, claims(jwt.MapClaims{"role": "PROVIDER_ADMIN", "auth_time": authAt.Unix()}))),
			auth.Credential{Kind: auth.CredentialJWT, AuthTime: authAt.UTC()}},
		{"key without the flag", key("t1-key-0123456789"), auth.Credential{Kind: auth.CredentialAPIKey}},
		{"key with the flag", key("restorer-key-0123456789"), auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}},
		{"admin key with the flag", key("ops-restorer-key-0123"), auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}},
	} {
		p, err := a.Authenticate(tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := p.Credential(); got != tc.want {
			t.Errorf("%s: credential %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// A console session's principal, rebuilt by Current: an API key's flag as configured now
	// (the session's auth_time ignored), a JWT person's with the auth_time the session kept
	// (none: never fresh).
	for _, tc := range []struct {
		subject, tenant string
		role            auth.Role
		authTime        time.Time
		want            auth.Credential
	}{
		{"apikey:restorer", "t1", auth.RoleTenantAdmin, authAt, auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}},
		{"apikey:ops-restorer", "", auth.RoleProviderAdmin, time.Time{}, auth.Credential{Kind: auth.CredentialAPIKey, AllowRestoreToOriginal: true}},
		{"apikey:partner-t1", "t1", auth.RoleTenantAuditor, authAt, auth.Credential{Kind: auth.CredentialAPIKey}},
		{"ann", "t1", auth.RoleTenantAdmin, time.Time{}, auth.Credential{Kind: auth.CredentialJWT}},
		{"ann", "t1", auth.RoleTenantAdmin, authAt, auth.Credential{Kind: auth.CredentialJWT, AuthTime: authAt}},
		{"ops", "", auth.RoleProviderAdmin, authAt, auth.Credential{Kind: auth.CredentialJWT, AuthTime: authAt}},
	} {
		p, err := a.Current(tc.subject, tc.tenant, tc.role, tc.authTime)
		if err != nil {
			t.Fatalf("Current(%s): %v", tc.subject, err)
		}
		if got := p.Credential(); got != tc.want {
			t.Errorf("Current(%s): credential %+v, want %+v", tc.subject, got, tc.want)
		}
	}
}
