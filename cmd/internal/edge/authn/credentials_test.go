package authn_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"
)

// Issue 20 L2: one credential per request. X-API-Key silently overrode an invalid
// Authorization; now two credentials (both headers, or one header twice) are refused with
// ErrAmbiguousCredentials whatever they hold, and one credential alone is read as before.
func TestOneCredentialPerRequest(t *testing.T) {
	t.Parallel()
	a := newTestAuthenticator(t, testAuthConfig(""))
	const admin, tenant = "admin-key-0123456789", "t1-key-0123456789"
	cases := []struct {
		name    string
		headers [][2]string
		want    error  // nil: accepted as subject
		subject string // when accepted
	}{
		{"invalid Authorization, valid X-API-Key", [][2]string{{"Authorization", "Bearer not-a-key"}, {"X-API-Key", admin}}, authn.ErrAmbiguousCredentials, ""},
		{"valid Authorization, invalid X-API-Key", [][2]string{{"Authorization", "Bearer " + admin}, {"X-API-Key", "nope"}}, authn.ErrAmbiguousCredentials, ""},
		{"the same key in both", [][2]string{{"Authorization", "Bearer " + admin}, {"X-API-Key", admin}}, authn.ErrAmbiguousCredentials, ""},
		{"Basic Authorization, valid X-API-Key", [][2]string{{"Authorization", "Basic eDp5"}, {"X-API-Key", admin}}, authn.ErrAmbiguousCredentials, ""},
		{"Authorization twice", [][2]string{{"Authorization", "Bearer " + tenant}, {"Authorization", "Bearer " + admin}}, authn.ErrAmbiguousCredentials, ""},
		{"X-API-Key twice", [][2]string{{"X-API-Key", tenant}, {"X-Api-Key", admin}}, authn.ErrAmbiguousCredentials, ""},
		{"Authorization alone", [][2]string{{"Authorization", "Bearer " + tenant}}, nil, "apikey:partner-t1"},
		{"X-API-Key alone", [][2]string{{"X-API-Key", tenant}}, nil, "apikey:partner-t1"},
		{"blank X-API-Key is no credential", [][2]string{{"X-API-Key", "  "}, {"Authorization", "Bearer " + tenant}}, nil, "apikey:partner-t1"},
		{"invalid Authorization alone", [][2]string{{"Authorization", "Bearer not-a-key"}}, authn.ErrBadAPIKey, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			for _, h := range c.headers {
				r.Header.Add(h[0], h[1])
			}
			p, err := a.Authenticate(r)
			switch {
			case c.want != nil && (p != nil || !errors.Is(err, c.want)):
				t.Errorf("Authenticate = %+v, %v; want refused with %v", p, err, c.want)
			case c.want == nil && (err != nil || p == nil || p.Subject != c.subject):
				t.Errorf("Authenticate = %+v, %v; want %s", p, err, c.subject)
			}
		})
	}
}
