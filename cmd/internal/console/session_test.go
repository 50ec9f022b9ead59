package console

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
func (f *fakeAuthority) Current(subject, tenant string, role auth.Role) (*auth.Principal, error) {
	if !f.known[subject] {
		return nil, errors.New("gone")
	}
	return auth.NewTenantAuditor(subject, tenant, nil), nil
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
