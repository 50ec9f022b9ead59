package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/httpapi"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Guessing keys is throttled per client address: after the burst of failures, that address
// gets 429 RATE_LIMITED (even with a good key) while other addresses are unaffected.
func TestFailedAuthenticationIsThrottled(t *testing.T) {
	h := stubHandler(t, httpapi.Options{
		Limits: config.Limits{AuthFailures: config.AuthFailures{PerMinute: 1, Burst: 3}},
		Authenticate: func(r *http.Request) (*auth.Principal, error) {
			if r.Header.Get("Authorization") == "Bearer good" {
				return auth.NewAdmin("ops"), nil
			}
			return nil, errors.New("unknown API key")
		},
	})
	do := func(addr, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		req.RemoteAddr = addr + ":40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("192.0.2.1", "good"); rec.Code != http.StatusOK {
		t.Fatalf("good key = %d", rec.Code)
	}
	for i := range 3 {
		if rec := do("192.0.2.1", "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i, rec.Code)
		}
	}
	rec := do("192.0.2.1", "good")
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "RATE_LIMITED") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("after the burst of failures: %d %s, want 429 RATE_LIMITED with Retry-After", rec.Code, rec.Body)
	}
	if rec := do("198.51.100.7", "good"); rec.Code != http.StatusOK {
		t.Errorf("another address = %d, want 200", rec.Code)
	}
}
