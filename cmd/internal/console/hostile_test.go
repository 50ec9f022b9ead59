package console

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/storetest"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
)

// hostileConsole is a console on SQLite that signs in the API key "good".
func hostileConsole(t *testing.T, cfg config.Console) (*Console, http.Handler) {
	t.Helper()
	st := storetest.Open(t, storetest.SQLite(t))
	c, err := New(Options{Store: st, Authority: &fakeAuthority{known: map[string]bool{"apikey:good": true}},
		Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Handler(http.NotFoundHandler())
}

func keySignIn(h http.Handler, addr, key string, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/console/signin/key", strings.NewReader(url.Values{"key": {key}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// An attacker holding an IPv6 /64 (every home line and cloud VM has one) must not get a fresh
// failure budget per address: failed key sign-ins are counted per /64, as /graphql counts them.
func TestHostileKeyThrottleCountsIPv6PerSlash64(t *testing.T) {
	t.Parallel()
	_, h := hostileConsole(t, config.Console{APIKeySignIn: true})
	for i := range keyFailureBurst {
		if code := keySignIn(h, fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1), "bad").StatusCode; code != http.StatusSeeOther {
			t.Fatalf("failure %d: %d, want 303 back to the form", i, code)
		}
	}
	if code := keySignIn(h, "[2001:db8:1:2:ffff::1]:1000", "bad").StatusCode; code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 past the budget: %d, want 429", code)
	}
	if code := keySignIn(h, "[2001:db8:1:3::1]:1000", "bad").StatusCode; code != http.StatusSeeOther {
		t.Errorf("another /64: %d, want 303", code)
	}
}

// Signing in ends the session the browser came with: an id that existed before the sign-in
// (a shared machine's previous person, or one planted in the browser) does not survive it.
func TestHostileSignInEndsThePreviousSession(t *testing.T) {
	t.Parallel()
	_, h := hostileConsole(t, config.Console{APIKeySignIn: true})
	first := keySignIn(h, "192.0.2.1:1", "good").Cookies()
	if len(first) != 1 {
		t.Fatalf("first sign-in cookies %v", first)
	}
	second := keySignIn(h, "192.0.2.1:1", "good", first[0]).Cookies()
	if len(second) != 1 || second[0].Value == first[0].Value {
		t.Fatalf("second sign-in cookies %v: want a new session id", second)
	}
	get := func(c *http.Cookie) int {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/console/live", nil)
		r.AddCookie(c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := get(second[0]); code != http.StatusOK {
		t.Fatalf("the new session: %d, want 200", code)
	}
	if code := get(first[0]); code != http.StatusSeeOther {
		t.Errorf("the session id from before the sign-in: %d, want 303 to the sign-in page", code)
	}
}
