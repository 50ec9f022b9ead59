package console

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// TestMain stops the throwaway PostgreSQL cluster (pgtest) when the tests end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fakeAuthority knows the subjects in known; the rest are gone.
type fakeAuthority struct{ known map[string]bool }

func (f *fakeAuthority) APIKey(key string) (*auth.Principal, error) {
	if !f.known["apikey:"+key] {
		return nil, errors.New("unknown key")
	}
	return auth.NewTenantAuditor("apikey:"+key, "tenant-1", nil), nil
}
func (f *fakeAuthority) Claims(map[string]any) (*auth.Principal, error) { return nil, errors.New("no") }
func (f *fakeAuthority) Current(subject, tenant string, role auth.Role, authTime time.Time) (*auth.Principal, error) {
	if !f.known[subject] {
		return nil, errors.New("gone")
	}
	p := auth.NewTenantAuditor(subject, tenant, nil)
	if strings.HasPrefix(subject, "apikey:") {
		return p.WithCredential(auth.Credential{Kind: auth.CredentialAPIKey}), nil
	}
	return p.WithCredential(auth.Credential{Kind: auth.CredentialJWT, AuthTime: authTime}), nil
}
func (f *fakeAuthority) TenantView(*auth.Principal, string) (*auth.Principal, bool) {
	return nil, false
}
func (f *fakeAuthority) Tenants() []string { return nil }

// Sessions on each engine: created by sign-in, found by their cookie alone (another replica
// reads the same row), ended when they expire, when the configuration no longer knows their
// principal (the row is deleted) and at sign-out.
func TestStoreSessions(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			fa := &fakeAuthority{known: map[string]bool{"apikey:k1": true}}
			newServer := func() *server {
				c, err := New(Options{Store: st, Authority: fa, Config: config.Console{APIKeySignIn: true, SessionTTL: time.Hour},
					Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					t.Fatal(err)
				}
				return &server{Console: c}
			}
			a, b := newServer(), newServer() // two replicas
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/", nil)
			w := httptest.NewRecorder()
			if err := a.createSession(t.Context(), w, r, kindAPIKey, auth.NewTenantAuditor("apikey:k1", "tenant-1", nil)); err != nil {
				t.Fatal(err)
			}
			cookies := w.Result().Cookies()
			if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode {
				t.Fatalf("cookies %+v", cookies)
			}
			withCookie := func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/", nil)
				r.AddCookie(cookies[0])
				return r
			}
			sess, err := b.loadSession(withCookie())
			if err != nil || sess.principal.Subject != "apikey:k1" || sess.csrf == "" {
				t.Fatalf("the other replica reads %+v, %v", sess, err)
			}
			var n int
			if err := st.QueryRow(t.Context(), `SELECT COUNT(*) FROM console_session WHERE id_hash = ?`, cookies[0].Value).Scan(&n); err != nil || n != 0 {
				t.Errorf("the cookie's secret is stored as is (%d rows, %v)", n, err)
			}
			if _, err := b.loadSession(httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/", nil)); !errors.Is(err, errSignedOut) {
				t.Errorf("no cookie: %v", err)
			}
			now = now.Add(2 * time.Hour)
			if _, err := b.loadSession(withCookie()); !errors.Is(err, errSignedOut) {
				t.Errorf("expired session: %v", err)
			}
			now = now.Add(-2 * time.Hour)
			delete(fa.known, "apikey:k1") // a reload removed the key
			if _, err := b.loadSession(withCookie()); !errors.Is(err, errSignedOut) {
				t.Errorf("a session whose key is gone: %v", err)
			}
			fa.known["apikey:k1"] = true // back again: the session was deleted, not suspended
			if _, err := b.loadSession(withCookie()); !errors.Is(err, errSignedOut) {
				t.Errorf("a deleted session came back: %v", err)
			}
		})
	}
}

// A session keeps its OpenID Connect sign-in's auth_time (on each engine: migration 00023) and
// hands it to Current on every request, so the rebuilt principal's credential can pass the
// step-up check; an API key's session, and an ID token without auth_time, keep none.
func TestStoreSessionKeepsAuthTime(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 58, 30, 123456789, time.UTC)
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := storetest.Open(t, eng.Options(t))
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			fa := &fakeAuthority{known: map[string]bool{"apikey:k1": true, "ann": true}}
			c, err := New(Options{Store: st, Authority: fa, Config: config.Console{APIKeySignIn: true, SessionTTL: time.Hour},
				Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			s := &server{Console: c}
			jwtAt := func(t time.Time) auth.Credential { return auth.Credential{Kind: auth.CredentialJWT, AuthTime: t} }
			for _, tc := range []struct {
				name string
				kind string
				p    *auth.Principal
				want auth.Credential
			}{
				{"oidc with auth_time", kindOIDC, auth.NewTenantAuditor("ann", "tenant-1", nil).WithCredential(jwtAt(at)), jwtAt(at)},
				{"oidc without auth_time", kindOIDC, auth.NewTenantAuditor("ann", "tenant-1", nil).WithCredential(jwtAt(time.Time{})), jwtAt(time.Time{})},
				{"api key", kindAPIKey, auth.NewTenantAuditor("apikey:k1", "tenant-1", nil).WithCredential(auth.Credential{Kind: auth.CredentialAPIKey}),
					auth.Credential{Kind: auth.CredentialAPIKey}},
			} {
				r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/", nil)
				w := httptest.NewRecorder()
				if err := s.createSession(t.Context(), w, r, tc.kind, tc.p); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				r = httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/", nil)
				r.AddCookie(w.Result().Cookies()[0])
				sess, err := s.loadSession(r)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got := sess.principal.Credential(); !got.AuthTime.Equal(tc.want.AuthTime) || got.Kind != tc.want.Kind {
					t.Errorf("%s: the rebuilt principal's credential is %+v, want %+v", tc.name, got, tc.want)
				}
			}
		})
	}
}

// Failed API-key sign-ins are throttled per address (429 past the budget); a valid key still
// signs in from that address, and another address is not held back.
func TestKeySignInThrottlesFailures(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.SQLite(t))
	c, err := New(Options{Store: st, Authority: &fakeAuthority{known: map[string]bool{"apikey:good": true}},
		Config: config.Console{APIKeySignIn: true}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler(http.NotFoundHandler())
	post := func(addr, key string) int {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/console/signin/key", strings.NewReader(url.Values{"key": {key}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := range keyFailureBurst {
		if code := post("192.0.2.1:1000", "bad"); code != http.StatusSeeOther {
			t.Fatalf("failure %d: %d, want 303 back to the form", i, code)
		}
	}
	if code := post("192.0.2.1:1001", "bad"); code != http.StatusTooManyRequests {
		t.Errorf("past the budget: %d, want 429", code)
	}
	if code := post("192.0.2.1:1002", "good"); code != http.StatusSeeOther {
		t.Errorf("a valid key from the throttled address: %d, want signed in (303)", code)
	}
	if code := post("198.51.100.1:1000", "bad"); code != http.StatusSeeOther {
		t.Errorf("another address: %d, want 303", code)
	}
}
