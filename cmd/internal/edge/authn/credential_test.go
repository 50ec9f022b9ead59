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

// An API key held by a configured person (auth.apiKeys[].person) is that person: two keys of
// one person give one Person(), both when a request presents them and when a console session
// is rebuilt (Current); the subject stays the key's own (apikey:<name>) and the display name
// names the key. A key without a person is its own person, as before.
func TestAPIKeyPerson(t *testing.T) {
	t.Parallel()
	k := newRSAKey(t, "k1")
	cfg := testAuthConfig(newJWKSServer(t, k).URL)
	cfg.APIKeys = append(cfg.APIKeys,
		config.APIKey{Name: "ann-portal", SHA256: hexSHA256("ann-portal-key-0123456"), Tenant: "t1", Role: "TENANT_ADMIN", Person: "ann@t1.example"},
		config.APIKey{Name: "ann-cli", SHA256: hexSHA256("ann-cli-key-0123456789"), Tenant: "t1", Role: "RESTORE_OPERATOR", Person: "ann@t1.example",
			AllowRestoreToOriginal: true},
		config.APIKey{Name: "ops-ann", SHA256: hexSHA256("ops-ann-key-0123456789"), Role: "PROVIDER_ADMIN", Person: "ops-ann"})
	a := newTestAuthenticator(t, cfg)
	for _, tc := range []struct {
		key, subject, tenant string
		role                 auth.Role
		person, display      string
		cred                 auth.Credential
	}{
		{"ann-portal-key-0123456", "apikey:ann-portal", "t1", auth.RoleTenantAdmin, "ann@t1.example", "API key ann-portal",
			auth.Credential{Kind: auth.CredentialAPIKey, Person: "ann@t1.example"}},
		{"ann-cli-key-0123456789", "apikey:ann-cli", "t1", auth.RoleRestoreOperator, "ann@t1.example", "API key ann-cli",
			auth.Credential{Kind: auth.CredentialAPIKey, Person: "ann@t1.example", AllowRestoreToOriginal: true}},
		{"ops-ann-key-0123456789", "apikey:ops-ann", "", auth.RoleProviderAdmin, "ops-ann", "API key ops-ann",
			auth.Credential{Kind: auth.CredentialAPIKey, Person: "ops-ann"}},
		{"t1-key-0123456789", "apikey:partner-t1", "t1", auth.RoleTenantAuditor, "apikey:partner-t1", "", auth.Credential{Kind: auth.CredentialAPIKey}},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("X-API-Key", tc.key)
		p, err := a.Authenticate(r)
		if err != nil {
			t.Fatalf("%s: %v", tc.subject, err)
		}
		q, err := a.Current(tc.subject, tc.tenant, tc.role, time.Time{})
		if err != nil {
			t.Fatalf("Current(%s): %v", tc.subject, err)
		}
		for how, p := range map[string]*auth.Principal{"request": p, "console session": q} {
			if p.Subject != tc.subject || p.Person() != tc.person || p.DisplayName != tc.display || p.Credential() != tc.cred {
				t.Errorf("%s (%s): subject %q person %q display %q credential %+v; want %q %q %q %+v", tc.subject, how,
					p.Subject, p.Person(), p.DisplayName, p.Credential(), tc.subject, tc.person, tc.display, tc.cred)
			}
		}
	}
	// A JWT's person is its subject.
	p, err := a.Authenticate(bearer(k.sign(t, claims(jwt.MapClaims{"tenant": "t1"}))))
	if err != nil || p.Person() != p.Subject || p.Person() == "" {
		t.Fatalf("JWT person %q subject %q: %v", p.Person(), p.Subject, err)
	}
}
